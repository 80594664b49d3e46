package certs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
)

// TestDomainStatuses: a failed order's error becomes GCP's per-domain statuses.
func TestDomainStatuses(t *testing.T) {
	domains := []string{"a.example.com", "b.example.com"}
	prob := func(typ, detail string) error {
		return &acme.ProblemDetails{Type: typ, Detail: detail, HTTPStatus: 400}
	}
	for _, tc := range []struct {
		name string
		err  error
		want map[string]string
	}{
		{"not visible and CAA", fmt.Errorf("resolver: one or more domains had a problem: [a.example.com: %w] [b.example.com: %v]",
			prob(acme.ConnectionErrorType, "dial tcp: connection refused"), prob(acme.CaaErrorType, "CAA record forbids issuance")),
			map[string]string{"a.example.com": domainNotVisible, "b.example.com": domainCAAForbidden}},
		{"unauthorized, one domain", fmt.Errorf("resolver: one or more domains had a problem: [b.example.com: %w]", prob(acme.UnauthorizedErrorType, "wrong key authorization")),
			map[string]string{"a.example.com": "PROVISIONING", "b.example.com": domainNotVisible}},
		{"rate limited", &acme.RateLimitedError{ProblemDetails: &acme.ProblemDetails{Type: acme.RateLimitedErrorType}, RetryAfter: time.Hour},
			map[string]string{"a.example.com": domainRateLimited, "b.example.com": domainRateLimited}},
		{"rejected identifier", &acme.ProblemDetails{Type: acme.RejectedIdentifierErrorType, SubProblems: []acme.SubProblem{{Identifier: acme.Identifier{Type: "dns", Value: "b.example.com"}}}},
			map[string]string{"a.example.com": "PROVISIONING", "b.example.com": domainCAAForbidden}},
		{"server down", errors.New("get directory: connection refused"), map[string]string{"a.example.com": "PROVISIONING", "b.example.com": "PROVISIONING"}},
	} {
		got := domainStatuses(domains, tc.err)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzDomainStatuses: whatever an ACME server's problem says, every domain gets a
// status and nothing panics.
func FuzzDomainStatuses(f *testing.F) {
	f.Add("a.example.com", "resolver: one or more domains had a problem: [a.example.com: urn:ietf:params:acme:error:caa] [")
	f.Add("x", "[x: ] [x: ")
	f.Fuzz(func(t *testing.T, domain, msg string) {
		got := domainStatuses([]string{domain, "other"}, errors.New(msg))
		if len(got) == 0 || got["other"] == "" {
			t.Fatalf("statuses %v", got)
		}
	})
}

// TestRetryAfterDoubles: the wait after failures doubles up to a day.
func TestRetryAfterDoubles(t *testing.T) {
	is := &Issuer{ACME: &ACMEConfig{RetryAfter: time.Minute}}
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 20: 24 * time.Hour} {
		if got := is.retryAfter(n); got != want {
			t.Errorf("after %d failures: %s, want %s", n, got, want)
		}
	}
}
