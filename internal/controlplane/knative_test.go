package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"meridian/api"
	"meridian/internal/store"
)

const runBase = "/regions/us-central1/apis/serving.knative.dev/v1/namespaces/default/services"

// seedService is the seed's service.yaml as JSON.
const seedService = `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app","namespace":"default"},
"spec":{"template":{"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello"}]}}}}`

func TestKnativeServiceLifecycle(t *testing.T) {
	c := newTestServer(t, Config{})
	created := c.must("POST", runBase, seedService)
	meta := created["metadata"].(map[string]any)
	status := created["status"].(map[string]any)
	rev1 := status["latestCreatedRevisionName"].(string)
	if meta["generation"] != float64(1) || meta["uid"] == "" || len(rev1) != len("my-global-app-00001-abc") || status["observedGeneration"] != float64(1) {
		t.Fatalf("created %v", created)
	}
	conds := status["conditions"].([]any)
	if len(conds) != 3 || conds[0].(map[string]any)["type"] != "Ready" || conds[0].(map[string]any)["status"] != "Unknown" {
		t.Errorf("conditions %v", conds)
	}
	c.wantError("POST", runBase, seedService, 409, "alreadyExists")

	// Replacing with the same spec keeps the generation and revision.
	same := c.must("PUT", runBase+"/my-global-app", seedService)
	if same["metadata"].(map[string]any)["generation"] != float64(1) || same["status"].(map[string]any)["latestCreatedRevisionName"] != rev1 {
		t.Errorf("same spec replaced: %v", same)
	}
	// A new template makes a new revision.
	changed := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello","env":[{"name":"A","value":"1"}]}]}}}}`
	next := c.must("PUT", runBase+"/my-global-app", changed)
	if next["metadata"].(map[string]any)["generation"] != float64(2) || next["status"].(map[string]any)["latestCreatedRevisionName"] == rev1 {
		t.Errorf("changed spec: %v", next)
	}
	stale := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app","resourceVersion":"old"},"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`
	c.wantError("PUT", runBase+"/my-global-app", stale, 409, "conflict")

	list := c.must("GET", runBase, nil)
	if items := list["items"].([]any); len(items) != 1 || list["kind"] != "ServiceList" {
		t.Errorf("list %v", list)
	}
	// The same service through the v1 projects/locations path.
	c.must("GET", "/v1/projects/default/locations/us-central1/services/my-global-app", nil)
	if got := c.must("GET", "/regions/europe-west1/apis/serving.knative.dev/v1/namespaces/default/services", nil); len(got["items"].([]any)) != 0 {
		t.Errorf("other region sees %v", got)
	}
	if del := c.must("DELETE", runBase+"/my-global-app", nil); del["status"] != "Success" {
		t.Errorf("delete %v", del)
	}
	c.wantError("GET", runBase+"/my-global-app", nil, 404, "notFound")
	c.wantError("POST", runBase, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"image":"i"}]}}}}`, 400, "invalid")
	c.wantError("POST", runBase, `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"x","namespace":"other"},"spec":{"template":{"spec":{"containers":[{"image":"i"}]}}}}`, 400, "invalid")
}

const revBase = "/regions/us-central1/apis/serving.knative.dev/v1/namespaces/default/revisions"

func TestKnativeRevisionsAndTraffic(t *testing.T) {
	c := newTestServer(t, Config{})
	created := c.must("POST", runBase, seedService)
	spec := created["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if spec["containerConcurrency"] != float64(80) || spec["timeoutSeconds"] != float64(300) {
		t.Errorf("defaults not applied: %v", spec)
	}
	rev1 := created["status"].(map[string]any)["latestCreatedRevisionName"].(string)
	got := c.must("GET", revBase+"/"+rev1, nil)
	labels := got["metadata"].(map[string]any)["labels"].(map[string]any)
	if got["kind"] != "Revision" || labels["serving.knative.dev/service"] != "my-global-app" || got["spec"].(map[string]any)["containerConcurrency"] != float64(80) {
		t.Errorf("revision %v", got)
	}
	// A new template with a chosen revision name and a 90/10 split naming both.
	split := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"metadata":{"name":"my-global-app-green"},"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello","env":[{"name":"A","value":"1"}]}]}},
"traffic":[{"revisionName":"` + rev1 + `","percent":90},{"revisionName":"my-global-app-green","percent":10,"tag":"green"}]}}`
	c.must("PUT", runBase+"/my-global-app", split)
	list := c.must("GET", revBase+"?labelSelector=serving.knative.dev/service%3Dmy-global-app", nil)
	if items := list["items"].([]any); len(items) != 2 || list["kind"] != "RevisionList" {
		t.Fatalf("revisions %v", list)
	}
	if l := c.must("GET", revBase+"?labelSelector=serving.knative.dev/service%3Dother", nil); len(l["items"].([]any)) != 0 {
		t.Errorf("selector for another service matched %v", l)
	}
	c.wantError("GET", revBase+"?labelSelector=a%3D%3D%3Db", nil, 400, "invalid")
	c.must("GET", "/v1/projects/default/locations/us-central1/revisions/"+rev1, nil)

	// Traffic naming a revision that does not exist is refused and changes nothing.
	bad := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"metadata":{"name":"my-global-app-green"},"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello","env":[{"name":"A","value":"1"}]}]}},
"traffic":[{"revisionName":"nope","percent":100}]}}`
	c.wantError("PUT", runBase+"/my-global-app", bad, 400, "invalid")
	// Reusing a revision name for a different template is refused.
	reuse := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"metadata":{"name":"` + rev1 + `"},"spec":{"containers":[{"image":"other"}]}}}}`
	c.wantError("PUT", runBase+"/my-global-app", reuse, 409, "alreadyExists")

	// Revisions serving traffic, or the latest, cannot be deleted; the service takes them with it.
	c.wantError("DELETE", revBase+"/"+rev1, nil, 400, "failedPrecondition")
	c.wantError("DELETE", revBase+"/my-global-app-green", nil, 400, "failedPrecondition")
	c.must("PUT", runBase+"/my-global-app", `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"metadata":{"name":"my-global-app-green"},"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello","env":[{"name":"A","value":"1"}]}]}}}}`)
	c.must("DELETE", revBase+"/"+rev1, nil)
	c.wantError("GET", revBase+"/"+rev1, nil, 404, "notFound")
	c.must("DELETE", runBase+"/my-global-app", nil)
	if l := c.must("GET", revBase, nil); len(l["items"].([]any)) != 0 {
		t.Errorf("revisions outlive their service: %v", l)
	}
}

// A replace without a resourceVersion that races a busy status writer (the region
// runtime, which conditions each write on the revision it read) gets through once the
// writer pauses, and neither write loses the other's fields.
func TestReplaceOutlastsAStatusWriter(t *testing.T) {
	c := newTestServer(t, Config{})
	c.must("POST", runBase, seedService)
	key := knativeKey("us-central1", "default", "my-global-app")
	ctx := t.Context()
	const writes = 100
	done := make(chan error, 1)
	go func() {
		for n := 0; n < writes; {
			kv, err := c.st.Get(ctx, key)
			if err != nil {
				done <- err
				return
			}
			var svc api.KnativeService
			if err := json.Unmarshal(kv.Value, &svc); err != nil {
				done <- err
				return
			}
			svc.Status.Address = &api.ServiceAddress{URL: fmt.Sprintf("http://write-%d", n)}
			data, _ := json.Marshal(svc)
			_, err = c.st.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: key, Want: kv.ModRevision}}, Puts: map[string][]byte{key: data}})
			var cf *store.ConditionFailed
			if err != nil && !errors.As(err, &cf) {
				done <- err
				return
			}
			if err == nil {
				n++
			}
		}
		done <- nil
	}()
	changed := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"my-global-app"},
"spec":{"template":{"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello","env":[{"name":"A","value":"%d"}]}]}}}}`
	for i := range 3 {
		c.must("PUT", runBase+"/my-global-app", fmt.Sprintf(changed, i))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := c.must("GET", runBase+"/my-global-app", nil)
	env := got["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any)
	if env[0].(map[string]any)["value"] != "2" || got["metadata"].(map[string]any)["generation"] != float64(4) {
		t.Errorf("the last replace was lost: %v", got)
	}
}
