package runtime

import (
	"strings"
	"testing"
	"time"

	"meridian/api"
)

// TestProbeCounter: Kubernetes' thresholds, successes and failures in a row.
func TestProbeCounter(t *testing.T) {
	c := probeCounter{success: 2, failure: 3, passing: true}
	steps := []struct {
		ok, changed, passing bool
	}{
		{false, false, true}, {false, false, true}, {true, false, true}, // a success resets the failures
		{false, false, true}, {false, false, true}, {false, true, false}, // three in a row
		{true, false, false}, {false, false, false}, {true, false, false}, {true, true, true},
	}
	for i, s := range steps {
		if changed := c.observe(s.ok); changed != s.changed || c.passing != s.passing {
			t.Fatalf("step %d (%v): changed %v passing %v, want %v %v", i, s.ok, changed, c.passing, s.changed, s.passing)
		}
	}
}

// A configured startup probe that never passes (testapp's /hang outlasts the probe's
// 1 s timeout) fails the revision with Cloud Run's
// reason; a liveness probe that fails restarts the instance.
func TestStartupAndLivenessProbes(t *testing.T) {
	h := newHarness(t, time.Hour)
	svc := h.testApp("startup", "startup-a", nil, map[string]any{}, nil)
	container := svc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	container["startupProbe"] = map[string]any{"httpGet": map[string]any{"path": "/hang"}, "periodSeconds": 1, "failureThreshold": 3}
	h.send("POST", base, svc)
	got, _ := waitFor(t, h.st, api.EndpointKey("us-central1", "default", "startup"), "the startup probe's verdict", func(s *api.KnativeService, e *Endpoint) bool {
		return s != nil && s.Status != nil && len(s.Status.Conditions) > 0 && s.Status.Conditions[0].Status == "False"
	})
	if c := got.Status.Conditions[0]; !strings.Contains(c.Message, "failed the configured startup probe checks (last: HTTP GET /hang: ") {
		t.Errorf("startup probe failure: %+v", c)
	}

	svc = h.testApp("live", "live-a", nil, map[string]any{}, nil)
	container = svc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	container["livenessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/hang"}, "periodSeconds": 1, "failureThreshold": 2}
	h.send("POST", base, svc)
	waitFor(t, h.st, api.EndpointKey("us-central1", "default", "live"), "the live service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "live-a" })
	p := h.pool("live-a")
	p.mu.Lock()
	first := p.members[0].inst
	p.mu.Unlock()
	h.until("the instance that fails its liveness probe to stop", func() bool {
		select {
		case <-first.done():
			return true
		default:
			return false
		}
	})
	if !first.halted() {
		t.Errorf("the instance exited on its own, not stopped by its liveness probe")
	}
}
