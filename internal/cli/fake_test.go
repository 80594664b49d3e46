package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// fakeAPI is an httptest server standing in for Meridian's API. Tests register an
// answer per "METHOD /path" and read back the requests the CLI sent.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex // guards routes and requests
	routes   map[string]func(body map[string]any) (int, any)
	requests []request
}

// request is one request the fake received.
type request struct {
	Method, Path, Query, Auth string
	Body                      map[string]any
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, routes: map[string]func(map[string]any) (int, any){}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			f.t.Errorf("%s %s: body is not a JSON object: %s", r.Method, r.URL.Path, data)
		}
	}
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.requests = append(f.requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), body})
	route := f.routes[key]
	f.mu.Unlock()
	code, answer := http.StatusNotFound, any(gcpError(404, "notFound", "The resource '"+r.URL.Path+"' was not found"))
	if route != nil {
		code, answer = route(body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(answer)
}

// on registers the answer to "METHOD /path".
func (f *fakeAPI) on(key string, answer func(body map[string]any) (int, any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = answer
}

// reply registers a fixed answer.
func (f *fakeAPI) reply(key string, code int, answer any) {
	f.on(key, func(map[string]any) (int, any) { return code, answer })
}

// sent returns the requests received so far.
func (f *fakeAPI) sent() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// last returns the last request with the given method and path.
func (f *fakeAPI) last(method, path string) request {
	f.t.Helper()
	reqs := f.sent()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && reqs[i].Path == path {
			return reqs[i]
		}
	}
	f.t.Fatalf("no %s %s among %v", method, path, reqs)
	return request{}
}

// url makes a full URL of a path on the fake, as the API renders links.
func (f *fakeAPI) url(path string) string { return f.srv.URL + path }

// doneOp is a finished operation on target (a path such as
// "/compute/v1/projects/p/global/backendServices/b").
func (f *fakeAPI) doneOp(target string) map[string]any {
	return map[string]any{"kind": "compute#operation", "name": "operation-1", "status": "DONE",
		"targetLink": f.url(target), "selfLink": f.url("/compute/v1/projects/p/global/operations/operation-1")}
}

func gcpError(code int, reason, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg,
		"errors": []any{map[string]any{"message": msg, "domain": "global", "reason": reason}}}}
}

// cliResult is what one command printed.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs one command line in-process against the fake, with project "p".
func (f *fakeAPI) run(args ...string) cliResult {
	return runWithEnv(f.t, map[string]string{"MERIDIAN_API_ENDPOINT": f.srv.URL, "MERIDIAN_PROJECT": "p"}, "", args...)
}

// runWithEnv runs one command line with the given environment and stdin; the
// configuration file is in a fresh directory unless MERIDIAN_CONFIG is given.
func runWithEnv(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := Env{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv:     func(k string) string { return env[k] },
		ConfigPath: env["MERIDIAN_CONFIG"],
	}
	if e.ConfigPath == "" {
		e.ConfigPath = filepath.Join(t.TempDir(), "config.json")
	}
	root := &cobra.Command{Use: "meridian", SilenceUsage: true}
	root.AddCommand(NewCommands(e)...)
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	return cliResult{stdout.String(), stderr.String(), err}
}

// mustSucceed fails the test unless the command succeeded.
func (r cliResult) mustSucceed(t *testing.T) cliResult {
	t.Helper()
	if r.err != nil {
		t.Fatalf("command failed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	return r
}

// mustFail fails the test unless the command failed with stderr containing want.
func (r cliResult) mustFail(t *testing.T, want string) cliResult {
	t.Helper()
	if r.err == nil {
		t.Fatalf("command succeeded; want an error containing %q\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr = %q, want it to contain %q", r.stderr, want)
	}
	return r
}

// jsonOf re-encodes a decoded body for comparisons.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
