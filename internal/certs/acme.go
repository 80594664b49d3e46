package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	"github.com/go-acme/lego/v5/registration"

	"meridian/api"
	"meridian/internal/store"
)

// Where ACME's state lives in the store. Challenge answers are under ChallengesPrefix,
// which every edge follows: HTTP-01 tokens at ChallengesPrefix+"http-01/{token}" (the
// key authorization), TLS-ALPN-01 certificates at ChallengesPrefix+"tls-alpn-01/{domain}"
// (a ChallengeCert).
const (
	ChallengesPrefix = "acme/challenges/"
	acmeAccountKey   = "acme/account"
	acmeStatePrefix  = "acme/state/"
)

// Challenge types an ACME issuer can answer.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// ChallengeCert is a stored TLS-ALPN-01 certificate: PEM, as lego makes it.
type ChallengeCert struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// ACMEConfig has the issuer order MANAGED certificates from an ACME server (RFC 8555)
// instead of signing them with the development CA.
type ACMEConfig struct {
	Directory string // the ACME server's directory URL
	// CAFile holds the roots that verify the ACME server's HTTPS; empty means the
	// system's.
	CAFile string
	Email  string // the account's contact; optional
	// Challenges are the types the edges answer, tls-alpn-01 (on the forwarding rules'
	// port 443) and http-01 (on port 80); by default both, and when the server offers
	// both, TLS-ALPN-01 is used.
	Challenges []string
	// RenewBefore renews a certificate this long before it expires (default 30 days).
	RenewBefore time.Duration
	// RetryAfter is the first wait after a failed order, doubling with each failure up
	// to a day (default 1 minute).
	RetryAfter time.Duration
}

const (
	defaultRenewBefore = 30 * 24 * time.Hour
	defaultRetryAfter  = time.Minute
	maxRetryAfter      = 24 * time.Hour
	// challengeTTL bounds how long an answer stays published if its issuer dies.
	challengeTTL = 10 * time.Minute
	// edgesApplyLimit bounds the wait for every edge to serve a new challenge answer
	// before the ACME server is told to validate it.
	edgesApplyLimit = 10 * time.Second
)

// Validate checks the configuration before anything runs.
func (c *ACMEConfig) Validate() error {
	if !strings.HasPrefix(c.Directory, "https://") && !strings.HasPrefix(c.Directory, "http://") {
		return fmt.Errorf("--acme-directory %q: want the ACME server's directory URL", c.Directory)
	}
	for _, ch := range c.Challenges {
		if ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01 {
			return fmt.Errorf("--acme-challenges: %q is not one of %s, %s", ch, ChallengeTLSALPN01, ChallengeHTTP01)
		}
	}
	if c.CAFile != "" {
		if _, err := c.roots(); err != nil {
			return err
		}
	}
	return nil
}

func (c *ACMEConfig) roots() (*x509.CertPool, error) {
	data, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--acme-ca-file %s: no PEM certificate in it", c.CAFile)
	}
	return pool, nil
}

// acmeClient orders certificates through lego with the deployment's account, which
// it keeps in the store (every API process shares it).
type acmeClient struct {
	cfg   ACMEConfig
	store *store.Store
	log   io.Writer

	mu     sync.Mutex
	client *lego.Client
}

// account is the stored ACME account.
type account struct {
	Directory    string                `json:"directory"`
	Email        string                `json:"email,omitempty"`
	KeyPEM       string                `json:"key"`
	Registration *acme.ExtendedAccount `json:"registration,omitempty"`
	key          crypto.Signer
}

func (a *account) GetEmail() string                       { return a.Email }
func (a *account) GetRegistration() *acme.ExtendedAccount { return a.Registration }
func (a *account) GetPrivateKey() crypto.Signer           { return a.key }

func init() {
	// lego logs every step through slog to standard output; the issuer says what matters.
	legolog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// get returns the lego client, registering the account the first time.
func (a *acmeClient) get(ctx context.Context) (*lego.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		return a.client, nil
	}
	acct, err := a.loadAccount(ctx)
	if err != nil {
		return nil, err
	}
	cfg := lego.NewConfig(acct)
	cfg.CADirURL = a.cfg.Directory
	cfg.Certificate.Timeout = 2 * time.Minute
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if a.cfg.CAFile != "" {
		roots, err := a.cfg.roots()
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	cfg.HTTPClient = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	client, err := lego.NewClient(cfg) // reads the directory
	if err != nil {
		return nil, fmt.Errorf("ACME directory %s: %w", a.cfg.Directory, err)
	}
	if acct.Registration == nil {
		if acct.Registration, err = client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
			return nil, fmt.Errorf("ACME account at %s: %w", a.cfg.Directory, err)
		}
		if err := a.saveAccount(ctx, acct); err != nil {
			return nil, err
		}
		fmt.Fprintf(a.log, "certs: ACME account %s registered\n", acct.Registration.Location)
	}
	p := &challengeAnswers{store: a.store, log: a.log}
	challenges := a.cfg.Challenges
	if len(challenges) == 0 {
		challenges = []string{ChallengeTLSALPN01, ChallengeHTTP01}
	}
	for _, ch := range challenges {
		switch ch {
		case ChallengeHTTP01:
			err = client.Challenge.SetHTTP01Provider(http01Answers{p})
		case ChallengeTLSALPN01:
			err = client.Challenge.SetTLSALPN01Provider(tlsALPN01Answers{p})
		}
		if err != nil {
			return nil, err
		}
	}
	a.client = client
	return client, nil
}

// loadAccount reads the deployment's account for this directory, or makes a key for
// a new one.
func (a *acmeClient) loadAccount(ctx context.Context) (*account, error) {
	kv, err := a.store.Get(ctx, acmeAccountKey)
	if err == nil {
		var acct account
		if err := json.Unmarshal(kv.Value, &acct); err != nil {
			return nil, fmt.Errorf("stored ACME account: %w", err)
		}
		if acct.Directory == a.cfg.Directory {
			block, _ := pem.Decode([]byte(acct.KeyPEM))
			if block == nil {
				return nil, errors.New("stored ACME account: no key")
			}
			key, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("stored ACME account: %w", err)
			}
			acct.key = key
			return &acct, nil
		}
		// Another ACME server: a new account replaces the stored one.
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &account{Directory: a.cfg.Directory, Email: a.cfg.Email, KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), key: key}, nil
}

func (a *acmeClient) saveAccount(ctx context.Context, acct *account) error {
	data, err := json.Marshal(acct)
	if err != nil {
		return err
	}
	_, err = a.store.Apply(ctx, store.Change{Puts: map[string][]byte{acmeAccountKey: data}})
	return err
}

// obtain orders a certificate for the domains, or renews prev (its key kept) when set.
func (a *acmeClient) obtain(ctx context.Context, domains []string, prev *api.SslCertificate) (*certificate.Resource, error) {
	client, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.Certificate != "" {
		return client.Certificate.Renew(ctx, certificate.Resource{Domains: domains, Certificate: []byte(prev.Certificate),
			PrivateKey: []byte(prev.PrivateKey), KeyType: certcrypto.EC256}, &certificate.RenewOptions{Bundle: true})
	}
	return client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: domains, Bundle: true, KeyType: certcrypto.EC256})
}

// challengeAnswers publishes answers in the store for every edge to serve, and waits
// until every edge serves them before the ACME server is asked to look.
type challengeAnswers struct {
	store *store.Store
	log   io.Writer
}

func (p *challengeAnswers) publish(ctx context.Context, typ, domain, key string, value []byte) error {
	rev, err := p.store.Apply(ctx, store.Change{Expiring: map[string][]byte{key: value}, TTL: challengeTTL})
	if err != nil {
		return err
	}
	fmt.Fprintf(p.log, "certs: answering the %s challenge for %s\n", typ, domain)
	deadline := time.Now().Add(edgesApplyLimit)
	for {
		ok, err := p.store.AllAcked(ctx, api.InvalidationAcksPrefix, api.EdgeMembersPrefix, rev)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return nil // an edge that lags may fail the validation; the order says so
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *challengeAnswers) withdraw(ctx context.Context, key string) error {
	_, err := p.store.Apply(ctx, store.Change{Deletes: []string{key}})
	return err
}

type http01Answers struct{ *challengeAnswers }

func (h http01Answers) Present(ctx context.Context, domain, token, keyAuth string) error {
	return h.publish(ctx, ChallengeHTTP01, domain, ChallengesPrefix+ChallengeHTTP01+"/"+token, []byte(keyAuth))
}

func (h http01Answers) CleanUp(ctx context.Context, _, token, _ string) error {
	return h.withdraw(ctx, ChallengesPrefix+ChallengeHTTP01+"/"+token)
}

type tlsALPN01Answers struct{ *challengeAnswers }

func (t tlsALPN01Answers) Present(ctx context.Context, domain, _, keyAuth string) error {
	cert, key, err := tlsalpn01.ChallengeBlocks(domain, keyAuth)
	if err != nil {
		return err
	}
	data, err := json.Marshal(ChallengeCert{Cert: string(cert), Key: string(key)})
	if err != nil {
		return err
	}
	return t.publish(ctx, ChallengeTLSALPN01, domain, ChallengesPrefix+ChallengeTLSALPN01+"/"+strings.ToLower(domain), data)
}

func (t tlsALPN01Answers) CleanUp(ctx context.Context, domain, _, _ string) error {
	return t.withdraw(ctx, ChallengesPrefix+ChallengeTLSALPN01+"/"+strings.ToLower(domain))
}

// Managed certificate statuses beyond PROVISIONING and ACTIVE, as GCP names them.
const (
	managedProvisioningFailed = "PROVISIONING_FAILED"
	managedRenewalFailed      = "RENEWAL_FAILED"
	domainNotVisible          = "FAILED_NOT_VISIBLE"
	domainCAAForbidden        = "FAILED_CAA_FORBIDDEN"
	domainCAAChecking         = "FAILED_CAA_CHECKING"
	domainRateLimited         = "FAILED_RATE_LIMITED"
)

// domainStatuses reads a failed order's error as GCP's per-domain statuses: a domain
// the ACME server could not reach or that did not answer as this load balancer
// (connection, DNS, unauthorized, TLS or a wrong response) is FAILED_NOT_VISIBLE; a
// CAA record that forbids the CA, FAILED_CAA_FORBIDDEN; a rate limit,
// FAILED_RATE_LIMITED. A domain the error does not name stays PROVISIONING. lego
// reports per-domain failures as "[domain: problem]" segments of its message, the only
// place it names the domain.
func domainStatuses(domains []string, err error) map[string]string {
	out := map[string]string{}
	for _, d := range domains {
		out[d] = api.ManagedProvisioning
	}
	var rl *acme.RateLimitedError
	if errors.As(err, &rl) {
		for _, d := range domains {
			out[d] = domainRateLimited
		}
		return out
	}
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) && pd.Type == acme.RejectedIdentifierErrorType {
		// The order itself was refused: the subproblems name the identifiers.
		for _, sp := range pd.SubProblems {
			for _, d := range domains {
				if strings.EqualFold(sp.Identifier.Value, d) {
					out[d] = domainCAAForbidden
				}
			}
		}
		return out
	}
	msg := err.Error()
	for _, d := range domains {
		i := strings.Index(msg, "["+d+": ")
		if i < 0 {
			continue
		}
		segment := msg[i:]
		if j := strings.Index(segment, "] ["); j > 0 {
			segment = segment[:j]
		}
		out[d] = statusOfProblem(segment)
	}
	return out
}

// statusOfProblem classifies one domain's problem text by its ACME error type.
func statusOfProblem(text string) string {
	switch {
	case strings.Contains(text, acme.CaaErrorType):
		return domainCAAForbidden
	case strings.Contains(text, acme.RateLimitedErrorType):
		return domainRateLimited
	case strings.Contains(text, acme.DNSErrorType) && strings.Contains(strings.ToLower(text), "caa"):
		return domainCAAChecking
	}
	return domainNotVisible
}
