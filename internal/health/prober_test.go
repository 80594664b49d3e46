package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector gathers results by key.
type collector struct {
	mu      sync.Mutex
	results map[string][]Result
	hits    chan string
}

func newCollector() *collector {
	return &collector{results: map[string][]Result{}, hits: make(chan string, 1000)}
}

func (c *collector) report(r Result) {
	c.mu.Lock()
	c.results[r.Key] = append(c.results[r.Key], r)
	c.mu.Unlock()
	select {
	case c.hits <- r.Key:
	default:
	}
}

// next waits (bounded) for the next result of key.
func (c *collector) next(t *testing.T, key string) Result {
	t.Helper()
	c.mu.Lock()
	seen := len(c.results[key])
	c.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if rs := c.results[key]; len(rs) > seen {
			r := rs[len(rs)-1]
			c.mu.Unlock()
			return r
		}
		c.mu.Unlock()
		select {
		case <-c.hits:
		case <-deadline:
			t.Fatalf("no result for %s", key)
		}
	}
}

func TestProbeKinds(t *testing.T) {
	var ran sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Store(r.URL.Path, r.Header.Get("User-Agent"))
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok: all good"))
		default:
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Proto)) }))
	tlsSrv.EnableHTTP2 = true
	defer tlsSrv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	addr := srv.Listener.Addr().String()

	c := newCollector()
	p := NewProber(c.report)
	defer p.Close()
	iv := 10 * time.Millisecond
	p.Set(map[string]Check{
		"rtt":      {Kind: "RTT", Address: addr, Interval: iv},
		"http-ok":  {Kind: "HTTP", Address: addr, Path: "/healthz", Response: "all good", Interval: iv},
		"http-bad": {Kind: "HTTP", Address: addr, Path: "/other", Interval: iv},
		"want":     {Kind: "HTTP", Address: addr, Path: "/healthz", Response: "missing", Interval: iv},
		"https":    {Kind: "HTTPS", Address: tlsSrv.Listener.Addr().String(), Interval: time.Second},
		"tcp-ok":   {Kind: "TCP", Address: addr, Interval: iv},
		"tcp-down": {Kind: "TCP", Address: closedAddr, Interval: iv},
	})
	for key, pass := range map[string]bool{"rtt": true, "http-ok": true, "http-bad": false, "want": false, "https": true, "tcp-ok": true, "tcp-down": false} {
		if r := c.next(t, key); (r.Err == nil) != pass || r.RTT <= 0 {
			t.Errorf("%s: %+v, want pass=%v", key, r, pass)
		}
	}
	// OPTIONS * is answered by the server itself: the application never sees it.
	if _, ok := ran.Load("*"); ok {
		t.Error("the RTT probe reached the handler")
	}
	if ua, _ := ran.Load("/healthz"); ua != "GoogleHC/1.0" {
		t.Errorf("health check user agent %v", ua)
	}

	// Set replaces the targets: removed probes stop reporting.
	p.Set(map[string]Check{"rtt": {Kind: "RTT", Address: addr, Interval: iv}})
	c.next(t, "rtt") // a probe that ran after the change
	c.mu.Lock()
	before := len(c.results["tcp-ok"])
	c.mu.Unlock()
	c.next(t, "rtt")
	c.next(t, "rtt")
	c.mu.Lock()
	after := len(c.results["tcp-ok"])
	c.mu.Unlock()
	if after > before+1 {
		t.Errorf("a removed probe kept running: %d → %d", before, after)
	}
	if !strings.HasPrefix(c.next(t, "rtt").Key, "rtt") {
		t.Error("key")
	}
}
