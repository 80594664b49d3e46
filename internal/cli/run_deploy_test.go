package cli

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/pflag"

	"meridian/api"
)

// parseDeployFlags parses deploy's flags as the command would.
func parseDeployFlags(t *testing.T, args ...string) (*deployFlags, error) {
	t.Helper()
	fs := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	d := addDeployFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return d, d.check()
}

func TestDeployFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency=0"}, "concurrency must be an integer from 1 to 1000, or default"},
		{[]string{"--concurrency=lots"}, "concurrency must be an integer"},
		{[]string{"--min-instances=-1"}, "the number of instances must be an integer from 0"},
		{[]string{"--max-instances=1e3"}, "the number of instances must be an integer"},
		{[]string{"--timeout=2h"}, "the timeout must be from 1 second to 1 hour"},
		{[]string{"--timeout=0"}, "the timeout must be from 1 second to 1 hour"},
		{[]string{"--timeout=soon"}, `"soon" is not a duration`},
		{[]string{"--port=0"}, "port [0] must be an integer from 1 to 65535"},
		{[]string{"--port=http"}, "port [http] must be an integer"},
		{[]string{"--set-env-vars=PORT=9000"}, "reserved env names were provided: PORT"},
		{[]string{"--update-env-vars=A"}, "Bad syntax for dict arg: [A]"},
		{[]string{"--memory=lots"}, "memory [lots] must be a quantity"},
		{[]string{"--cpu=two"}, "cpu [two] must be a number of CPUs"},
		{[]string{"--set-env-vars=A=1", "--update-env-vars=B=2"}, "At most one of --clear-env-vars | --set-env-vars"},
		{[]string{"--clear-env-vars", "--remove-env-vars=A"}, "At most one of --clear-env-vars | --set-env-vars"},
		{[]string{"--tag=Green"}, "argument --tag: Invalid tag [Green]"},
		{[]string{"--revision-suffix="}, "the suffix must not be empty"},
	} {
		_, err := parseDeployFlags(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseRunLimits(t *testing.T) {
	for _, tc := range []struct {
		parse func(string) (limitArg, error)
		in    string
		want  string
	}{
		{parseConcurrency, "80", "80"},
		{parseConcurrency, " 1000 ", "1000"},
		{parseConcurrency, "Default", "default"},
		{parseConcurrency, "1001", "error"},
		{parseInstances, "0", "0"},
		{parseInstances, "default", "default"},
		{parseInstances, "", "error"},
	} {
		got, err := tc.parse(tc.in)
		s := got.String()
		if err != nil {
			s = "error"
		}
		if s != tc.want {
			t.Errorf("parse(%q) = %q (%v), want %q", tc.in, s, err, tc.want)
		}
	}
	for in, want := range map[string]int64{"300": 300, "5m": 300, "1h": 3600, "90s": 90} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// templateJSON is the template as the API would get it.
func templateJSON(t *testing.T, tmpl api.RevisionTemplate) string {
	t.Helper()
	data, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func fixedLetters() string { return "abc" }

func TestDeployCreatesTemplateFromFlags(t *testing.T) {
	d, err := parseDeployFlags(t, "--image=hello", "--command=/bin/server,--verbose", "--args=a,b",
		"--set-env-vars=A=1,B=x=y", "--port=9000", "--concurrency=10", "--min-instances=1", "--max-instances=5",
		"--timeout=5m", "--memory=512Mi", "--cpu=2", "--allow-unauthenticated")
	if err != nil {
		t.Fatal(err)
	}
	svc := &api.KnativeService{Metadata: api.ObjectMeta{Name: "app"}}
	if err := d.prepare(svc, fixedLetters); err != nil {
		t.Fatal(err)
	}
	want := `{"metadata":{"annotations":{"autoscaling.knative.dev/maxScale":"5","autoscaling.knative.dev/minScale":"1"}},` +
		`"spec":{"containerConcurrency":10,"timeoutSeconds":300,"containers":[{"image":"hello","command":["/bin/server","--verbose"],"args":["a","b"],` +
		`"env":[{"name":"A","value":"1"},{"name":"B","value":"x=y"}],"ports":[{"name":"http1","containerPort":9000}],` +
		`"resources":{"limits":{"cpu":"2","memory":"512Mi"}}}]}}`
	if got := templateJSON(t, svc.Spec.Template); got != want {
		t.Errorf("template:\n%s\nwant:\n%s", got, want)
	}
	if svc.Spec.Traffic != nil {
		t.Errorf("traffic = %v, want none", svc.Spec.Traffic)
	}
}

// existingService is a service as the API returns it after two revisions.
func existingService() *api.KnativeService {
	c, timeout, concurrency := api.Container{
		Image: "hello:1", Env: []api.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		Ports: []api.ContainerPort{{Name: "http1", ContainerPort: 8080}},
	}, int64(300), int64(80)
	return &api.KnativeService{
		APIVersion: api.KnativeAPIVersion, Kind: "Service",
		Metadata: api.ObjectMeta{Name: "app", Namespace: "p", Generation: 2, ResourceVersion: "rv"},
		Spec: api.ServiceSpec{Template: api.RevisionTemplate{
			Metadata: api.ObjectMeta{Name: "app-v2", Annotations: map[string]string{api.MaxScaleAnnotation: "3"}},
			Spec:     api.RevisionSpec{ContainerConcurrency: &concurrency, TimeoutSeconds: &timeout, Containers: []api.Container{c}},
		}},
		Status: &api.ServiceStatus{ObservedGeneration: 2, LatestReadyRevisionName: "app-v2", LatestCreatedRevisionName: "app-v2"},
	}
}

func TestDeployUpdatesOnlyWhatFlagsSay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    string // the template
		traffic string // spec.traffic, see trafficString
	}{
		{"update env merges", []string{"--update-env-vars=B=3,C=4"},
			`{"metadata":{"annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:1","env":[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`, ""},
		{"set env replaces", []string{"--set-env-vars=C=4"},
			`{"metadata":{"annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:1","env":[{"name":"C","value":"4"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`, ""},
		{"remove and clear", []string{"--remove-env-vars=A,B", "--max-instances=default", "--concurrency=default"},
			`{"metadata":{},"spec":{"timeoutSeconds":300,"containers":[{"image":"hello:1","ports":[{"name":"http1","containerPort":8080}]}]}}`, ""},
		{"http2 and image", []string{"--use-http2", "--image=hello:2"},
			`{"metadata":{"annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:2","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"name":"h2c","containerPort":8080}]}]}}`, ""},
		{"unchanged template keeps its revision name", []string{"--image=hello:1", "--concurrency=80", "--allow-unauthenticated"},
			`{"metadata":{"name":"app-v2","annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`, ""},
		{"revision suffix", []string{"--revision-suffix=v3"},
			`{"metadata":{"name":"app-v3","annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`, ""},
		{"tag names the revision", []string{"--tag=green", "--args=x"},
			`{"metadata":{"name":"app-00003-abc","annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":300,"containers":[{"image":"hello:1","args":["x"],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`,
			"LATEST=100 app-00003-abc=0@green"},
		{"no traffic pins latest", []string{"--no-traffic", "--tag=green", "--timeout=1h"},
			`{"metadata":{"name":"app-00003-abc","annotations":{"autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":80,"timeoutSeconds":3600,"containers":[{"image":"hello:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"ports":[{"name":"http1","containerPort":8080}]}]}}`,
			"app-v2=100 app-00003-abc=0@green"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := parseDeployFlags(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			svc := existingService()
			if err := d.prepare(svc, fixedLetters); err != nil {
				t.Fatal(err)
			}
			if got := templateJSON(t, svc.Spec.Template); got != tc.want {
				t.Errorf("template:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := trafficString(svc.Spec.Traffic); got != tc.traffic {
				t.Errorf("traffic = %q, want %q", got, tc.traffic)
			}
			if svc.Status != nil || svc.Metadata.ResourceVersion != "rv" {
				t.Errorf("status %v and resourceVersion %q: the status is not sent, the version is", svc.Status, svc.Metadata.ResourceVersion)
			}
		})
	}
}

func TestDeployTrafficMoves(t *testing.T) {
	d, _ := parseDeployFlags(t, "--tag=blue")
	svc := existingService()
	svc.Spec.Traffic = parseTraffic(t, "app-v1=50@blue LATEST=50")
	if err := d.prepare(svc, fixedLetters); err != nil {
		t.Fatal(err)
	}
	if got := trafficString(svc.Spec.Traffic); got != "app-v1=50 LATEST=50 app-00003-abc=0@blue" {
		t.Errorf("traffic = %q", got)
	}

	d, _ = parseDeployFlags(t, "--no-traffic")
	svc = existingService()
	svc.Status.LatestReadyRevisionName = ""
	if err := d.prepare(svc, fixedLetters); err == nil || !strings.Contains(err.Error(), "no ready revision") {
		t.Errorf("no traffic without a ready revision: %v", err)
	}

	d, _ = parseDeployFlags(t, "--revision-suffix=V3")
	if err := d.prepare(existingService(), fixedLetters); err == nil || !strings.Contains(err.Error(), "Invalid revision name [app-V3]") {
		t.Errorf("bad suffix: %v", err)
	}
}

func TestRandomLetters(t *testing.T) {
	for range 100 {
		s := randomLetters()
		if len(s) != 3 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("randomLetters() = %q", s)
		}
	}
}

func TestServiceReady(t *testing.T) {
	cond := func(status, msg string) []api.Condition {
		return []api.Condition{{Type: "RoutesReady", Status: "True"}, {Type: "Ready", Status: status, Message: msg}}
	}
	for _, tc := range []struct {
		name   string
		gen    int64
		status *api.ServiceStatus
		done   bool
		err    string
	}{
		{"no status", 1, nil, false, ""},
		{"old generation", 2, &api.ServiceStatus{ObservedGeneration: 1, Conditions: cond("True", "")}, false, ""},
		{"unknown", 2, &api.ServiceStatus{ObservedGeneration: 2, Conditions: cond("Unknown", "waiting")}, false, ""},
		{"no ready condition", 1, &api.ServiceStatus{ObservedGeneration: 1}, false, ""},
		{"ready", 2, &api.ServiceStatus{ObservedGeneration: 2, Conditions: cond("True", "")}, true, ""},
		{"revision failed", 2, &api.ServiceStatus{ObservedGeneration: 2, LatestCreatedRevisionName: "r2", LatestReadyRevisionName: "r1", Conditions: cond("False", "exit status 1")}, true, "Revision [r2] failed: exit status 1"},
		{"route failed", 2, &api.ServiceStatus{ObservedGeneration: 2, LatestCreatedRevisionName: "r2", LatestReadyRevisionName: "r2", Conditions: cond("False", "no route")}, true, "no route"},
	} {
		done, err := serviceReady(&api.KnativeService{Metadata: api.ObjectMeta{Generation: tc.gen}, Status: tc.status})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if done != tc.done || got != tc.err {
			t.Errorf("%s: serviceReady = %v, %q; want %v, %q", tc.name, done, got, tc.done, tc.err)
		}
	}
}

func TestDeployedMessage(t *testing.T) {
	svc := &api.KnativeService{Metadata: api.ObjectMeta{Name: "app"}, Status: &api.ServiceStatus{
		URL: "http://app.test", LatestReadyRevisionName: "app-2",
		Traffic: []api.TrafficTarget{{RevisionName: "app-1", Percent: 75}, {RevisionName: "app-2", Percent: 25}, {RevisionName: "app-2", Tag: "green", URL: "http://green---app.test"}},
	}}
	want := "Service [app] revision [app-2] has been deployed and is serving 25 percent of traffic.\nService URL: http://app.test\nThe revision can be reached directly at http://green---app.test"
	if got := strings.Join(deployedMessage(svc, "green"), "\n"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	svc.Status.Traffic = nil
	svc.Spec.Traffic = parseTraffic(t, "app-1=100")
	want = "Service [app] revision [app-2] has been deployed and is serving 0 percent of traffic."
	if got := strings.Join(deployedMessage(svc, ""), "\n"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestDeployAgainstFake checks the requests of a deploy and that it waits for the
// service's status.
func TestDeployAgainstFake(t *testing.T) {
	f := newFakeAPI(t)
	services := "/regions/r/apis/serving.knative.dev/v1/namespaces/p/services"
	var created, failing atomic.Bool
	service := func() map[string]any {
		status := map[string]any{"observedGeneration": 1, "url": "http://app.test", "latestReadyRevisionName": "app-00001-xyz",
			"latestCreatedRevisionName": "app-00001-xyz",
			"traffic":                   []any{map[string]any{"revisionName": "app-00001-xyz", "latestRevision": true, "percent": 100}},
			"conditions":                []any{map[string]any{"type": "Ready", "status": "True"}}}
		if failing.Load() {
			status["conditions"] = []any{map[string]any{"type": "Ready", "status": "False", "message": "Container failed to start."}}
			status["latestCreatedRevisionName"] = "app-00002-bad"
		}
		return map[string]any{"metadata": map[string]any{"name": "app", "generation": 1}, "spec": map[string]any{}, "status": status}
	}
	f.on("GET "+services+"/app", func(map[string]any) (int, any) {
		if !created.Load() {
			return 404, gcpError(404, "notFound", "Resource 'app' of kind 'SERVICE' does not exist.")
		}
		return 200, service()
	})
	f.on("POST "+services, func(map[string]any) (int, any) {
		created.Store(true)
		return 200, map[string]any{}
	})
	f.run("run", "deploy", "app", "--region=r").mustFail(t, "Missing required argument [--image]")
	f.run("run", "deploy", "app", "--region=r", "--image=hello", "--no-traffic").mustFail(t, "--no-traffic not supported when creating a new service.")
	r := f.run("run", "deploy", "app", "--region=r", "--image=hello", "--port=3000").mustSucceed(t)
	want := "Deploying container to Cloud Run service [app] in project [p] region [r]\n" +
		"Service [app] revision [app-00001-xyz] has been deployed and is serving 100 percent of traffic.\n" +
		"Service URL: http://app.test\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	body := f.last("POST", services).Body
	if got, want := jsonOf(t, body), `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"app","namespace":"p"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"image":"hello","ports":[{"containerPort":3000,"name":"http1"}]}]}}}}`; got != want {
		t.Errorf("body:\n%s\nwant:\n%s", got, want)
	}

	// A revision that fails is the command's error.
	failing.Store(true)
	f.reply("PUT "+services+"/app", 200, map[string]any{})
	f.run("run", "deploy", "app", "--region=r", "--image=broken").mustFail(t, "ERROR: (meridian.run.deploy) Revision [app-00002-bad] failed: Container failed to start.")
	f.last("PUT", services+"/app")

	// The API's refusal is reported as it is.
	f.reply("PUT "+services+"/app", 409, gcpError(409, "alreadyExists", "Revision named 'app-v1' with different configuration already exists."))
	f.run("run", "deploy", "app", "--region=r", "--revision-suffix=v1", "--async").mustFail(t, "Revision named 'app-v1'")
	var ae *apiError
	if err := f.run("run", "deploy", "app", "--region=r", "--revision-suffix=v1").err; !errors.As(err, &ae) || ae.Code != http.StatusConflict {
		t.Errorf("err = %v, want the API's 409", err)
	}
}
