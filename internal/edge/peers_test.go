package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meridian/internal/cluster"
	"meridian/internal/observe"
)

// cdnOrigin puts a counting origin of cacheable "content of PATH" behind a
// CDN-enabled backend service on the harness's edge.
func cdnOrigin(t *testing.T, h *harness) (*atomic.Int64, func(string) (*http.Response, string)) {
	fetches := new(atomic.Int64)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		io.WriteString(w, "content of "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	get := httpHarness(t, h, origin, map[string]any{
		"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"}, "logConfig": map[string]any{"enable": true},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}"},
	}, map[string]any{"defaultService": "global/backendServices/web"})
	return fetches, get
}

// TestCacheToCacheFill: two edges in one cache group. A miss on edge A for a URL edge B
// owns is filled from B's cache without reaching the origin, recorded as a peer fill
// (Cache-Status names both caches, statusDetails, the cache-to-cache fill counter); a
// URL B has not cached is filled by B from the origin and stored by both; with B gone,
// A fills from the origin and its clients see nothing wrong.
func TestCacheToCacheFill(t *testing.T) {
	metrics := observe.NewMetrics()
	h := newHarnessWith(t, func(c *Config) { c.PeerListen = "127.0.0.1:0"; c.Metrics = metrics })
	fetches, getA := cdnOrigin(t, h)

	b := New(h.st, Config{PortMap: map[int]int{443: 0, 80: 0}, Log: testLog{t}, PeerListen: "127.0.0.1:0"})
	ctx, stopB := context.WithCancel(context.Background())
	doneB, readyB := make(chan error, 1), make(chan struct{})
	go func() { doneB <- b.Run(ctx, func() { close(readyB) }) }()
	<-readyB
	defer func() { stopB(); <-doneB }()
	getB := edgeGetter(t, b.ListenAddresses()["127.0.0.1:80"])
	var members []cluster.Member
	for deadline := time.Now().Add(10 * time.Second); len(members) < 2; time.Sleep(5 * time.Millisecond) {
		members = h.edge.group.Serving()
		if time.Now().After(deadline) {
			t.Fatalf("edge A never saw edge B join: %v", members)
		}
	}
	ownedByB := func(from int) (string, int) {
		for i := from; ; i++ {
			path := fmt.Sprintf("/obj/%d", i)
			if members[cluster.Rendezvous(members, "http://lb.example.com"+path)].ID == b.group.ID() {
				return path, i
			}
		}
	}
	p1, i := ownedByB(0)
	p2, i := ownedByB(i + 1)
	p3, _ := ownedByB(i + 1)

	if resp, _ := getB(p1); resp.Header.Get("X-Cache-Status") != "miss" || fetches.Load() != 1 {
		t.Fatalf("B's first request: %v, %d origin fetches", resp.Header, fetches.Load())
	}
	resp, body := getA(p1)
	if resp.StatusCode != 200 || body != "content of "+p1 || resp.Header.Get("X-Cache-Status") != "miss" || fetches.Load() != 1 {
		t.Fatalf("A's miss of a URL B holds: %d %q %v, %d origin fetches", resp.StatusCode, body, resp.Header, fetches.Load())
	}
	cs := resp.Header.Get("Cache-Status")
	first, second, _ := strings.Cut(cs, ", ")
	if !strings.Contains(first, b.cache.Name()) || !strings.Contains(first, "; hit") || !strings.Contains(second, h.edge.cache.Name()) || !strings.Contains(second, "; fwd=uri-miss") {
		t.Errorf("Cache-Status %q does not name B's hit, then A's miss", cs)
	}
	if resp, _ := getA(p1); resp.Header.Get("X-Cache-Status") != "hit" || fetches.Load() != 1 {
		t.Errorf("A's second request: %v", resp.Header)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"statusDetails":"`+detailFromPeer+`"`) {
		t.Errorf("A's request log does not say the fill came from a peer:\n%s", logs)
	}

	// B does not hold p2: it fills from the origin for A, and keeps it too.
	if resp, _ := getA(p2); resp.StatusCode != 200 || fetches.Load() != 2 {
		t.Fatalf("A's miss of a URL B does not hold: %d, %d origin fetches", resp.StatusCode, fetches.Load())
	}
	if resp, _ := getB(p2); resp.Header.Get("X-Cache-Status") != "hit" {
		t.Errorf("B did not keep what it filled for A: %v", resp.Header)
	}

	// B goes away: A fills from the origin, and its client sees a plain miss.
	stopB()
	<-doneB
	doneB <- nil
	if resp, body := getA(p3); resp.StatusCode != 200 || body != "content of "+p3 || fetches.Load() != 3 {
		t.Errorf("with B gone: %d %q, %d origin fetches", resp.StatusCode, body, fetches.Load())
	}

	// Fill bytes are counted apart: from B for p1 and p2, from the origin for p3. They
	// are counted as the fill ends, which may be just after the client has its answer.
	for _, want := range []string{
		fmt.Sprintf(`meridian_cdn_cache_to_cache_fill_bytes_total{backend_service="web"} %d`, len("content of "+p1)+len("content of "+p2)),
		fmt.Sprintf(`meridian_cdn_cache_fill_bytes_total{backend_service="web"} %d`, len("content of "+p3)),
	} {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			rec := httptest.NewRecorder()
			metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if strings.Contains(rec.Body.String(), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("metrics lack %s", want)
				break
			}
		}
	}
}

// TestParentTier: two child edges name a parent edge; a miss on one child is filled
// through the parent, which keeps it, so the other child's miss is answered from the
// parent's cache without reaching the origin. (A peer that fails is skipped:
// TestCacheToCacheFill.)
func TestParentTier(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.PeerListen = "127.0.0.1:0" }) // the parent
	fetches, _ := cdnOrigin(t, h)
	child := func() (*Edge, func(string) (*http.Response, string)) {
		e := startEdge(t, h.st, Config{PortMap: map[int]int{443: 0, 80: 0}, Log: testLog{t}, Parent: h.edge.peerURL})
		for deadline := time.Now().Add(10 * time.Second); !h.edge.group.IsMember(e.group.ID()); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the parent never saw its child join")
			}
		}
		return e, edgeGetter(t, e.ListenAddresses()["127.0.0.1:80"])
	}
	_, getA := child()
	_, getC := child()

	if resp, body := getA("/x"); resp.StatusCode != 200 || body != "content of /x" || fetches.Load() != 1 {
		t.Fatalf("child A's miss: %d %q, %d origin fetches", resp.StatusCode, body, fetches.Load())
	}
	resp, body := getC("/x")
	if resp.StatusCode != 200 || body != "content of /x" || resp.Header.Get("X-Cache-Status") != "miss" || fetches.Load() != 1 {
		t.Fatalf("child C's miss: %d %q %v, %d origin fetches", resp.StatusCode, body, resp.Header, fetches.Load())
	}
	if first, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), ", "); !strings.Contains(first, h.edge.cache.Name()) || !strings.Contains(first, "; hit") {
		t.Errorf("Cache-Status %q does not start with the parent's hit", resp.Header.Get("Cache-Status"))
	}
}
