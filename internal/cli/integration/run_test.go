package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

// `run deploy`, `run revisions` and `run services update-traffic` against the real API.
// No region runtime runs here: tests that wait for a service write its status into the
// store themselves, as the runtime would, or start startRuntime's stand-in.

func serviceKey(region, name string) string {
	return "res/projects/default/regions/" + region + "/services/" + name
}

// service reads a service from the API server's store.
func (m *meridian) service(region, name string) (*api.KnativeService, int64, error) {
	kv, err := m.store.Get(context.Background(), serviceKey(region, name))
	if err != nil {
		return nil, 0, err
	}
	var svc api.KnativeService
	if err := json.Unmarshal(kv.Value, &svc); err != nil {
		return nil, 0, err
	}
	return &svc, kv.ModRevision, nil
}

// writeStatus changes a service's status in the store, as the region runtime does,
// unless the service changed since it was read at modRevision.
func (m *meridian) writeStatus(region string, svc *api.KnativeService, modRevision int64) error {
	data, err := json.Marshal(svc)
	if err != nil {
		return err
	}
	key := serviceKey(region, svc.Metadata.Name)
	_, err = m.store.Apply(context.Background(), store.Change{
		Conditions: []store.Condition{{Key: key, Want: modRevision}},
		Puts:       map[string][]byte{key: data},
	})
	return err
}

// readyStatus is what a runtime writes once the latest revision runs: Ready, the URL,
// and the traffic as the spec asks, with URLs for tags.
func readyStatus(svc *api.KnativeService, region string) {
	st := svc.Status
	st.ObservedGeneration = svc.Metadata.Generation
	st.LatestReadyRevisionName = st.LatestCreatedRevisionName
	st.URL = fmt.Sprintf("http://%s.%s.run.test", svc.Metadata.Name, region)
	st.Traffic = nil
	for _, r := range api.ResolveTraffic(svc.Spec.Traffic, st.LatestReadyRevisionName) {
		t := api.TrafficTarget{RevisionName: r.Revision, Percent: r.Percent, Tag: r.Tag}
		if r.Latest {
			latest := true
			t.LatestRevision = &latest
		}
		if r.Tag != "" {
			t.URL = fmt.Sprintf("http://%s---%s.%s.run.test", r.Tag, svc.Metadata.Name, region)
		}
		st.Traffic = append(st.Traffic, t)
	}
	st.Conditions = []api.Condition{{Type: "Ready", Status: "True"}, {Type: "ConfigurationsReady", Status: "True"}, {Type: "RoutesReady", Status: "True"}}
}

func failedStatus(svc *api.KnativeService, msg string) {
	svc.Status.ObservedGeneration = svc.Metadata.Generation
	svc.Status.Conditions = []api.Condition{{Type: "Ready", Status: "False", Reason: "RevisionFailed", Message: msg}}
}

func readyState(svc *api.KnativeService) string {
	if svc.Status != nil {
		for _, c := range svc.Status.Conditions {
			if c.Type == "Ready" {
				return c.Status
			}
		}
	}
	return ""
}

// startRuntime stands in for the region runtime until the test ends: it marks every
// service whose latest revision is not yet judged Ready, or failed when its image
// has "broken" in its name.
func (m *meridian) startRuntime() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			kvs, _, err := m.store.ListAll(ctx, "res/projects/")
			for _, kv := range kvs {
				parts := strings.Split(kv.Key, "/")
				if err != nil || len(parts) != 7 || parts[5] != "services" {
					continue
				}
				var svc api.KnativeService
				if json.Unmarshal(kv.Value, &svc) != nil || svc.Status == nil || readyState(&svc) != "Unknown" {
					continue
				}
				if c := svc.Spec.Template.Spec.Containers; len(c) > 0 && strings.Contains(c[0].Image, "broken") {
					failedStatus(&svc, "The user-provided container failed to start and listen on the port defined by PORT=8080.")
				} else {
					readyStatus(&svc, parts[4])
				}
				m.writeStatus(parts[4], &svc, kv.ModRevision) // a failed condition is retried next round
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	m.t.Cleanup(func() { cancel(); wg.Wait() })
}

// must fails the test on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// revisionsOf lists the names of a service's revisions, newest first.
func (m *meridian) revisionsOf(service string) []string {
	return strings.Fields(m.ok("run", "revisions", "list", "--region=us-central1", "--service="+service, "--format=value(metadata.name)"))
}

func TestRunDeployAndRevisions(t *testing.T) {
	m := newMeridian(t)
	region := "--region=us-central1"

	m.fails("Missing required argument [--image]", "run", "deploy", "app", region, "--async")
	m.fails("--no-traffic not supported when creating a new service.", "run", "deploy", "app", region, "--image=hello", "--no-traffic")
	m.fails("At most one of --clear-env-vars | --set-env-vars", "run", "deploy", "app", region, "--image=hello", "--set-env-vars=A=1", "--update-env-vars=B=2")
	m.fails("reserved env names were provided: PORT", "run", "deploy", "app", region, "--image=hello", "--set-env-vars=PORT=1")
	m.fails("Missing required argument [--region]", "run", "deploy", "app", "--image=hello")

	// Create, with every template flag.
	_, errOut, err := m.run("run", "deploy", "app", region, "--image=hello", "--async", "--command=/srv", "--args=a,b",
		"--set-env-vars=A=1", "--port=9000", "--concurrency=10", "--min-instances=1", "--max-instances=3", "--timeout=5m",
		"--use-http2", "--allow-unauthenticated", "--memory=1Gi", "--cpu=2")
	must(t, err)
	if want := "Deploying container to Cloud Run service [app] in project [default] region [us-central1]\nService [app] is deploying asynchronously.\n"; errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	svc, _, err := m.service("us-central1", "app")
	must(t, err)
	tmpl, _ := json.Marshal(svc.Spec.Template)
	if want := `{"metadata":{"annotations":{"autoscaling.knative.dev/maxScale":"3","autoscaling.knative.dev/minScale":"1"}},"spec":{"containerConcurrency":10,"timeoutSeconds":300,"containers":[{"image":"hello","command":["/srv"],"args":["a","b"],"env":[{"name":"A","value":"1"}],"ports":[{"name":"h2c","containerPort":9000}],"resources":{"limits":{"cpu":"2","memory":"1Gi"}}}]}}`; string(tmpl) != want {
		t.Errorf("template:\n%s\nwant:\n%s", tmpl, want)
	}
	rev1 := svc.Status.LatestCreatedRevisionName

	// Update: only what the flags say changes.
	m.ok("run", "deploy", "app", region, "--update-env-vars=B=2", "--max-instances=default", "--async")
	svc, _, err = m.service("us-central1", "app")
	must(t, err)
	c := svc.Spec.Template.Spec.Containers[0]
	if env, _ := json.Marshal(c.Env); string(env) != `[{"name":"A","value":"1"},{"name":"B","value":"2"}]` || c.Image != "hello" ||
		*svc.Spec.Template.Spec.ContainerConcurrency != 10 || svc.Metadata.Generation != 2 || len(svc.Spec.Template.Metadata.Annotations) != 1 {
		t.Errorf("after update: %+v %+v", svc.Metadata, svc.Spec.Template)
	}
	if out := m.ok("run", "services", "describe", "app", region, "--format=value(metadata.generation)"); out != "2\n" {
		t.Errorf("generation: %q", out)
	}
	revs := m.revisionsOf("app")
	if len(revs) != 2 || revs[1] != rev1 {
		t.Fatalf("revisions = %v, want 2, newest first, %s last", revs, rev1)
	}
	rev2 := revs[0]

	// --no-traffic needs a revision that serves now; the runtime would have made rev2 ready.
	m.fails("no ready revision", "run", "deploy", "app", region, "--no-traffic", "--async")
	svc, mod, err := m.service("us-central1", "app")
	must(t, err)
	readyStatus(svc, "us-central1")
	must(t, m.writeStatus("us-central1", svc, mod))

	m.ok("run", "deploy", "app", region, "--image=hello:2", "--no-traffic", "--tag=green", "--async")
	revs = m.revisionsOf("app")
	rev3 := revs[0]
	if !regexp.MustCompile(`^app-00003-[a-z]{3}$`).MatchString(rev3) {
		t.Errorf("the tagged revision is named %q, want app-00003-xyz", rev3)
	}
	svc, _, err = m.service("us-central1", "app")
	must(t, err)
	if got, _ := json.Marshal(svc.Spec.Traffic); string(got) != fmt.Sprintf(`[{"revisionName":"%s","percent":100},{"revisionName":"%s","tag":"green"}]`, rev2, rev3) {
		t.Errorf("traffic = %s", got)
	}

	m.ok("run", "deploy", "app", region, "--revision-suffix=v4", "--args=", "--async")
	if revs = m.revisionsOf("app"); revs[0] != "app-v4" {
		t.Errorf("revisions = %v, want app-v4 first", revs)
	}
	m.fails("already exists", "run", "deploy", "app", region, "--revision-suffix=v4", "--image=other", "--async")

	if svc, _, _ := m.service("us-central1", "app"); svc.Spec.Template.Spec.Containers[0].Args != nil {
		t.Errorf("--args= left %v", svc.Spec.Template.Spec.Containers[0].Args)
	}

	// Another service's revisions are listed with the region's.
	m.ok("run", "deploy", "other", region, "--image=hello", "--async")
	if out := m.ok("run", "revisions", "list", region, "--format=value(metadata.name)"); len(strings.Fields(out)) != 5 {
		t.Errorf("region's revisions: %q", out)
	}

	// The table: rev2 serves all traffic (the status says so), newest first.
	out := m.ok("run", "revisions", "list", region, "--service=app")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "REVISION ACTIVE SERVICE DEPLOYED" {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range []string{"app-v4 app 2026-11-22 12:00:00 UTC", rev3 + " app 2026-11-22 12:00:00 UTC",
		rev2 + " yes app 2026-11-22 12:00:00 UTC", rev1 + " app 2026-11-22 12:00:00 UTC"} {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); got != want {
			t.Errorf("row %d = %q, want %q", i+1, got, want)
		}
	}
	if !strings.HasPrefix(lines[0], "REVISION") || strings.Index(lines[0], "ACTIVE") != strings.Index(lines[3], "yes") {
		t.Errorf("columns are not aligned:\n%s", out)
	}
	if _, errOut, _ := m.run("run", "revisions", "list", region, "--service=nothing"); errOut != "Listed 0 items.\n" {
		t.Errorf("empty list: %q", errOut)
	}

	// Describe and delete.
	out = m.ok("run", "revisions", "describe", rev1, region)
	for _, want := range []string{"kind: Revision", "name: " + rev1, "serving.knative.dev/service: app", "containerConcurrency: 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if out := m.ok("run", "revisions", "describe", rev3, region, "--format=value(spec.containers[0].image)"); out != "hello:2\n" {
		t.Errorf("describe: %q", out)
	}
	m.fails("is serving traffic", "run", "revisions", "delete", rev2, region, "--quiet")
	m.fails("is the latest revision", "run", "revisions", "delete", "app-v4", region, "--quiet")
	_, errOut, err = m.run("run", "revisions", "delete", rev1, region)
	must(t, err)
	if want := "Revision [" + rev1 + "] will be deleted.\n\nDo you want to continue (Y/n)?  \nDeleted revision [" + rev1 + "].\n"; errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	m.fails("does not exist", "run", "revisions", "describe", rev1, region)
	m.fails("does not exist", "run", "revisions", "delete", rev1, region, "--quiet")
}

// TestRunDeployWaits runs deploys that wait while the test plays the runtime: it
// writes the status once the new revision shows in the store.
func TestRunDeployWaits(t *testing.T) {
	m := newMeridian(t)

	type result struct {
		errOut string
		err    error
	}
	deploy := func(judge func(*api.KnativeService), args ...string) result {
		t.Helper()
		before := ""
		if svc, _, err := m.service("us-central1", "app"); err == nil && svc.Status != nil {
			before = svc.Status.LatestCreatedRevisionName
		}
		done := make(chan result, 1)
		go func() {
			_, errOut, err := m.run(append([]string{"run", "deploy", "app", "--region=us-central1"}, args...)...)
			done <- result{errOut, err}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if time.Now().After(deadline) {
				t.Fatal("the deploy wrote no new revision")
			}
			select {
			case r := <-done:
				t.Fatalf("the deploy returned before it was ready: %v\n%s", r.err, r.errOut)
			default:
			}
			svc, mod, err := m.service("us-central1", "app")
			if err == nil && svc.Status != nil && svc.Status.LatestCreatedRevisionName != before && readyState(svc) == "Unknown" {
				judge(svc)
				if err := m.writeStatus("us-central1", svc, mod); err == nil {
					break
				} else if cf := (*store.ConditionFailed)(nil); !errors.As(err, &cf) {
					t.Fatal(err)
				}
			}
			time.Sleep(5 * time.Millisecond) // polling the store, bounded by the deadline
		}
		select {
		case r := <-done:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("the deploy did not return once its service was ready")
		}
		return result{}
	}

	r := deploy(func(svc *api.KnativeService) { readyStatus(svc, "us-central1") }, "--image=hello")
	must(t, r.err)
	svc, _, err := m.service("us-central1", "app")
	must(t, err)
	rev1 := svc.Status.LatestReadyRevisionName
	want := "Deploying container to Cloud Run service [app] in project [default] region [us-central1]\n" +
		"Service [app] revision [" + rev1 + "] has been deployed and is serving 100 percent of traffic.\n" +
		"Service URL: http://app.us-central1.run.test\n"
	if r.errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.errOut, want)
	}

	// A tagged revision without traffic is reached at its tag's URL.
	r = deploy(func(svc *api.KnativeService) { readyStatus(svc, "us-central1") }, "--image=hello:2", "--no-traffic", "--tag=blue")
	must(t, r.err)
	svc, _, _ = m.service("us-central1", "app")
	want = "Deploying container to Cloud Run service [app] in project [default] region [us-central1]\n" +
		"Service [app] revision [" + svc.Status.LatestReadyRevisionName + "] has been deployed and is serving 0 percent of traffic.\n" +
		"The revision can be reached directly at http://blue---app.us-central1.run.test\n"
	if r.errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.errOut, want)
	}

	// A revision that fails is the deploy's error.
	r = deploy(func(svc *api.KnativeService) { failedStatus(svc, "Container exited with status 1.") }, "--image=broken")
	svc, _, _ = m.service("us-central1", "app")
	if r.err == nil || !strings.Contains(r.errOut, "ERROR: (meridian.run.deploy) Revision ["+svc.Status.LatestCreatedRevisionName+"] failed: Container exited with status 1.") {
		t.Errorf("failed deploy: %v\n%s", r.err, r.errOut)
	}
}

func TestRunUpdateTraffic(t *testing.T) {
	m := newMeridian(t)
	m.startRuntime()
	region := "--region=us-central1"
	m.ok("run", "deploy", "app", region, "--image=hello")
	m.ok("run", "deploy", "app", region, "--image=hello:2", "--no-traffic", "--tag=green")
	revs := m.revisionsOf("app")
	rev1, rev2 := revs[1], revs[0]
	url := "http://app.us-central1.run.test"
	green := "        green: http://green---app.us-central1.run.test\n"

	update := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := m.run(append([]string{"run", "services", "update-traffic", "app", region}, args...)...)
		if err != nil {
			t.Fatalf("update-traffic %v: %v\n%s", args, err, errOut)
		}
		return out, errOut
	}
	specTraffic := func() string {
		t.Helper()
		svc, _, err := m.service("us-central1", "app")
		must(t, err)
		var parts []string
		for _, tt := range svc.Spec.Traffic {
			key := tt.RevisionName
			if tt.LatestRevision != nil && *tt.LatestRevision {
				key = "LATEST"
			}
			s := fmt.Sprintf("%s=%d", key, tt.Percent)
			if tt.Tag != "" {
				s += "@" + tt.Tag
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " ")
	}

	out, errOut := update("--to-revisions=" + rev2 + "=10")
	if want := "URL: " + url + "\nTraffic:\n  90% " + rev1 + "\n  10% " + rev2 + "\n" + green; out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if want := "Updating traffic of Cloud Run service [app] in project [default] region [us-central1]\nDone.\n"; errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	if got, want := specTraffic(), rev1+"=90 "+rev2+"=10@green"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}

	out, _ = update("--to-latest")
	if want := "URL: " + url + "\nTraffic:\n  0%   " + rev2 + "\n" + green + "  100% LATEST (currently " + rev2 + ")\n"; out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}

	// The remainder goes to LATEST; tags name revisions.
	update("--to-tags=green=30")
	if got, want := specTraffic(), rev2+"=30@green LATEST=70"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	_, errOut = update("--update-tags=blue="+rev1, "--async")
	if errOut != "Updating traffic of Cloud Run service [app] in project [default] region [us-central1]\nUpdating traffic asynchronously.\n" {
		t.Errorf("async stderr: %q", errOut)
	}
	if got, want := specTraffic(), rev2+"=30@green LATEST=70 "+rev1+"=0@blue"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	update("--to-revisions=LATEST=50," + rev1 + "=50")
	if got, want := specTraffic(), rev2+"=0@green LATEST=50 "+rev1+"=50@blue"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	update("--remove-tags=green")
	if got, want := specTraffic(), "LATEST=50 "+rev1+"=50@blue"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	update("--set-tags=old=" + rev1 + ",cur=LATEST")
	if got, want := specTraffic(), "LATEST=50@cur "+rev1+"=50@old"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	update("--clear-tags")
	if got, want := specTraffic(), "LATEST=50 "+rev1+"=50"; got != want {
		t.Errorf("traffic = %s, want %s", got, want)
	}
	out, _ = update("--to-revisions="+rev1+"=100", "--format=value(revisionName,percent)")
	if strings.Join(strings.Fields(out), " ") != rev1+" 100" {
		t.Errorf("--format: %q", out)
	}

	m.fails("No traffic change requested.", "run", "services", "update-traffic", "app", region)
	m.fails("At most one of --to-latest | --to-revisions | --to-tags", "run", "services", "update-traffic", "app", region, "--to-latest", "--to-revisions="+rev1+"=100")
	m.fails("At most one of --set-tags | --update-tags", "run", "services", "update-traffic", "app", region, "--set-tags=a="+rev1, "--update-tags=b="+rev1)
	m.fails("no other revision serves traffic to take the remaining 50%", "run", "services", "update-traffic", "app", region, "--to-revisions="+rev1+"=50")
	m.fails("Over 100% of traffic is specified", "run", "services", "update-traffic", "app", region, "--to-revisions="+rev1+"=60,"+rev2+"=60")
	m.fails("Invalid percent [x]", "run", "services", "update-traffic", "app", region, "--to-revisions="+rev1+"=x")
	m.fails("There is no revision tagged with [nope]", "run", "services", "update-traffic", "app", region, "--to-tags=nope=10")
	m.fails("Revision 'app-nope' of service 'app' does not exist", "run", "services", "update-traffic", "app", region, "--to-revisions=app-nope=100")
	m.fails("does not exist", "run", "services", "update-traffic", "ghost", region, "--to-latest")

	// A deploy of a broken image fails the deploy, as the runtime reports it.
	m.fails("failed: The user-provided container failed to start", "run", "deploy", "app", region, "--image=broken")
}
