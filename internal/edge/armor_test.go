package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"meridian/internal/geo"
	"meridian/internal/observe"
)

// TestSecurityPolicyAtTheEdge: a backend service's security policy decides before the
// cache and before the origin: an expression rule refuses /admin/ with 403 and the
// origin never sees it; a source-range rule refuses one client with 404, even for
// what the cache holds; a preview rule blocks nothing and is logged; a throttle of 10
// a minute per address lets 10 of 25 quick requests through and answers 429 to the
// rest, while another address is unaffected. Request logs and metrics say which rule
// decided.
func TestSecurityPolicyAtTheEdge(t *testing.T) {
	metrics := observe.NewMetrics()
	regions, err := geo.ParseClientRegions(strings.NewReader("127.0.0.9,AU\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, func(c *Config) { c.Metrics, c.ClientRegions = metrics, regions })
	var mu sync.Mutex
	seen := map[string]int{}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=300")
		io.WriteString(w, "content of "+r.URL.Path)
	}))
	defer origin.Close()
	originSaw := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[path]
	}
	httpHarness(t, h, origin, map[string]any{"enableCDN": true, "logConfig": map[string]any{"enable": true}},
		map[string]any{"defaultService": "global/backendServices/web"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]

	h.call("POST", "global/securityPolicies", map[string]any{"name": "edge-policy", "rules": []any{
		map[string]any{"priority": 900, "action": "deny(403)", "preview": true,
			"match": map[string]any{"versionedExpr": "SRC_IPS_V1", "config": map[string]any{"srcIpRanges": []string{"127.0.0.4"}}}},
		map[string]any{"priority": 1000, "action": "deny(403)",
			"match": map[string]any{"expr": map[string]any{"expression": "request.path.startsWith('/admin/')"}}},
		map[string]any{"priority": 1100, "action": "deny(404)",
			"match": map[string]any{"versionedExpr": "SRC_IPS_V1", "config": map[string]any{"srcIpRanges": []string{"127.0.0.3/32"}}}},
		map[string]any{"priority": 1150, "action": "deny(403)",
			"match": map[string]any{"expr": map[string]any{"expression": "origin.region_code == 'AU'"}}},
		map[string]any{"priority": 1200, "action": "throttle",
			"match":            map[string]any{"expr": map[string]any{"expression": "request.path.startsWith('/api/')"}},
			"rateLimitOptions": map[string]any{"rateLimitThreshold": map[string]any{"count": 10, "intervalSec": 60}, "conformAction": "allow", "exceedAction": "deny(429)", "enforceOnKey": "IP"}},
	}})
	h.call("POST", "global/backendServices/web/setSecurityPolicy", map[string]any{"securityPolicy": "global/securityPolicies/edge-policy"})
	waitUntil(t, "the policy applied", func() bool {
		for path, svc := range h.edge.snap.Load().Services {
			if strings.HasSuffix(path, "/backendServices/web") {
				return svc.Armor != nil
			}
		}
		return false
	})

	// from returns a getter whose connections come from one loopback address.
	from := func(ip string) func(path string) int {
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			return d.DialContext(ctx, "tcp", addr)
		}}}
		t.Cleanup(client.CloseIdleConnections)
		return func(path string) int {
			t.Helper()
			resp, err := client.Get("http://lb.example.com" + path)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	alice, mallory, previewed, eve, bob := from("127.0.0.2"), from("127.0.0.3"), from("127.0.0.4"), from("127.0.0.5"), from("127.0.0.6")

	// An expression rule: /admin/ refused, the origin never asked, twice (no cache fill).
	for range 2 {
		if code := alice("/admin/users"); code != 403 {
			t.Errorf("/admin/users: %d, want 403", code)
		}
	}
	if n := originSaw("/admin/users"); n != 0 {
		t.Errorf("the origin saw /admin/users %d times", n)
	}
	// Allowed: a miss, then a hit on the fast path.
	if a, b := alice("/page"), alice("/page"); a != 200 || b != 200 || originSaw("/page") != 1 {
		t.Errorf("/page: %d, %d, origin asked %d times", a, b, originSaw("/page"))
	}
	// A source range: refused before the cache, though /page is in it.
	for range 2 {
		if code := mallory("/page"); code != 404 {
			t.Errorf("/page from 127.0.0.3: %d, want 404", code)
		}
	}
	if code := mallory("/other"); code != 404 || originSaw("/other") != 0 {
		t.Errorf("/other from 127.0.0.3: %d, origin asked %d times", code, originSaw("/other"))
	}
	// The country of --client-regions.
	if code := from("127.0.0.9")("/page"); code != 403 {
		t.Errorf("/page from a client in AU: %d, want 403", code)
	}
	// A preview rule blocks nothing.
	if code := previewed("/page"); code != 200 {
		t.Errorf("/page from the previewed address: %d, want 200", code)
	}
	// A throttle of 10 a minute per address.
	passed := 0
	for range 25 {
		switch code := eve("/api/items"); code {
		case 200:
			passed++
		case 429:
		default:
			t.Errorf("throttled request: %d", code)
		}
	}
	if passed != 10 {
		t.Errorf("%d of 25 quick requests passed a throttle of 10 a minute, want 10", passed)
	}
	if code := bob("/api/items"); code != 200 {
		t.Errorf("another address under the throttle: %d, want 200", code)
	}

	logs := h.logs.String()
	lines := func(substrings ...string) int {
		n := 0
	line:
		for _, l := range strings.Split(logs, "\n") {
			for _, s := range substrings {
				if !strings.Contains(l, s) {
					continue line
				}
			}
			n++
		}
		return n
	}
	if n := lines(`/admin/users"`, `"status":403`, `"statusDetails":"denied_by_security_policy"`,
		`"enforcedSecurityPolicy":{"name":"edge-policy","priority":1000,"configuredAction":"DENY","outcome":"DENY"}`); n != 2 {
		t.Errorf("%d log lines of the refused /admin/users, want 2:\n%s", n, logs)
	}
	if n := lines(`"remoteIp":"127.0.0.3"`, `"status":404`, `"priority":1100`); n != 3 {
		t.Errorf("%d log lines of 127.0.0.3's refusals, want 3", n)
	}
	if n := lines(`"remoteIp":"127.0.0.4"`, `"status":200`, `"cacheHit":true`,
		`"enforcedSecurityPolicy":{"name":"edge-policy","priority":2147483647,"configuredAction":"ALLOW","outcome":"ACCEPT"}`,
		`"previewSecurityPolicy":{"name":"edge-policy","priority":900,"configuredAction":"DENY","outcome":"DENY"}`); n != 1 {
		t.Errorf("%d log lines of the previewed hit, want 1:\n%s", n, logs)
	}
	if n := lines(`"remoteIp":"127.0.0.5"`, `"status":429`, `"rateLimitAction":{"key":"127.0.0.5","outcome":"RATE_LIMIT_THRESHOLD_EXCEED"}`); n != 15 {
		t.Errorf("%d log lines of throttled requests, want 15", n)
	}
	if n := lines(`"remoteIp":"127.0.0.5"`, `"status":200`, `"configuredAction":"THROTTLE","outcome":"ACCEPT","rateLimitAction":{"key":"127.0.0.5","outcome":"RATE_LIMIT_THRESHOLD_CONFORM"}`); n != 10 {
		t.Errorf("%d log lines of requests under the throttle, want 10", n)
	}

	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`meridian_security_policy_requests_total{action="DENY",outcome="DENY",policy="edge-policy",preview="false",priority="1000"} 2`,
		`meridian_security_policy_requests_total{action="DENY",outcome="DENY",policy="edge-policy",preview="true",priority="900"} 1`,
		`meridian_security_policy_requests_total{action="THROTTLE",outcome="DENY",policy="edge-policy",preview="false",priority="1200"} 15`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
