package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLogConfig: the request log follows each backend service's logConfig, as GCP's
// does: nothing unless logging is enabled, then the sampleRate's fraction of requests,
// and a change applies to the requests after it.
func TestLogConfig(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	logged := func(path string) int {
		return strings.Count(h.logs.String(), `"requestUrl":"http://lb.example.com`+path+`"`)
	}
	// setLog changes the logConfig and waits until the edge applies it.
	setLog := func(logConfig map[string]any, rate float64) {
		t.Helper()
		bs := h.call("GET", "global/backendServices/web", nil)
		h.call("PATCH", "global/backendServices/web", map[string]any{"fingerprint": bs["fingerprint"], "logConfig": logConfig})
		waitUntil(t, "the logConfig applied", func() bool {
			for path, svc := range h.edge.snap.Load().Services {
				if strings.HasSuffix(path, "/backendServices/web") {
					return svc.Log.Rate == rate
				}
			}
			return false
		})
	}

	// GCP's default: off.
	for range 20 {
		get("/default")
	}
	setLog(map[string]any{"enable": true, "sampleRate": 0.5}, 0.5)
	for range 400 {
		get("/half")
	}
	setLog(map[string]any{"enable": true, "sampleRate": 1}, 1)
	for range 50 {
		get("/all")
	}
	setLog(map[string]any{"enable": false}, 0)
	for range 20 {
		get("/disabled")
	}
	setLog(map[string]any{"enable": true}, 1)
	// The requests go one after another on one connection: once this last one is
	// logged, every request before it has been handled, and logged or not.
	get("/last")
	waitUntil(t, "the last request logged", func() bool { return logged("/last") == 1 })

	if n := logged("/default"); n != 0 {
		t.Errorf("%d requests logged without logConfig, want none", n)
	}
	// Binomial(400, 0.5): 200 ± 10; 120..280 is eight standard deviations.
	if n := logged("/half"); n < 120 || n > 280 {
		t.Errorf("%d of 400 requests logged at sampleRate 0.5", n)
	}
	if n := logged("/all"); n != 50 {
		t.Errorf("%d of 50 requests logged at sampleRate 1", n)
	}
	if n := logged("/disabled"); n != 0 {
		t.Errorf("%d requests logged with logging disabled", n)
	}
}
