package edge

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
