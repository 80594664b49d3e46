package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/internal/controlplane"
	"meridian/internal/testutil"
)

// TestCDNByteRangesAndDiskTierThroughEdge: through a real edge, an object from an origin
// that serves ranges is marked on its first response, then filled in chunks (the
// reference's example: bytes 1,000,000-3,999,999 make two chunk fills, 4,194,272 bytes,
// logged); the edge restarts on the same --cache-dir and serves the range from disk
// without the origin.
func TestCDNByteRangesAndDiskTierThroughEdge(t *testing.T) {
	const size = 10 << 20
	object := make([]byte, size)
	for i := range object {
		object[i] = byte(i * 7 >> 3)
	}
	var mu sync.Mutex
	var asked []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Range"))
		mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"video-1"`)
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(object))
	}))
	defer origin.Close()
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := asked
		asked = nil
		return out
	}

	st := testutil.Store(t)
	apiSrv := httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())
	t.Cleanup(apiSrv.Close)
	logs := newTestLogs(t)
	cfg := Config{PortMap: map[int]int{443: 0, 80: 0}, Log: testLog{t}, RequestLog: logs.log, CacheDir: t.TempDir()}
	run := func() (*Edge, func()) {
		e := New(st, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done, ready := make(chan error, 1), make(chan struct{})
		go func() { done <- e.Run(ctx, func() { close(ready) }) }()
		<-ready
		return e, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	e1, stop1 := run()
	logs.edge.Store(e1)
	h := &harness{t: t, st: st, api: apiSrv, edge: e1, logs: logs}
	httpHarness(t, h, origin, map[string]any{
		"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"}, "logConfig": map[string]any{"enable": true},
	}, map[string]any{"defaultService": "global/backendServices/web"})
	client := edgeClient(t, h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"])
	get := func(rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://lb.example.com/video.mp4", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, body
	}

	resp, body := get("bytes=1000000-3999999")
	if resp.StatusCode != 206 || !bytes.Equal(body, object[1000000:4000000]) {
		t.Fatalf("first: %d, %d bytes", resp.StatusCode, len(body))
	}
	if a := take(); len(a) != 1 || a[0] != "bytes=1000000-3999999" {
		t.Fatalf("first asked %q", a)
	}
	resp, body = get("bytes=1000000-3999999")
	if resp.StatusCode != 206 || !bytes.Equal(body, object[1000000:4000000]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000000-3999999/%d", size) {
		t.Fatalf("second: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	if a := take(); len(a) != 2 {
		t.Fatalf("second asked %q; want two chunk fills", a)
	}
	if l := logs.String(); !strings.Contains(l, `"cacheFillBytes":"4194272"`) || !strings.Contains(l, `"statusDetails":"byte_range_caching"`) {
		t.Errorf("the request log lacks the chunk fills:\n%s", l)
	}
	stop1()

	// The next run, on the same disk.
	e2, stop2 := run()
	logs.edge.Store(e2)
	defer stop2()
	h.edge = e2
	client = edgeClient(t, h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"])
	resp, body = get("bytes=2000000-2999999")
	if resp.StatusCode != 206 || !bytes.Equal(body, object[2000000:3000000]) || !strings.Contains(resp.Header.Get("Cache-Status"), "; hit") {
		t.Fatalf("after a restart: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	if a := take(); len(a) != 0 {
		t.Fatalf("after a restart asked %q", a)
	}
}
