package edge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"meridian/api"
	"meridian/internal/cluster"
)

// TestInvalidationAcrossEdges: urlMaps.invalidateCache removes exactly the matching
// entries (a prefix, then a cache tag) from the caches of every edge, a soft rule
// makes them revalidate, and the Operation is DONE only once every live edge has
// applied the rule.
func TestInvalidationAcrossEdges(t *testing.T) {
	h := newHarness(t)
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"1"`)
		if strings.HasPrefix(r.URL.Path, "/img/1") || r.URL.Path == "/tagged" {
			w.Header().Set("Cache-Tag", "hero")
		}
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "content of "+r.URL.Path)
	}))
	defer origin.Close()
	getA := httpHarness(t, h, origin, map[string]any{
		"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}"},
	}, map[string]any{"defaultService": "global/backendServices/web"})
	b := startEdge(t, h.st, Config{PortMap: map[int]int{443: 0, 80: 0}, Log: testLog{t}})
	addrB := b.ListenAddresses()["127.0.0.1:80"] // B reads the configuration before it is ready
	if addrB == "" {
		t.Fatal("edge B does not serve the forwarding rule")
	}
	getB := edgeGetter(t, addrB)
	paths := []string{"/img/1", "/img/2", "/tagged", "/other"}
	expect := func(when string, want map[string]string) {
		t.Helper()
		for name, get := range map[string]func(string) (*http.Response, string){"A": getA, "B": getB} {
			for _, p := range paths {
				resp, body := get(p)
				status := want[p]
				if status == "" {
					status = "hit"
				}
				if got := resp.Header.Get("X-Cache-Status"); resp.StatusCode != 200 || body != "content of "+p || got != status {
					t.Errorf("%s, edge %s, %s: %d %q %s, want %s", when, name, p, resp.StatusCode, body, got, status)
				}
			}
		}
	}
	expect("first requests", map[string]string{"/img/1": "miss", "/img/2": "miss", "/tagged": "miss", "/other": "miss"})
	expect("second requests", nil)

	// A live edge that never acknowledges keeps the operation running.
	ghost, err := h.st.KeepLease(context.Background(), cluster.TTL)
	if err != nil {
		t.Fatal(err)
	}
	defer ghost.Release()
	ghost.Put(context.Background(), api.EdgeMembersPrefix+"ghost", []byte(`{"id":"ghost"}`))
	invalidate := func(rule map[string]any) string {
		t.Helper()
		op := h.call("POST", "global/urlMaps/map/invalidateCache", rule)
		if op["operationType"] != "invalidateCache" {
			t.Fatalf("operation %v", op)
		}
		return op["name"].(string)
	}
	name := invalidate(map[string]any{"path": "/img/*"})
	if op := h.call("GET", "global/operations/"+name, nil); op["status"] != "RUNNING" {
		t.Fatalf("with an edge that has not applied the rule: %v", op["status"])
	}
	ghost.Release() // the ghost leaves: the two real edges decide
	if op := h.call("POST", "global/operations/"+name+"/wait", nil); op["status"] != "DONE" || op["progress"] != float64(100) {
		t.Fatalf("once every edge applied the rule: %v", op)
	}
	expect("after invalidating /img/*", map[string]string{"/img/1": "miss", "/img/2": "miss"})

	name = invalidate(map[string]any{"cacheTags": []string{"hero", "none"}})
	h.call("POST", "global/operations/"+name+"/wait", nil)
	expect("after invalidating the tag hero", map[string]string{"/img/1": "miss", "/tagged": "miss"})

	name = invalidate(map[string]any{"path": "/other", "host": "lb.example.com", "meridianSoft": true})
	h.call("POST", "global/operations/"+name+"/wait", nil)
	before := fetches.Load()
	expect("after a soft invalidation of /other", map[string]string{"/other": "revalidated"})
	if n := fetches.Load() - before; n != 2 {
		t.Errorf("a soft invalidation made %d origin requests, want one validation per edge", n)
	}

	name = invalidate(map[string]any{"path": "/*", "host": "elsewhere.example.com"})
	h.call("POST", "global/operations/"+name+"/wait", nil)
	expect("after invalidating another host", nil)
}
