package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestHealthCheckedInternetEndpoints: a backend service's health check probes the
// endpoints of its internet NEG; an endpoint that fails gets no traffic until it passes
// again, and a backend whose every endpoint fails is reported unhealthy but still tried.
func TestHealthCheckedInternetEndpoints(t *testing.T) {
	t.Parallel() // waits out health check intervals
	h := newHarness(t)
	var healthy [2]atomic.Bool
	var origins [2]*httptest.Server
	for i := range origins {
		origins[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				if !healthy[i].Load() {
					http.Error(w, "sick", http.StatusInternalServerError)
					return
				}
				io.WriteString(w, "ok")
				return
			}
			fmt.Fprintf(w, "origin=%d", i)
		}))
		t.Cleanup(origins[i].Close)
	}
	healthy[1].Store(true) // origin 0 starts failing its check
	var endpoints []any
	for _, o := range origins {
		host, port, _ := net.SplitHostPort(o.Listener.Addr().String())
		endpoints = append(endpoints, map[string]any{"ipAddress": host, "port": mustAtoi(port)})
	}
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "pool", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/pool/attachNetworkEndpoints", map[string]any{"networkEndpoints": endpoints})
	h.call("POST", "global/healthChecks", map[string]any{"name": "hc", "type": "HTTP", "checkIntervalSec": 1, "timeoutSec": 1, "healthyThreshold": 1, "unhealthyThreshold": 1,
		"httpHealthCheck": map[string]any{"requestPath": "/healthz", "portSpecification": "USE_SERVING_PORT"}})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "healthChecks": []any{"global/healthChecks/hc"},
		"backends": []any{map[string]any{"group": "global/networkEndpointGroups/pool"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/targetHttpProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"})
	addr := h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}}
	t.Cleanup(client.CloseIdleConnections)
	get := func() string {
		resp, err := client.Get("http://lb.example.com/")
		if err != nil {
			return err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	// until polls, in rounds of 20 requests, until every answer of a round satisfies ok.
	until := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			all := true
			for range 20 {
				if !ok(get()) {
					all = false
				}
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	until("only the passing endpoint to get traffic", func(r string) bool { return r == "200 origin=1" })

	// Both pass: both get traffic again.
	healthy[0].Store(true)
	deadline := time.Now().Add(15 * time.Second)
	for seen := false; !seen; {
		if get() == "200 origin=0" {
			seen = true
		}
		if time.Now().After(deadline) {
			t.Fatal("the recovered endpoint never got traffic")
		}
	}

	// Every endpoint fails: getHealth says so, and requests are still tried.
	healthy[0].Store(false)
	healthy[1].Store(false)
	deadline = time.Now().Add(15 * time.Second)
	for {
		statuses, _ := h.call("POST", "global/backendServices/web/getHealth", map[string]any{"group": "global/networkEndpointGroups/pool"})["healthStatus"].([]any)
		if len(statuses) == 1 && statuses[0].(map[string]any)["healthState"] == "UNHEALTHY" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("getHealth never reported the failing backend: %v", statuses)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := get(); r != "200 origin=0" && r != "200 origin=1" {
		t.Errorf("a backend whose endpoints all fail their check is still tried: %s", r)
	}
}
