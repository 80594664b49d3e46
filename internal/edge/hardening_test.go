package edge

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/internal/geo"
	"meridian/internal/observe"
)

// TestEdgeProtectionDefaults: an edge given no settings bounds header blocks at 10 s
// and a client address at 256 connections.
func TestEdgeProtectionDefaults(t *testing.T) {
	e := New(nil, Config{})
	if e.cfg.RequestHeaderTimeout != 10*time.Second || e.cfg.MaxConnsPerClient != 256 {
		t.Errorf("defaults: header timeout %v, connections per client %d", e.cfg.RequestHeaderTimeout, e.cfg.MaxConnsPerClient)
	}
}

// TestConnectionsPerClient: one client address may hold MaxConnsPerClient
// connections, whether the fast path or net/http serves them; one more is closed as it
// is accepted, another address is unaffected, and a closed connection frees its place.
func TestConnectionsPerClient(t *testing.T) {
	metrics := observe.NewMetrics()
	h := newHarnessWith(t, func(c *Config) { c.MaxConnsPerClient, c.Metrics = 3, metrics })
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // every request a miss: net/http serves it
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]

	// open connects from ip and makes one request on the connection, which stays open;
	// it reports whether the edge answered.
	open := func(ip string) (net.Conn, bool) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: lb.example.com\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return c, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return c, resp.StatusCode == 200
	}
	var held []net.Conn
	for i := range 3 {
		c, ok := open("127.0.0.7")
		if !ok {
			t.Fatalf("connection %d of 3 was refused", i+1)
		}
		held = append(held, c)
	}
	if _, ok := open("127.0.0.7"); ok {
		t.Error("a fourth connection from one address was served")
	}
	if _, ok := open("127.0.0.8"); !ok {
		t.Error("another address was refused")
	}
	held[0].Close()
	waitUntil(t, "a closed connection's place freed", func() bool {
		c, ok := open("127.0.0.7")
		if !ok {
			c.Close()
		}
		return ok
	})
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `meridian_connections_refused_total{reason="per_client_limit"}`) {
		t.Error("refused connections are not counted")
	}
}

// TestSlowHeaderOverTLS: over HTTPS, the handshake and the first request's header
// block share one deadline from the accept: a client that trickles its request after
// the handshake is cut at the read-header timeout.
func TestSlowHeaderOverTLS(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.RequestHeaderTimeout = 300 * time.Millisecond })
	addr := httpsListener(t, h)
	c := dialTLS(t, addr)
	start := time.Now()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: lb.example.com\r\nX-Slow: " + strings.Repeat("x", 400)) {
			time.Sleep(25 * time.Millisecond)
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the edge answered a request it never got whole: %d %v", n, err)
	}
	if held := time.Since(start); held > 5*time.Second {
		t.Errorf("a trickling client was held %v with a read-header timeout of 300ms", held)
	}
}

// httpsListener serves a self-signed certificate for tls.example.com on an HTTPS
// forwarding rule (URL map with no backend reached) and returns where it listens.
func httpsListener(t *testing.T, h *harness) string {
	t.Helper()
	cert, key, _ := selfSigned(t, "tls.example.com")
	h.call("POST", "global/backendServices", map[string]any{"name": "web"})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "c", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/c"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	return h.waitFor("the HTTPS listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]
}

// dialTLS completes an HTTP/1.1 TLS handshake with addr.
func dialTLS(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "tls.example.com", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMalformedAndSmugglingRequests: the requests that desynchronise a front end from
// its origin, or use it as an open proxy, are refused before any backend, or framed
// by the edge alone: the origin sees each request as the edge read it.
func TestMalformedAndSmugglingRequests(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var seen []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %q", r.Method, r.RequestURI, b))
		mu.Unlock()
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	cases := []struct {
		name, raw string
		statuses  string   // the responses on the connection
		origin    []string // what the origin saw
	}{
		{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "[400]", nil},
		{"an unknown transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "[501]", nil},
		{"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "[501]", nil},
		{"a space before the colon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello", "[400]", nil},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "[400]", nil},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", "[400]", nil},
		{"a 70 KiB header block", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", "[431]", nil},
		{"CONNECT", "CONNECT internal.example:443 HTTP/1.1\r\nHost: internal.example:443\r\n\r\n", "[405]", nil},
		// Content-Length and Transfer-Encoding: the chunked coding frames the body, and
		// what follows it is the client's next request (RFC 9112 6.3), on both sides.
		{"Content-Length with chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
			"[200 200]", []string{`POST / ""`, `GET /next ""`}},
		// An absolute URI names no upstream: the URL map's backend answers.
		{"an absolute URI", "GET http://elsewhere.example/x HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n", "[200]", []string{`GET /x ""`}},
	}
	for _, c := range cases {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, c.raw)
		br := bufio.NewReader(conn)
		var statuses []int
		for want := len(strings.Fields(c.statuses)); ; {
			if len(statuses) == want {
				// One more would be extra: wait for it briefly, not for the idle timeout.
				conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
		}
		conn.Close()
		mu.Lock()
		got := seen
		seen = nil
		mu.Unlock()
		if fmt.Sprint(statuses) != c.statuses || fmt.Sprint(got) != fmt.Sprint(c.origin) {
			t.Errorf("%s: answered %v, origin saw %q; want %s and %q", c.name, statuses, got, c.statuses, c.origin)
		}
	}
}

// TestClientRegionVariable: {client_region} is the client's country from
// --client-regions, and empty without a table or for an address it does not hold.
func TestClientRegionVariable(t *testing.T) {
	regions, err := geo.ParseClientRegions(strings.NewReader("192.0.2.0/24,AU\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for remote, want := range map[string]string{"192.0.2.7:4000": "country=AU", "198.51.100.1:4000": "country="} {
		r.RemoteAddr = remote
		if got := expandVariables("country={client_region}", r, regions); got != want {
			t.Errorf("%s: %q, want %q", remote, got, want)
		}
	}
	r.RemoteAddr = "192.0.2.7:4000"
	if got := expandVariables("country={client_region}", r, nil); got != "country=" {
		t.Errorf("without a table: %q", got)
	}
}

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	net.Conn
	deadlines []time.Time
	closes    int
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

func (c *deadlineConn) Close() error { c.closes++; return nil }

// TestHandedOffHeaderStaysDue: a connection handed to net/http in the middle of a
// request's header block (one too large for the fast path) keeps the block's due time:
// net/http's own header deadline is clamped to it, once; later deadlines (idle, a
// body's) are net/http's. Its client's count is given back once, however often it is
// closed.
func TestHandedOffHeaderStaysDue(t *testing.T) {
	due := time.Date(2026, 12, 7, 10, 0, 10, 0, time.UTC)
	inner := &deadlineConn{}
	released := 0
	rc := &replayConn{Conn: inner, headerDue: due, release: func() { released++ }}
	rc.clampDeadline.Store(true)
	rc.SetReadDeadline(due.Add(10 * time.Second)) // net/http's header timeout, from now
	rc.SetReadDeadline(time.Time{})               // after the header: no deadline
	rc.SetReadDeadline(due.Add(time.Hour))        // idle, before the next request
	if want := []time.Time{due, {}, due.Add(time.Hour)}; fmt.Sprint(inner.deadlines) != fmt.Sprint(want) {
		t.Errorf("deadlines %v, want %v", inner.deadlines, want)
	}
	rc.Close()
	rc.Close()
	if released != 1 || inner.closes != 2 {
		t.Errorf("released %d times, closed %d", released, inner.closes)
	}
}

// TestOriginCutShortOnTheFastPath: a miss answered on the fast path whose origin
// stops mid-body is cut short for its client too (the handler aborts), the watcher of
// that connection is stopped before the connection's reader is reused, and the edge
// goes on serving.
func TestOriginCutShortOnTheFastPath(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, "only this")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the origin drops the connection mid-body
	}))
	defer origin.Close()
	origin.Config.ErrorLog = log.New(io.Discard, "", 0)
	httpHarness(t, h, origin, map[string]any{"enableCDN": true}, map[string]any{"defaultService": "global/backendServices/web"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /cut HTTP/1.1\r\nHost: lb.example.com\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			if err == nil && len(body) == 100000 {
				t.Error("a body the origin cut short reached the client whole")
			}
		}
		c.Close()
	}
	resp, body := edgeGetter(t, addr)("/ok")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("after the cut responses: %d %q", resp.StatusCode, body)
	}
}
