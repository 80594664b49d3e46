package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// httpHarness sets up an HTTP forwarding rule in front of one backend service and
// returns a function that GETs a path through it.
func httpHarness(t *testing.T, h *harness, origin *httptest.Server, backendService map[string]any, urlMap map[string]any) func(path string) (*http.Response, string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": mustAtoi(port)}}})
	backendService["name"] = "web"
	backendService["backends"] = []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}
	h.call("POST", "global/backendServices", backendService)
	urlMap["name"] = "map"
	h.call("POST", "global/urlMaps", urlMap)
	h.call("POST", "global/targetHttpProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	return edgeGetter(t, addr)
}

// edgeGetter returns a function that GETs http://lb.example.com{path} from addr and
// returns the response with its body read.
func edgeGetter(t *testing.T, addr string) func(path string) (*http.Response, string) {
	client := edgeClient(t, addr)
	return func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get("http://lb.example.com" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
}

// edgeClient is an HTTP client whose every connection goes to addr.
func edgeClient(t *testing.T, addr string) *http.Client {
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}}
	t.Cleanup(client.CloseIdleConnections)
	return client
}

// TestH2CBackend: a backend service with protocol H2C is reached over HTTP/2 without TLS.
func TestH2CBackend(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }))
	origin.Config.Protocols = new(http.Protocols)
	origin.Config.Protocols.SetUnencryptedHTTP2(true)
	origin.Start()
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{"protocol": "H2C"}, map[string]any{"defaultService": "global/backendServices/web"})
	if resp, body := get("/"); resp.StatusCode != 200 || body != "HTTP/2.0" {
		t.Fatalf("h2c backend: %d %q", resp.StatusCode, body)
	}
}

// TestBackendTimeout: a backend slower than the route's timeout gives 504 with
// statusDetails backend_timeout; the origin is released when the edge gives up.
func TestBackendTimeout(t *testing.T) {
	h := newHarness(t)
	released := make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the edge's timeout cancels the request
		released <- struct{}{}
	}))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{
		"defaultService": "global/backendServices/web",
		"hostRules":      []any{map[string]any{"hosts": []string{"*"}, "pathMatcher": "pm"}},
		"pathMatchers": []any{map[string]any{"name": "pm", "defaultService": "global/backendServices/web",
			"pathRules": []any{map[string]any{"paths": []string{"/slow"}, "service": "global/backendServices/web",
				"routeAction": map[string]any{"timeout": map[string]any{"nanos": int64(100 * time.Millisecond)}}}}}},
	})
	resp, _ := get("/slow")
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("X-Meridian-Status-Details") != "backend_timeout" {
		t.Fatalf("slow backend: %d %v", resp.StatusCode, resp.Header)
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin's request was not cancelled")
	}
}

// TestUnreachableBackend: a backend that refuses connections gives 502.
func TestUnreachableBackend(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.NotFoundHandler())
	origin.Close() // nothing listens there any more
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	if resp, _ := get("/"); resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Meridian-Status-Details") != "failed_to_connect_to_backend" {
		t.Fatalf("unreachable backend: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestRetryPolicy: a route with retryPolicy retries a GET the backend fails with 503,
// and does not retry a POST with a body.
func TestRetryPolicy(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 != 0 { // two failures, then a success
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "third time lucky")
	}))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{
		"defaultService": "global/backendServices/web",
		"hostRules":      []any{map[string]any{"hosts": []string{"*"}, "pathMatcher": "pm"}},
		"pathMatchers": []any{map[string]any{"name": "pm", "defaultService": "global/backendServices/web",
			"pathRules": []any{map[string]any{"paths": []string{"/*"}, "service": "global/backendServices/web",
				"routeAction": map[string]any{"retryPolicy": map[string]any{"retryConditions": []string{"gateway-error"}, "numRetries": 2}}}}}},
	})
	if resp, body := get("/"); resp.StatusCode != 200 || body != "third time lucky" || calls.Load() != 3 {
		t.Fatalf("GET: %d %q after %d calls", resp.StatusCode, body, calls.Load())
	}
	calls.Store(0)
	addr := h.edge.ListenAddresses()["127.0.0.1:80"]
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("not replayable"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Fatalf("POST: %d after %d calls", resp.StatusCode, calls.Load())
	}
}

// TestStreaming: response and request bodies pass through the edge as they are
// written, never buffered whole. The origin writes its second chunk only after the
// client has received the first, and reads the request body chunk by chunk while the
// client is still writing it; buffering would deadlock until the timeout fails the test.
func TestStreaming(t *testing.T) {
	h := newHarness(t)
	gotFirst := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.NewResponseController(w).EnableFullDuplex()
			buf := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
				http.Error(w, "no first chunk", 500)
				return
			}
			w.WriteHeader(200)
			w.(http.Flusher).Flush() // tell the client the first chunk arrived
			rest, _ := io.ReadAll(r.Body)
			io.WriteString(w, string(buf)+string(rest))
			return
		}
		io.WriteString(w, "one|")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(10 * time.Second):
			return
		}
		io.WriteString(w, "two")
	}))
	defer origin.Close()
	httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	addr := h.edge.ListenAddresses()["127.0.0.1:80"]

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "one|" {
		t.Fatalf("first chunk %q %v", first, err)
	}
	close(gotFirst)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "two" {
		t.Fatalf("rest %q", rest)
	}

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", pr)
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			close(answered)
			return
		}
		answered <- resp
	}()
	io.WriteString(pw, "first")
	// The origin answers its headers after reading "first" while the body is open.
	select {
	case resp, ok := <-answered:
		if !ok || resp.StatusCode != 200 {
			t.Fatalf("request body was not streamed: %v", resp)
		}
		io.WriteString(pw, "+second")
		pw.Close()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "first+second" {
			t.Fatalf("echo %q", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the origin never saw the first chunk of the request body")
	}
}

// TestHeaderActionsAndTrace: the URL map's headerAction adds and removes request and
// response headers; traceparent and the request's own headers reach the backend;
// hop-by-hop headers do not.
func TestHeaderActionsAndTrace(t *testing.T) {
	h := newHarness(t)
	var seen http.Header
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("X-Kept", "yes")
	}))
	defer origin.Close()
	httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web",
		"headerAction": map[string]any{
			"requestHeadersToAdd":     []any{map[string]any{"headerName": "X-Route", "headerValue": "edge", "replace": true}},
			"requestHeadersToRemove":  []string{"X-Debug"},
			"responseHeadersToAdd":    []any{map[string]any{"headerName": "Strict-Transport-Security", "headerValue": "max-age=60"}},
			"responseHeadersToRemove": []string{"X-Internal"},
		}})
	addr := h.edge.ListenAddresses()["127.0.0.1:80"]
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Debug", "1")
	req.Header.Set("X-Route", "client")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "drop me")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.Get("Traceparent") != req.Header.Get("Traceparent") || seen.Get("X-Route") != "edge" || seen.Get("X-Debug") != "" || seen.Get("X-Hop") != "" {
		t.Errorf("origin saw %v", seen)
	}
	if resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Kept") != "yes" || resp.Header.Get("Strict-Transport-Security") != "max-age=60" {
		t.Errorf("client got %v", resp.Header)
	}
}

// TestClientGoneBeforeAnyResponse: a client that leaves while the backend has not
// answered is logged as GCP logs it, client_disconnected_before_any_response with no
// status, not as the response it never got; through the cache (a miss waiting on its
// fill) and straight to the backend alike.
func TestClientGoneBeforeAnyResponse(t *testing.T) {
	for _, cdn := range []bool{false, true} {
		t.Run(fmt.Sprintf("cdn=%v", cdn), func(t *testing.T) {
			h := newHarness(t)
			arrived, release := make(chan struct{}, 1), make(chan struct{})
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer origin.Close()
			defer close(release) // before the origin closes: a cache fill outlives its client
			httpHarness(t, h, origin, map[string]any{"enableCDN": cdn, "logConfig": map[string]any{"enable": true}}, map[string]any{"defaultService": "global/backendServices/web"})
			addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://lb.example.com/slow", nil)
			errc := make(chan error, 1)
			go func() {
				resp, err := edgeClient(t, addr).Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			<-arrived
			cancel()
			if err := <-errc; err == nil {
				t.Fatal("the request was answered")
			}
			var entry struct {
				HTTPRequest map[string]any `json:"httpRequest"`
				JSONPayload map[string]any `json:"jsonPayload"`
			}
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(h.logs.String(), "\n") < 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if err := json.Unmarshal([]byte(strings.SplitN(h.logs.String(), "\n", 2)[0]), &entry); err != nil {
				t.Fatalf("request log %q: %v", h.logs.String(), err)
			}
			if _, has := entry.HTTPRequest["status"]; has || entry.JSONPayload["statusDetails"] != "client_disconnected_before_any_response" {
				t.Errorf("logged %+v", entry)
			}
		})
	}
}

// TestTransportsFollowTheConfiguration: the edge keeps a transport (a pool of
// connections) per backend endpoint, and drops it, closing its idle connections, once
// the endpoint leaves the configuration.
func TestTransportsFollowTheConfiguration(t *testing.T) {
	t.Parallel() // nothing timed: beside the waiting tests
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	if resp, body := get("/"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	host := origin.Listener.Addr().String()
	has := func() bool {
		b := &h.edge.proxy.backends
		b.mu.Lock()
		defer b.mu.Unlock()
		for k := range b.m {
			if k.host == host {
				return true
			}
		}
		return false
	}
	if !has() {
		t.Fatal("no transport to the origin after a request to it")
	}
	ip, port, _ := net.SplitHostPort(host)
	h.call("POST", "global/networkEndpointGroups/origin/detachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": ip, "port": mustAtoi(port)}}})
	waitUntil(t, "the transport to the detached endpoint is dropped", func() bool { return !has() })
}
