package certs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"meridian/api"
	"meridian/internal/store"
)

// Issuer provisions MANAGED certificates. It watches the store and, for every MANAGED
// certificate still PROVISIONING, writes the issued certificate and key and sets the
// status to ACTIVE, in a transaction conditioned on the revision it read. It signs
// with the deployment's development CA, or, with ACME set, orders from an ACME server:
// one order at a time per certificate across every API process (an etcd lock),
// failures retried with backoff and shown in GCP's statuses, and certificates renewed
// well before they expire.
type Issuer struct {
	Store *store.Store
	// CA signs; nil means the deployment's shared CA (LoadOrCreateSharedCA), loaded
	// once etcd answers, adopting the CA of LegacyDir if etcd has none yet.
	CA        *DevCA
	LegacyDir string
	// RootFile, when set, receives the CA's root certificate once it is known.
	RootFile string
	// ACME, when set, orders certificates from an ACME server instead.
	ACME *ACMEConfig
	// Now and After are the clock (time.Now and time.After unless a test sets them).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	Log   io.Writer

	acme    *acmeClient
	session *concurrency.Session // holds the per-certificate order locks
}

// Run provisions what is pending, then follows changes until ctx is done.
func (is *Issuer) Run(ctx context.Context) error {
	if is.Now == nil {
		is.Now = time.Now
	}
	if is.After == nil {
		is.After = time.After
	}
	if is.Log == nil {
		is.Log = io.Discard
	}
	if is.ACME != nil {
		is.acme = &acmeClient{cfg: *is.ACME, store: is.Store, log: is.Log}
		defer func() {
			if is.session != nil {
				is.session.Close()
			}
		}()
	}
	for ctx.Err() == nil {
		rev, next, err := int64(0), time.Time{}, is.prepare(ctx)
		if err == nil {
			rev, next, err = is.provisionPending(ctx)
		}
		if err != nil {
			fmt.Fprintf(is.Log, "certs: %v\n", err)
		} else {
			is.waitForCertificateChange(ctx, rev, next)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // no busy loop when etcd is away
		}
	}
	return nil
}

// prepare gets what issuing needs once etcd answers: the shared CA, or the session
// that holds ACME order locks.
func (is *Issuer) prepare(ctx context.Context) error {
	if is.ACME != nil {
		if is.session != nil {
			select {
			case <-is.session.Done(): // its lease expired while etcd was away
				is.session.Close()
				is.session = nil
			default:
			}
		}
		if is.session == nil {
			s, err := concurrency.NewSession(is.Store.Client(), concurrency.WithTTL(30), concurrency.WithContext(ctx))
			if err != nil {
				return err
			}
			is.session = s
		}
		return nil
	}
	return is.loadCA(ctx)
}

// loadCA gets the shared CA the first time etcd answers.
func (is *Issuer) loadCA(ctx context.Context) error {
	if is.CA != nil {
		return nil
	}
	ca, err := LoadOrCreateSharedCA(ctx, is.Store, is.LegacyDir, is.Now())
	if err != nil {
		return err
	}
	if is.RootFile != "" {
		if err := ca.SaveRoot(is.RootFile); err != nil {
			return err
		}
	}
	is.CA = ca
	return nil
}

// waitForCertificateChange returns when a certificate changes after rev, the watch
// fails, ctx is done, or at next (when set).
func (is *Issuer) waitForCertificateChange(ctx context.Context, rev int64, next time.Time) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the watch
	var due <-chan time.Time
	if !next.IsZero() {
		due = is.After(next.Sub(is.Now()))
	}
	watch := is.Store.Watch(wctx, api.ResourcesPrefix, rev+1)
	for {
		select {
		case <-due:
			return
		case b, ok := <-watch:
			if !ok || touchesCertificates(b.Events) {
				return
			}
		}
	}
}

func touchesCertificates(events []store.Event) bool {
	for _, ev := range events {
		if strings.Contains(ev.Key, "/sslCertificates/") {
			return true
		}
	}
	return false
}

// provisionPending issues every MANAGED certificate that is due (PROVISIONING, or with
// ACME, failed and past its backoff, or near its expiry) and returns the revision it
// scanned at and when the next one falls due (zero: only a change will tell).
func (is *Issuer) provisionPending(ctx context.Context) (int64, time.Time, error) {
	kvs, rev, err := is.Store.ListAll(ctx, api.ResourcesPrefix)
	if err != nil {
		return 0, time.Time{}, err
	}
	var next time.Time
	for _, kv := range kvs {
		if !strings.Contains(kv.Key, "/sslCertificates/") {
			continue
		}
		var c api.SslCertificate
		if json.Unmarshal(kv.Value, &c) != nil || c.Type != api.CertManaged || c.Managed == nil {
			continue
		}
		if is.ACME == nil {
			if c.Managed.Status != api.ManagedProvisioning {
				continue
			}
			if err := is.issue(ctx, kv, &c); err != nil {
				fmt.Fprintf(is.Log, "certs: %s: %v\n", c.Name, err)
			} else {
				fmt.Fprintf(is.Log, "certs: issued %s for %s with the development CA\n", c.Name, strings.Join(c.Managed.Domains, ", "))
			}
			continue
		}
		due, err := is.orderIfDue(ctx, kv, &c)
		if err != nil {
			fmt.Fprintf(is.Log, "certs: %s: %v\n", c.Name, err)
		}
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return rev, next, nil
}

func (is *Issuer) issue(ctx context.Context, kv store.KV, c *api.SslCertificate) error {
	chain, key, notAfter, err := is.CA.Issue(c.Managed.Domains, is.Now())
	if err != nil {
		return err
	}
	return is.activate(ctx, kv, c, chain, key, notAfter)
}

// activate writes an issued certificate and marks it and every domain ACTIVE.
func (is *Issuer) activate(ctx context.Context, kv store.KV, c *api.SslCertificate, chain, key string, notAfter time.Time) error {
	c.Certificate, c.PrivateKey = chain, key
	c.ExpireTime = notAfter.UTC().Format(api.TimestampFormat)
	c.Managed.Status = api.ManagedActive
	c.Managed.DomainStatus = map[string]string{}
	for _, d := range c.Managed.Domains {
		c.Managed.DomainStatus[d] = api.ManagedActive
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	// If the certificate changed or went away meanwhile, the next scan sees it.
	_, err = is.Store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: kv.Key, Want: kv.ModRevision}}, Puts: map[string][]byte{kv.Key: data},
		Deletes: []string{acmeStatePrefix + kv.Key}})
	return err
}
