package edge

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSSLPolicyOnTheHandshake: without an SSL policy the edge takes GCP's default
// (COMPATIBLE from TLS 1.0); a RESTRICTED policy with TLS 1.2 minimum, set with
// setSslPolicy, refuses TLS 1.1 and the CBC-SHA1 suites and keeps AEAD suites and TLS
// 1.3; a CUSTOM policy enables exactly its features.
func TestSSLPolicyOnTheHandshake(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.NotFoundHandler())
	defer origin.Close()
	cert, key, _ := selfSigned(t, "a.example.com")
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_FQDN_PORT"})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	addr := h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]

	handshake := func(max uint16, suite uint16) error {
		cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: max}
		if suite != 0 {
			cfg.CipherSuites = []uint16{suite}
		}
		c, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	const (
		cbc  = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
		gcm  = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
		gcm2 = tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	)
	type want struct {
		name   string
		max    uint16
		suite  uint16
		accept bool
	}
	check := func(policy string, cases []want) {
		t.Helper()
		for _, c := range cases {
			if err := handshake(c.max, c.suite); (err == nil) != c.accept {
				t.Errorf("%s: %s: handshake error %v, want accepted %v", policy, c.name, err, c.accept)
			}
		}
	}
	check("no policy", []want{{"TLS 1.1 with CBC-SHA1", tls.VersionTLS11, cbc, true}, {"TLS 1.2 with CBC-SHA1", tls.VersionTLS12, cbc, true}, {"TLS 1.3", tls.VersionTLS13, 0, true}})

	h.call("POST", "global/sslPolicies", map[string]any{"name": "strict", "profile": "RESTRICTED", "minTlsVersion": "TLS_1_2"})
	sp := h.call("GET", "global/sslPolicies/strict", nil)
	if feats, _ := sp["enabledFeatures"].([]any); len(feats) != 6 {
		t.Errorf("RESTRICTED enables %v, want the six ECDHE AEAD suites", sp["enabledFeatures"])
	}
	h.call("POST", "global/targetHttpsProxies/proxy/setSslPolicy", map[string]any{"sslPolicy": "global/sslPolicies/strict"})
	waitUntil(t, "the RESTRICTED policy applies", func() bool { return handshake(tls.VersionTLS11, 0) != nil })
	check("RESTRICTED, TLS 1.2", []want{{"TLS 1.1", tls.VersionTLS11, 0, false}, {"TLS 1.2 with CBC-SHA1", tls.VersionTLS12, cbc, false},
		{"TLS 1.2 with AES-GCM", tls.VersionTLS12, gcm, true}, {"TLS 1.3", tls.VersionTLS13, 0, true}})

	fp := h.call("GET", "global/sslPolicies/strict", nil)["fingerprint"]
	h.call("PATCH", "global/sslPolicies/strict", map[string]any{"fingerprint": fp, "profile": "CUSTOM", "customFeatures": []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}})
	waitUntil(t, "the CUSTOM policy applies", func() bool { return handshake(tls.VersionTLS12, gcm) != nil })
	check("CUSTOM", []want{{"TLS 1.2 with AES-128-GCM", tls.VersionTLS12, gcm, false}, {"TLS 1.2 with AES-256-GCM", tls.VersionTLS12, gcm2, true}})
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
