package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TestHitHeadersAgreeAcrossProtocols: a cache hit carries the same header fields
// whether it is served over plain HTTP/1.1 (the fast path's pre-rendered head), TLS
// HTTP/1.1, HTTP/2 or HTTP/3 (the general path), for each route configuration: plain,
// with custom response headers using the CDN's variables, a client TTL and a URL-map
// header action, and with a custom header whose variable varies per request (which the
// fast path leaves to the general handler).
func TestHitHeadersAgreeAcrossProtocols(t *testing.T) {
	t.Parallel() // nothing timed: beside the waiting tests
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	cert, key, pool := selfSigned(t, "a.example.com")
	httpHarness(t, h, origin, map[string]any{"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"}},
		map[string]any{"defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "sproxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "sfr", "IPAddress": "127.0.0.2", "portRange": "443", "target": "global/targetHttpsProxies/sproxy"})
	addrs := h.waitFor("both listeners", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" && a["127.0.0.2:443"] != "" })
	plainAddr, tlsAddr := addrs["127.0.0.1:80"], addrs["127.0.0.2:443"]
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "a.example.com"}
	h1 := &http.Transport{TLSClientConfig: tlsConf, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	h2 := &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}
	h3 := &http3.Transport{TLSClientConfig: tlsConf}
	defer h3.Close()
	clients := []struct {
		name string
		rt   http.RoundTripper
		url  string
		want int // ProtoMajor
	}{
		// A connection of its own for every request: the fast path keeps a connection
		// only until its first request that is not a hit.
		{"plain HTTP/1.1", &http.Transport{DisableKeepAlives: true}, "http://" + plainAddr, 1},
		{"TLS HTTP/1.1", h1, "https://" + tlsAddr, 1},
		{"HTTP/2", h2, "https://" + tlsAddr, 2},
		{"HTTP/3", h3, "https://" + tlsAddr, 3},
	}
	// get asks for path through a client and returns the response's header fields,
	// but those that belong to the connection or the moment.
	get := func(rt http.RoundTripper, url, path string, major int) (http.Header, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+path, nil)
		req.Host = "lb.example.com"
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "body of "+path || resp.ProtoMajor != major {
			return nil, fmt.Errorf("%s %d %q", resp.Proto, resp.StatusCode, body)
		}
		hdr := resp.Header.Clone()
		for _, k := range []string{"Date", "Age", "Alt-Svc", "Connection", "Keep-Alive"} {
			hdr.Del(k)
		}
		// The remaining freshness counts down like Age: a second can pass between clients.
		hdr.Set("Cache-Status", ttlParam.ReplaceAllString(hdr.Get("Cache-Status"), "; ttl=N"))
		return hdr, nil
	}
	render := func(h http.Header) string {
		var lines []string
		for k, vs := range h {
			lines = append(lines, k+": "+strings.Join(vs, ", "))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	check := func(config string) {
		t.Helper()
		path := "/" + strings.ReplaceAll(config, " ", "-")
		if _, err := get(clients[0].rt, clients[0].url, path, 1); err != nil { // the fill
			t.Fatalf("%s: filling: %v", config, err)
		}
		var first string
		for _, c := range clients {
			var hdr http.Header
			var err error
			// A client can have the whole body a moment before the fill is stored.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				hdr, err = get(c.rt, c.url, path, c.want)
				if err != nil || strings.Contains(hdr.Get("Cache-Status"), "; hit") || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("%s over %s: %v", config, c.name, err)
			}
			if !strings.Contains(hdr.Get("Cache-Status"), "; hit") {
				t.Fatalf("%s over %s: not a hit: %v", config, c.name, hdr)
			}
			got := render(hdr)
			if first == "" {
				first = got
			} else if got != first {
				t.Errorf("%s: the hit's header over %s differs from %s's:\n%s\n--- %s:\n%s", config, c.name, clients[0].name, got, clients[0].name, first)
			}
		}
	}
	check("plain")

	bs := h.call("GET", "global/backendServices/web", nil)
	h.call("PATCH", "global/backendServices/web", map[string]any{"fingerprint": bs["fingerprint"],
		"cdnPolicy":             map[string]any{"cacheMode": "CACHE_ALL_STATIC", "clientTtl": 30},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}", "X-Cache-Id: {cdn_cache_id}", "X-Static: yes"}})
	um := h.call("GET", "global/urlMaps/map", nil)
	h.call("PATCH", "global/urlMaps/map", map[string]any{"fingerprint": um["fingerprint"],
		"headerAction": map[string]any{"responseHeadersToAdd": []any{map[string]any{"headerName": "X-Action", "headerValue": "added"}}}})
	waitUntil(t, "the decorations apply", func() bool {
		hdr, err := get(clients[1].rt, clients[1].url, "/probe", 1)
		return err == nil && hdr.Get("X-Action") == "added" && hdr.Get("X-Static") == "yes"
	})
	check("decorated")

	bs = h.call("GET", "global/backendServices/web", nil)
	h.call("PATCH", "global/backendServices/web", map[string]any{"fingerprint": bs["fingerprint"],
		"customResponseHeaders": []string{"X-Origin-Header: {origin_request_header}", "X-Cache-Status: {cdn_cache_status}"}})
	waitUntil(t, "the per-request variable applies", func() bool {
		hdr, err := get(clients[1].rt, clients[1].url, "/probe2", 1)
		return err == nil && hdr.Get("X-Static") == "" && hdr.Get("X-Cache-Status") != ""
	})
	check("per request variable")
}

var ttlParam = regexp.MustCompile(`; ttl=-?[0-9]+`)
