package edge

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"meridian/internal/certs"
)

// ACME challenges: an issuer (in an API process) publishes its answers under
// certs.ChallengesPrefix; every edge serves them, HTTP-01 on its plain HTTP listeners
// (/.well-known/acme-challenge/{token}, before any URL map) and TLS-ALPN-01 on its
// HTTPS listeners (a handshake offering only acme-tls/1 gets the challenge
// certificate of its server name), so an ACME server validates the domain whichever
// edge it reaches.

const (
	acmeTLSProto    = "acme-tls/1"
	http01PathStart = "/.well-known/acme-challenge/"
)

// challengeSet is the answers published at one moment; immutable.
type challengeSet struct {
	http01 map[string]string // token → key authorization
	alpn   map[string]string // domain → stored ChallengeCert (JSON)

	mu    sync.Mutex // guards certs
	certs map[string]*tls.Certificate
}

// challengesOf builds the set from the stored answers (keys after ChallengesPrefix).
func challengesOf(stored map[string][]byte) *challengeSet {
	s := &challengeSet{http01: map[string]string{}, alpn: map[string]string{}, certs: map[string]*tls.Certificate{}}
	for k, v := range stored {
		typ, name, ok := strings.Cut(k, "/")
		switch {
		case !ok:
		case typ == certs.ChallengeHTTP01:
			s.http01[name] = string(v)
		case typ == certs.ChallengeTLSALPN01:
			s.alpn[name] = string(v)
		}
	}
	return s
}

// answerHTTP01 answers an HTTP-01 validation request; false when r is not one this
// edge has an answer for.
func (s *challengeSet) answerHTTP01(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.URL.Path, http01PathStart)
	if !ok || s == nil {
		return false
	}
	keyAuth, ok := s.http01[token]
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, keyAuth)
	return true
}

// alpnCertificate is the TLS-ALPN-01 certificate for a handshake that offers only
// acme-tls/1 (RFC 8737), or nil.
func (s *challengeSet) alpnCertificate(hello *tls.ClientHelloInfo) *tls.Certificate {
	if s == nil || !slices.Contains(hello.SupportedProtos, acmeTLSProto) {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.certs[name]; ok {
		return c
	}
	var stored certs.ChallengeCert
	if json.Unmarshal([]byte(s.alpn[name]), &stored) != nil {
		return nil
	}
	kp, err := tls.X509KeyPair([]byte(stored.Cert), []byte(stored.Key))
	if err != nil {
		return nil
	}
	s.certs[name] = &kp
	return &kp
}
