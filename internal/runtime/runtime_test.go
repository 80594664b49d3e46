package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/controlplane"
	"meridian/internal/store"
	"meridian/internal/testutil"
)

// TestMain lets the test binary stand in for `meridian builtin hello`, which the
// runtime starts as a container process.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "builtin" && os.Args[2] == "hello" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := ServeHello(ctx); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	testutil.Main(m)
}

const base = "/regions/us-central1/apis/serving.knative.dev/v1/namespaces/default/services"

func service(image string, env ...string) string {
	var envs []map[string]string
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		envs = append(envs, map[string]string{"name": k, "value": v})
	}
	data, _ := json.Marshal(map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "my-global-app"},
		"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"image": image, "env": envs}}}}}})
	return string(data)
}

// waitFor polls the stored service until cond holds, with a deadline.
func waitFor(t *testing.T, st *store.Store, key string, what string, cond func(*api.KnativeService, *Endpoint) bool) (*api.KnativeService, *Endpoint) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var svc *api.KnativeService
		if kv, err := st.Get(context.Background(), "res/projects/default/regions/us-central1/services/my-global-app"); err == nil {
			svc = &api.KnativeService{}
			json.Unmarshal(kv.Value, svc)
		}
		var ep *Endpoint
		if kv, err := st.Get(context.Background(), key); err == nil {
			ep = &Endpoint{}
			json.Unmarshal(kv.Value, ep)
		}
		if cond(svc, ep) {
			return svc, ep
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v %+v", what, svc, ep)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunsServicesAsProcesses(t *testing.T) {
	st := testutil.Store(t)
	apiSrv := httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())
	defer apiSrv.Close()
	send := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, apiSrv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %v %v", method, path, resp, err)
		}
		resp.Body.Close()
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(st, Config{Region: "us-central1", Executable: exe}).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	key := EndpointKey("us-central1", "default", "my-global-app")

	send("POST", base, service(HelloImage))
	svc, ep := waitFor(t, st, key, "the first revision", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && s != nil && s.Status.LatestReadyRevisionName != "" && s.Status.Conditions[0].Status == "True"
	})
	rev1 := svc.Status.LatestReadyRevisionName
	if ep.Revision != rev1 || svc.Status.URL != ep.URL {
		t.Fatalf("endpoint %+v, status %+v", ep, svc.Status)
	}
	resp, err := http.Get(ep.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Service: <strong>my-global-app</strong>") || !strings.Contains(string(body), rev1) {
		t.Fatalf("hello page: %s", body)
	}

	// A crashed instance is replaced: kill the process behind the endpoint and wait for a
	// new endpoint of the same revision.
	crashPID := instancePID(t, ep.URL)
	if err := syscall.Kill(crashPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, ep = waitFor(t, st, key, "the replacement instance", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && e.URL != ep.URL && e.Revision == rev1
	})

	// A new template makes a new revision, which replaces the old instance.
	send("PUT", base+"/my-global-app", service(HelloImage, "GREETING=hi"))
	_, ep2 := waitFor(t, st, key, "the second revision", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && e.Revision != rev1 && s.Status.LatestReadyRevisionName == e.Revision
	})
	if _, err := http.Get(ep.URL); err == nil && ep.URL != ep2.URL {
		t.Errorf("the old instance at %s still answers", ep.URL)
	}

	// An image Meridian cannot run fails the revision with a reason, never a crash.
	send("PUT", base+"/my-global-app", service("gcr.io/example/unknown"))
	svc, _ = waitFor(t, st, key, "the failed revision", func(s *api.KnativeService, e *Endpoint) bool {
		return s.Status.Conditions[0].Status == "False"
	})
	if c := svc.Status.Conditions[0]; c.Reason != "RevisionFailed" || !strings.Contains(c.Message, "cannot be run here") {
		t.Errorf("condition %+v", c)
	}

	// Deleting the service stops it and withdraws its endpoint.
	send("DELETE", base+"/my-global-app", "")
	waitFor(t, st, key, "the endpoint to go", func(s *api.KnativeService, e *Endpoint) bool { return s == nil && e == nil })
}

func TestExpand(t *testing.T) {
	env := map[string]string{"PORT": "8080", "NAME": "x"}
	for in, want := range map[string]string{"--port=$(PORT)": "--port=8080", "$(NAME)-$(NAME)": "x-x", "$$(PORT)": "$(PORT)", "$(MISSING)": "$(MISSING)", "$(": "$("} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// instancePID finds the process listening at url, via the hello page's port: the
// runtime's instances are the test binary's children started with that PORT.
func instancePID(t *testing.T, url string) int {
	t.Helper()
	port := url[strings.LastIndexByte(url, ':')+1:]
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc here")
	}
	for _, e := range entries {
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == "PORT="+port && strings.Contains(string(env), "K_SERVICE=my-global-app") {
				var pid int
				fmt.Sscan(e.Name(), &pid)
				return pid
			}
		}
	}
	t.Fatalf("no process with PORT=%s", port)
	return 0
}
