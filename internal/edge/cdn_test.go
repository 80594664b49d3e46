package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"meridian/internal/observe"
)

// TestCDNThroughEdge: a CDN-enabled backend service is served through the edge's
// cache: a miss then a hit with Age and Cache-Status, one origin request, the custom
// header variables, the request log's cache fields and the Prometheus counters.
func TestCDNThroughEdge(t *testing.T) {
	metrics := observe.NewMetrics()
	h := newHarnessWith(t, func(c *Config) { c.Metrics = metrics; c.Location = "us-central1" })
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		switch r.URL.Path {
		case "/static.css":
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("ETag", `"1"`)
			io.WriteString(w, "body { color: red }")
		default:
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "dynamic")
		}
	}))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{
		"enableCDN":             true,
		"cdnPolicy":             map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}", "X-Cache-Id: {cdn_cache_id}"},
		"logConfig":             map[string]any{"enable": true},
	}, map[string]any{"defaultService": "global/backendServices/web"})

	resp, body := get("/static.css")
	if resp.StatusCode != 200 || body != "body { color: red }" || resp.Header.Get("X-Cache-Status") != "miss" ||
		!strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
		t.Fatalf("miss: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = get("/static.css")
	if resp.StatusCode != 200 || body != "body { color: red }" || resp.Header.Get("X-Cache-Status") != "hit" ||
		resp.Header.Get("Age") == "" || !strings.Contains(resp.Header.Get("Cache-Status"), "; hit") {
		t.Fatalf("hit: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	id := resp.Header.Get("X-Cache-Id")
	if !strings.HasPrefix(resp.Header.Get("Cache-Status"), id+";") || id == "" {
		t.Errorf("cache id %q, Cache-Status %q", id, resp.Header.Get("Cache-Status"))
	}
	// Uncacheable responses go to the origin every time.
	get("/page")
	if resp, _ := get("/page"); resp.Header.Get("X-Cache-Status") != "uncacheable" {
		t.Errorf("uncacheable: %v", resp.Header)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("origin saw %d requests, want 3", n)
	}

	logs := h.logs.String()
	for _, want := range []string{`"cacheHit":true`, `"cacheLookup":true`, `"cacheFillBytes":"19"`, `"statusDetails":"response_from_cache"`, `"statusDetails":"response_sent_by_backend"`, `"cacheId":"` + id + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s:\n%s", want, logs)
		}
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`meridian_cdn_cache_lookups_total{backend_service="web"} 4`,
		`meridian_cdn_cache_hits_total{backend_service="web"} 1`,
		`meridian_cdn_cache_misses_total{backend_service="web"} 3`,
		`meridian_cdn_cache_fill_bytes_total{backend_service="web"} 19`,
		`meridian_cdn_cache_egress_bytes_total{backend_service="web"} 38`,
		`meridian_cdn_uncached_bytes_total{backend_service="web"} 14`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
