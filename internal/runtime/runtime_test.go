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
	"path/filepath"
	"strings"
	"sync"
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
	if len(os.Args) == 2 && os.Args[1] == "exit" {
		os.Exit(3) // a container that dies before listening
	}
	if len(os.Args) == 2 && os.Args[1] == "testapp" {
		serveTestApp()
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
		if kv, err := st.Get(context.Background(), "res/projects/default/regions/us-central1/services/"+key[strings.LastIndexByte(key, '/')+1:]); err == nil {
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

func TestExpand(t *testing.T) {
	env := map[string]string{"PORT": "8080", "NAME": "x"}
	for in, want := range map[string]string{"--port=$(PORT)": "--port=8080", "$(NAME)-$(NAME)": "x-x", "$$(PORT)": "$(PORT)", "$(MISSING)": "$(MISSING)", "$(": "$("} {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// serveTestApp is a container for the tests (run as `testbinary testapp`): it names its
// revision and process, blocks on a gate file, hangs, or sets a cookie.
func serveTestApp() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	id := func() string { return fmt.Sprintf("revision=%s pid=%d\n", os.Getenv("K_REVISION"), os.Getpid()) }
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, id()) })
	mux.HandleFunc("/proto", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		// Held until the test creates the gate file (bounded, so nothing hangs forever).
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(r.URL.Query().Get("gate")); err == nil {
				break
			}
		}
		io.WriteString(w, id())
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		// Switches protocols whether or not the request asked to.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n")
		buf.Flush()
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "1"})
		io.WriteString(w, id())
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	// On SIGTERM it drains: ListenAndServe returns at once, the process ends when
	// Shutdown has let the requests in flight finish.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
	<-drained
}

// harness runs the API and a runtime for us-central1 over one store.
type harness struct {
	t    *testing.T
	stop func() // stops the runtime
	st   *store.Store
	api  *httptest.Server
	rt   *Runtime
	exe  string
}

func newHarness(t *testing.T, idle time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, Config{IdleTimeout: idle})
}

// newHarnessWith runs a us-central1 runtime configured by cfg (its region, executable
// and store are the harness's).
func newHarnessWith(t *testing.T, cfg Config) *harness {
	t.Helper()
	st := testutil.Store(t)
	h := &harness{t: t, st: st, api: httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())}
	t.Cleanup(h.api.Close)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h.exe = exe
	cfg.Region, cfg.Executable = "us-central1", exe
	h.rt = New(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.rt.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) send(method, path string, body any) {
	h.t.Helper()
	data, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		data = []byte(s)
	}
	req, _ := http.NewRequest(method, h.api.URL+path, strings.NewReader(string(data)))
	resp, err := testClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, msg)
	}
}

// testApp is a Knative service running serveTestApp.
func (h *harness) testApp(name, revision string, annotations map[string]string, spec map[string]any, traffic []any) map[string]any {
	spec["containers"] = []any{map[string]any{"image": "example.com/testapp", "command": []string{h.exe, "testapp"}}}
	svc := map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"name": revision, "annotations": annotations}, "spec": spec}}}
	if traffic != nil {
		svc["spec"].(map[string]any)["traffic"] = traffic
	}
	return svc
}

// pool returns a revision's pool once the runtime runs it.
func (h *harness) pool(revision string) *pool {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	return h.rt.pools["us-central1/default/"+revision]
}

// until polls cond with a deadline.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// testClient bounds every request, so a hang fails the test instead of stalling it.
var testClient = &http.Client{Timeout: 60 * time.Second}

// get sends one request; a transport error comes back as status 0 with the error as
// the body, so it can be called from any goroutine.
func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestServiceLifecycle(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "my-global-app")

	h.send("POST", base, service(HelloImage))
	svc, ep := waitFor(t, h.st, key, "the first revision", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && s != nil && s.Status.LatestReadyRevisionName != "" && s.Status.Conditions[0].Status == "True"
	})
	rev1 := svc.Status.LatestReadyRevisionName
	if ep.Revision != rev1 || svc.Status.URL != ep.URL || !ep.Healthy || len(svc.Status.Traffic) != 1 || svc.Status.Traffic[0].RevisionName != rev1 || svc.Status.Traffic[0].Percent != 100 {
		t.Fatalf("endpoint %+v, status %+v", ep, svc.Status)
	}
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, "Service: <strong>my-global-app</strong>") || !strings.Contains(body, rev1) {
		t.Fatalf("hello page: %d %s", code, body)
	}

	// Killing the instance's process: it is replaced, and requests keep succeeding.
	p := h.pool(rev1)
	p.mu.Lock()
	proc := p.members[0].inst.(*process)
	p.mu.Unlock()
	if err := proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-proc.exited
	for i := range 20 {
		if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, rev1) {
			t.Fatalf("request %d after the kill: %d %s", i, code, body)
		}
	}
	if st := p.status(); st.ready != 1 {
		t.Errorf("after the crash the pool has %+v", st)
	}

	// A new template makes a new revision, which takes the traffic; the old one stops.
	h.send("PUT", base+"/my-global-app", service(HelloImage, "GREETING=hi"))
	svc, ep = waitFor(t, h.st, key, "the second revision", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && e.Revision != rev1 && s.Status.LatestReadyRevisionName == e.Revision && s.Status.Conditions[0].Status == "True"
	})
	rev2 := ep.Revision
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, rev2) {
		t.Fatalf("second revision: %d %s", code, body)
	}
	h.until("the first revision's pool to stop", func() bool { return h.pool(rev1) == nil })

	// An image Meridian cannot run fails its revision with a reason, never a crash, and
	// the traffic stays on the last ready revision.
	h.send("PUT", base+"/my-global-app", service("gcr.io/example/unknown"))
	svc, _ = waitFor(t, h.st, key, "the failed revision", func(s *api.KnativeService, e *Endpoint) bool {
		return s.Status.Conditions[0].Status == "False"
	})
	if c := svc.Status.Conditions[0]; c.Reason != "RevisionFailed" || !strings.Contains(c.Message, "cannot be run here") || svc.Status.LatestReadyRevisionName != rev2 {
		t.Errorf("condition %+v, status %+v", c, svc.Status)
	}
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, rev2) {
		t.Fatalf("traffic left the last ready revision: %d %s", code, body)
	}
	var rev3 api.KnativeRevision
	kv, err := h.st.Get(context.Background(), "res/projects/default/regions/us-central1/revisions/"+svc.Status.LatestCreatedRevisionName)
	if err != nil || json.Unmarshal(kv.Value, &rev3) != nil || rev3.Status.Conditions[0].Status != "False" || rev3.Status.Conditions[0].Reason != "ContainerMissing" {
		t.Errorf("failed revision's status: %+v %v", rev3.Status, err)
	}

	// A restarted runtime keeps serving the last ready revision, not the failed latest.
	h.stop()
	h.rt = New(h.st, Config{Region: "us-central1", Executable: h.exe, IdleTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.rt.Run(ctx) }()
	defer func() { cancel(); <-done }()
	_, ep = waitFor(t, h.st, key, "the restarted runtime's endpoint", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, rev2) {
		t.Fatalf("after a restart: %d %s", code, body)
	}
	svc, _ = waitFor(t, h.st, key, "the status after the restart", func(s *api.KnativeService, e *Endpoint) bool {
		return s.Status.LatestReadyRevisionName == rev2 && s.Status.Conditions[0].Status == "False"
	})

	// Deleting the service stops it and withdraws its endpoint.
	h.send("DELETE", base+"/my-global-app", "")
	waitFor(t, h.st, key, "the endpoint to go", func(s *api.KnativeService, e *Endpoint) bool { return s == nil && e == nil })
	h.until("the service's URL to close", func() bool { code, _, _ := get(t, ep.URL); return code == 0 })
}

func TestScalingAndScaleToZero(t *testing.T) {
	const idle = 200 * time.Millisecond
	h := newHarness(t, idle)
	key := api.EndpointKey("us-central1", "default", "scaler")
	h.send("POST", base, h.testApp("scaler", "scaler-a", map[string]string{"autoscaling.knative.dev/maxScale": "3"}, map[string]any{"containerConcurrency": 1}, nil))
	_, ep := waitFor(t, h.st, key, "the service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "scaler-a" })

	// Five concurrent requests held by the container, at one request per instance and at
	// most three instances: three instances start, two requests queue, none fail.
	load := func(n int, p *pool, want int) {
		gate := filepath.Join(t.TempDir(), "gate")
		results := make(chan string, n)
		for range n {
			go func() {
				code, body, _ := get(t, ep.URL+"/block?gate="+gate)
				results <- fmt.Sprint(code, " ", body)
			}()
		}
		h.until(fmt.Sprintf("%d ready instances", want), func() bool {
			st := p.status()
			if st.instances > 3 {
				t.Fatalf("%d instances exceed maxScale 3", st.instances)
			}
			return st.ready == want
		})
		os.WriteFile(gate, nil, 0o644)
		pids := map[string]bool{}
		for range n {
			r := <-results
			if !strings.HasPrefix(r, "200 revision=") {
				t.Fatalf("a request under load: %s", r)
			}
			pids[r[strings.Index(r, "pid="):]] = true
		}
		if len(pids) != want {
			t.Errorf("requests were served by %d instances, want %d", len(pids), want)
		}
	}
	p := h.pool("scaler-a")
	load(5, p, 3)

	// Idle, the revision scales to zero; the next request cold-starts an instance.
	h.until("scale to zero", func() bool { return p.status().instances == 0 })
	if svc, ep2 := waitFor(t, h.st, key, "endpoint", func(*api.KnativeService, *Endpoint) bool { return true }); !ep2.Healthy || svc.Status.Conditions[0].Status != "True" {
		t.Errorf("a revision scaled to zero must stay ready and healthy: %+v %+v", ep2, svc.Status.Conditions)
	}
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, "revision=scaler-a") {
		t.Fatalf("cold start: %d %s", code, body)
	}

	// With minScale 1, load scales up and idleness scales back down to one, not zero.
	h.send("PUT", base+"/scaler", h.testApp("scaler", "scaler-b", map[string]string{"autoscaling.knative.dev/minScale": "1", "autoscaling.knative.dev/maxScale": "3"}, map[string]any{"containerConcurrency": 1}, nil))
	waitFor(t, h.st, key, "the min-instances revision", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "scaler-b" })
	p = h.pool("scaler-b")
	load(3, p, 3)
	h.until("scale down to the minimum", func() bool { return p.status().instances == 1 })
	// The reaper passes over the pool for two more idle periods and keeps the minimum.
	passes := p.reaps.Load()
	h.until("two idle periods of reaping", func() bool { return p.reaps.Load() >= passes+8 })
	if st := p.status(); st.instances != 1 || st.ready != 1 {
		t.Errorf("min instances not kept: %+v", st)
	}
}

func TestContractTimeoutsAndCookies(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "contract")
	h.send("POST", base, h.testApp("contract", "contract-a", nil, map[string]any{"timeoutSeconds": 1}, nil))
	_, ep := waitFor(t, h.st, key, "the service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })

	code, body, _ := get(t, ep.URL+"/hang")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "upstream request timeout") {
		t.Errorf("timeoutSeconds: %d %s", code, body)
	}
	code, _, hdr := get(t, ep.URL+"/cookie")
	if code != 200 || hdr.Get("Cache-Control") != "private" || hdr.Get("Set-Cookie") == "" {
		t.Errorf("a response setting a cookie: %d %v", code, hdr)
	}
	if _, _, hdr := get(t, ep.URL+"/"); hdr.Get("Cache-Control") != "" {
		t.Errorf("Cache-Control added without a cookie: %v", hdr)
	}
	if _, proto, _ := get(t, ep.URL+"/proto"); proto != "HTTP/1.1" {
		t.Errorf("an http1 port got %s", proto)
	}

	// A container port named h2c is spoken to in HTTP/2 without TLS.
	h2c := h.testApp("contract-h2c", "contract-h2c-a", nil, map[string]any{}, nil)
	h2c["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["ports"] = []any{map[string]any{"name": "h2c"}}
	h.send("POST", base, h2c)
	_, ep = waitFor(t, h.st, api.EndpointKey("us-central1", "default", "contract-h2c"), "the h2c service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })
	if _, proto, _ := get(t, ep.URL+"/proto"); proto != "HTTP/2.0" {
		t.Errorf("an h2c port got %s", proto)
	}
}

func TestTrafficSplitAndTags(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "split")
	h.send("POST", base, h.testApp("split", "split-blue", nil, map[string]any{}, nil))
	waitFor(t, h.st, key, "blue", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "split-blue" })
	h.send("PUT", base+"/split", h.testApp("split", "split-green", nil, map[string]any{"containerConcurrency": 10}, []any{
		map[string]any{"revisionName": "split-blue", "percent": 90},
		map[string]any{"revisionName": "split-green", "percent": 10, "tag": "green"},
	}))
	svc, ep := waitFor(t, h.st, key, "the split", func(s *api.KnativeService, e *Endpoint) bool {
		return e != nil && e.Tags["green"] != "" && s.Status.Conditions[0].Status == "True" && s.Status.LatestReadyRevisionName == "split-green"
	})
	if tr := svc.Status.Traffic; len(tr) != 2 || tr[1].Tag != "green" || tr[1].URL != ep.Tags["green"] || tr[0].Percent != 90 {
		t.Errorf("status traffic %+v", tr)
	}

	counts := map[string]int{}
	for range 1000 {
		code, body, _ := get(t, ep.URL)
		if code != 200 {
			t.Fatalf("split request: %d %s", code, body)
		}
		counts[strings.Fields(body)[0]]++
	}
	if blue := counts["revision=split-blue"]; blue < 870 || blue > 930 || blue+counts["revision=split-green"] != 1000 {
		t.Errorf("90/10 split over 1000 requests: %v", counts)
	}
	for range 50 {
		if code, body, _ := get(t, ep.Tags["green"]); code != 200 || !strings.HasPrefix(body, "revision=split-green ") {
			t.Fatalf("the tag URL reached %d %s", code, body)
		}
	}
}

func TestOneRuntimePerRegionAndTakeover(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "my-global-app")
	h.send("POST", base, service(HelloImage))
	_, ep := waitFor(t, h.st, key, "the service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })

	// A second runtime for the same region stands by while the first holds the region.
	second := New(h.st, Config{Region: "us-central1", Executable: h.exe, IdleTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h.until("the second runtime to see the claim", func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return second.claimed["us-central1"] == false && len(second.claimed) == 1
	})
	second.mu.Lock()
	pools := len(second.pools)
	second.mu.Unlock()
	if pools != 0 {
		t.Fatalf("the standby runtime runs %d pools", pools)
	}

	// Stopping the first hands the region over: the second publishes its own endpoint.
	h.stop()
	_, ep2 := waitFor(t, h.st, key, "the takeover", func(s *api.KnativeService, e *Endpoint) bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		return e != nil && e.Revision != "" && second.claimed["us-central1"] && len(second.pools) == 1
	})
	if code, body, _ := get(t, ep2.URL); code != 200 || !strings.Contains(body, "my-global-app") {
		t.Fatalf("after takeover: %d %s (was %s)", code, body, ep.URL)
	}
}

func TestContainerThatNeverListens(t *testing.T) {
	h := newHarness(t, time.Hour)
	svc := h.testApp("dies", "dies-a", nil, map[string]any{}, nil)
	svc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["command"] = []string{h.exe, "exit"}
	h.send("POST", base, svc)
	got, _ := waitFor(t, h.st, api.EndpointKey("us-central1", "default", "dies"), "the revision to fail", func(s *api.KnativeService, e *Endpoint) bool {
		return s != nil && s.Status.Conditions[0].Status == "False"
	})
	if c := got.Status.Conditions[0]; c.Reason != "RevisionFailed" || !strings.Contains(c.Message, "failed to start and listen on the port") {
		t.Errorf("condition %+v", c)
	}
	p := h.pool("dies-a")
	p.mu.Lock()
	tries := p.failedStarts
	p.mu.Unlock()
	if tries != 2 {
		t.Errorf("the first start was retried %d times, want 2", tries)
	}
}

func TestRolloutDrainsRequestsInFlight(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "roll")
	h.send("POST", base, h.testApp("roll", "roll-a", nil, map[string]any{}, nil))
	_, ep := waitFor(t, h.st, key, "roll-a", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "roll-a" })
	gate := filepath.Join(t.TempDir(), "gate")
	result := make(chan string, 1)
	go func() {
		code, body, _ := get(t, ep.URL+"/block?gate="+gate)
		result <- fmt.Sprint(code, " ", body)
	}()
	p := h.pool("roll-a")
	h.until("the request to be in flight", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.inflightLocked() == 1
	})
	// A new revision takes all traffic; the old pool retires but lets its request finish.
	h.send("PUT", base+"/roll", h.testApp("roll", "roll-b", nil, map[string]any{}, nil))
	waitFor(t, h.st, key, "roll-b", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision == "roll-b" })
	h.until("roll-a to retire", func() bool { return h.pool("roll-a") == nil })
	if code, body, _ := get(t, ep.URL); code != 200 || !strings.Contains(body, "revision=roll-b") {
		t.Errorf("new traffic: %d %s", code, body)
	}
	os.WriteFile(gate, nil, 0o644)
	if r := <-result; !strings.HasPrefix(r, "200 revision=roll-a") {
		t.Errorf("the request in flight during the rollout: %s", r)
	}
}

func TestStopKillsTheWholeContainer(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "shell")
	svc := h.testApp("shell", "shell-a", nil, map[string]any{}, nil)
	// A shell that runs the server as its child instead of exec'ing it.
	svc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["command"] = []string{"/bin/sh", "-c", h.exe + " testapp; echo server ended"}
	h.send("POST", base, svc)
	waitFor(t, h.st, key, "the service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })
	p := h.pool("shell-a")
	p.mu.Lock()
	addr := p.members[0].inst.address()
	p.mu.Unlock()
	if code, _, _ := get(t, "http://"+addr+"/"); code != 200 {
		t.Fatalf("the server behind the shell does not answer: %d", code)
	}
	h.send("DELETE", base+"/shell", "")
	h.until("the server behind the shell to stop", func() bool { code, _, _ := get(t, "http://"+addr+"/"); return code == 0 })
}

func TestUnaskedUpgradeDoesNotLeakASlot(t *testing.T) {
	h := newHarness(t, time.Hour)
	key := api.EndpointKey("us-central1", "default", "upg")
	h.send("POST", base, h.testApp("upg", "upg-a", map[string]string{"autoscaling.knative.dev/maxScale": "1"}, map[string]any{"containerConcurrency": 1, "timeoutSeconds": 5}, nil))
	_, ep := waitFor(t, h.st, key, "the service", func(s *api.KnativeService, e *Endpoint) bool { return e != nil && e.Revision != "" })
	if code, _, _ := get(t, ep.URL+"/upgrade"); code != http.StatusBadGateway {
		t.Errorf("an unasked-for 101: %d", code)
	}
	// With one instance of concurrency one, a leaked slot would hold the next request.
	if code, body, _ := get(t, ep.URL+"/"); code != 200 {
		t.Errorf("after the refused upgrade: %d %s", code, body)
	}
}
