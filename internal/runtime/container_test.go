package runtime

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/testutil"
)

// dockerEngine is the machine's Docker engine, for tests that run images
// (testutil.ContainerImage has skipped them, or failed them in CI, without one).
func dockerEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := FindEngine(context.Background(), "docker")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// containers lists the names of the engine's containers of a revision.
func containers(t *testing.T, revision string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "name=meridian-"+revision+"-", "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func imageService(name, revision, image string, annotations map[string]string, spec map[string]any, container map[string]any) map[string]any {
	container["image"] = image
	spec["containers"] = []any{container}
	return map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"name": revision, "annotations": annotations}, "spec": spec}}}
}

// TestContainerImage runs a FROM scratch image under Cloud Run's contract: its
// environment, scaling out under concurrency 1, a killed container replaced, a
// readiness probe that fails at first, and no container left after delete or stop.
func TestContainerImage(t *testing.T) {
	image := testutil.ContainerImage(t, "testdata/containerapp", "containerapp")
	h := newHarnessWith(t, Config{IdleTimeout: time.Hour, Engine: dockerEngine(t)})
	key := api.EndpointKey("us-central1", "default", "ctr")
	h.send("POST", base, imageService("ctr", "ctr-a", image, map[string]string{"autoscaling.knative.dev/maxScale": "3"},
		map[string]any{"containerConcurrency": 1},
		map[string]any{"env": []any{map[string]any{"name": "GREETING", "value": "hi"}, map[string]any{"name": "READY_AFTER", "value": "2"}},
			"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/ready"}, "periodSeconds": 1}}))
	// Not ready until the probe passes: the status says what it waits for.
	sawWaiting := false
	svc, ep := waitFor(t, h.st, key, "the container to be ready", func(s *api.KnativeService, e *Endpoint) bool {
		if s != nil && s.Status != nil && len(s.Status.Conditions) > 1 && strings.Contains(s.Status.Conditions[1].Message, "Waiting for the readiness probe: HTTP GET /ready answered 503") {
			sawWaiting = true
		}
		return e != nil && e.Revision == "ctr-a"
	})
	if !sawWaiting {
		t.Errorf("the status never said the revision waited for its readiness probe: %+v", svc.Status)
	}
	code, body, _ := get(t, ep.URL+"/")
	if code != 200 || !strings.Contains(body, "revision=ctr-a service=ctr configuration=ctr port=8080 greeting=hi host=") {
		t.Fatalf("the container's answer: %d %q", code, body)
	}

	// Three requests at once under concurrency 1: three containers (each new one passes
	// its readiness probe within about 3 s, while the first is busy for 6).
	var wg sync.WaitGroup
	hosts := make(chan string, 3)
	for range 3 {
		wg.Go(func() {
			if code, body, _ := get(t, ep.URL+"/sleep?ms=6000"); code == 200 {
				hosts <- body
			}
		})
	}
	wg.Wait()
	close(hosts)
	distinct := map[string]bool{}
	for b := range hosts {
		distinct[b] = true
	}
	if len(distinct) != 3 || len(containers(t, "ctr-a")) != 3 {
		t.Errorf("scale-out under concurrency 1: %d distinct instances answered, containers %v", len(distinct), containers(t, "ctr-a"))
	}

	// A killed container is replaced.
	victim := containers(t, "ctr-a")[0]
	if out, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	h.until("the killed container to leave the pool", func() bool {
		p := h.pool("ctr-a")
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range p.members {
			if m.inst != nil && containerName("ctr-a", m.inst.name()) == victim {
				return false
			}
		}
		return true
	})
	for i := range 5 {
		if code, body, _ := get(t, ep.URL+"/"); code != 200 {
			t.Fatalf("request %d after the kill: %d %s", i, code, body)
		}
	}

	// What the containers wrote, with their instance IDs, through Cloud Logging's API.
	var logs struct {
		Entries []struct {
			TextPayload string            `json:"textPayload"`
			Labels      map[string]string `json:"labels"`
		} `json:"entries"`
	}
	h.until("the containers' output in the logs", func() bool {
		resp, err := testClient.Post(h.api.URL+"/v2/entries:list", "application/json", strings.NewReader(
			`{"resourceNames":["projects/default"],"filter":"resource.labels.service_name = ctr AND textPayload:served","orderBy":"timestamp asc"}`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		logs.Entries = nil
		json.NewDecoder(resp.Body).Decode(&logs)
		return len(logs.Entries) >= 4
	})
	if e := logs.Entries[0]; e.TextPayload != "served /" || len(e.Labels["instanceId"]) != 12 {
		t.Errorf("the first request's log line: %+v", e)
	}

	// Delete: every container goes.
	h.send("DELETE", base+"/ctr", "")
	h.until("the containers to be removed", func() bool { return len(containers(t, "ctr-a")) == 0 })

	// A missing image: Ready=False naming it, no hang.
	h.send("POST", base, imageService("gone", "gone-a", "meridian-test/no-such-image:1", nil, map[string]any{}, map[string]any{}))
	svc, _ = waitFor(t, h.st, api.EndpointKey("us-central1", "default", "gone"), "the missing image's failure", func(s *api.KnativeService, e *Endpoint) bool {
		return s != nil && s.Status != nil && len(s.Status.Conditions) > 0 && s.Status.Conditions[0].Status == "False"
	})
	if c := svc.Status.Conditions[0]; !strings.Contains(c.Message, "Image 'meridian-test/no-such-image:1' not found") {
		t.Errorf("a missing image's condition: %+v", c)
	}

	// Stopping the runtime leaves no container of it.
	h.send("POST", base, imageService("last", "last-a", image, nil, map[string]any{}, map[string]any{}))
	waitFor(t, h.st, api.EndpointKey("us-central1", "default", "last"), "the last service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "last-a" })
	if len(containers(t, "last-a")) != 1 {
		t.Fatalf("containers of last-a: %v", containers(t, "last-a"))
	}
	h.stop()
	if left := containers(t, "last-a"); len(left) != 0 {
		t.Errorf("containers left after the runtime stopped: %v", left)
	}
}
