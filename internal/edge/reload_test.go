package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadUnderLoad changes the URL map and the proxy's certificates while clients
// keep sending requests: every request succeeds, and each is answered by one of the
// configured origins.
func TestReloadUnderLoad(t *testing.T) {
	h := newHarness(t)
	var origins []string
	for _, name := range []string{"one", "two"} {
		o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		defer o.Close()
		host, port, _ := net.SplitHostPort(o.Listener.Addr().String())
		h.call("POST", "global/networkEndpointGroups", map[string]any{"name": name, "networkEndpointType": "INTERNET_IP_PORT"})
		h.call("POST", "global/networkEndpointGroups/"+name+"/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": mustAtoi(port)}}})
		h.call("POST", "global/backendServices", map[string]any{"name": name, "backends": []any{map[string]any{"group": "global/networkEndpointGroups/" + name}}})
		origins = append(origins, name)
	}
	// Two certificates for the same name; the client trusts both.
	cert1, key1, _ := selfSigned(t, "lb.example.com")
	cert2, key2, _ := selfSigned(t, "lb.example.com")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(cert1))
	roots.AppendCertsFromPEM([]byte(cert2))
	h.call("POST", "global/sslCertificates", map[string]any{"name": "c1", "certificate": cert1, "privateKey": key1})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "c2", "certificate": cert2, "privateKey": key2})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/one"})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/c1"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	addr := h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "lb.example.com", RootCAs: roots}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
	}}
	const workers, perWorker = 4, 150 // bounded load
	var failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				resp, err := client.Get("https://lb.example.com/")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || (string(body) != "one" && string(body) != "two") {
						err = fmt.Errorf("status %d body %q", resp.StatusCode, body)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(stop) }()
	// Reconfigure until the clients are done: flip the default service and the
	// certificate, each a real write through the API.
	for i := 0; ; i++ {
		select {
		case <-stop:
			if n := failures.Load(); n > 0 {
				t.Fatalf("%d of %d requests failed during %d reloads; first: %v", n, workers*perWorker, i, firstErr.Load())
			}
			if i == 0 {
				t.Fatal("no reload happened during the load")
			}
			return
		default:
		}
		um := h.call("GET", "global/urlMaps/map", nil)
		h.call("PATCH", "global/urlMaps/map", map[string]any{"fingerprint": um["fingerprint"], "defaultService": "global/backendServices/" + origins[i%2]})
		h.call("POST", "targetHttpsProxies/proxy/setSslCertificates", map[string]any{"sslCertificates": []string{fmt.Sprintf("global/sslCertificates/c%d", i%2+1)}})
	}
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// TestListenerReplacedInPlace: changing the proxy's keep-alive replaces its listener on
// the same port; requests before and after succeed.
func TestListenerReplacedInPlace(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	before := h.edge.ListenAddresses()["127.0.0.1:80"]
	if resp, _ := get("/"); resp.StatusCode != 200 {
		t.Fatalf("before: %d", resp.StatusCode)
	}
	p := h.call("GET", "global/targetHttpProxies/proxy", nil)
	h.call("PATCH", "global/targetHttpProxies/proxy", map[string]any{"fingerprint": p["fingerprint"], "httpKeepAliveTimeoutSec": 30})
	deadline := time.Now().Add(10 * time.Second)
	for h.edge.listenerKeepAlive("127.0.0.1:80") != 30*time.Second {
		if time.Now().After(deadline) {
			t.Fatal("the listener was not replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after := h.edge.ListenAddresses()["127.0.0.1:80"]; after != before {
		t.Errorf("listener moved from %s to %s", before, after)
	}
	if resp, _ := get("/"); resp.StatusCode != 200 {
		t.Fatalf("after: %d", resp.StatusCode)
	}
}

// listenerKeepAlive reports the keep-alive of the listener of addr (for tests).
func (e *Edge) listenerKeepAlive(addr string) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l := e.listeners[addr]; l != nil {
		return l.keepAlive
	}
	return 0
}
