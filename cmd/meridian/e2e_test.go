package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedCommands extracts the gcloud command sequence of the seed document verbatim: each
// line starting with "gcloud" and its "--flag" continuation lines, joined with the
// shell's line continuations, with gcloud replaced by tool.
func seedCommands(t *testing.T, doc, tool string) []string {
	t.Helper()
	var cmds []string
	var cur []string
	flush := func() {
		if cur != nil {
			cmds = append(cmds, strings.Join(cur, " \\\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "gcloud "):
			flush()
			cur = []string{strings.TrimSuffix(line, " \\")}
		case cur != nil && strings.HasPrefix(line, "--"):
			cur = append(cur, strings.TrimSuffix(line, " \\"))
		default:
			flush()
		}
	}
	flush()
	for i, c := range cmds {
		cmds[i] = regexp.MustCompile(`\bgcloud\b`).ReplaceAllString(c, tool)
	}
	return cmds
}

// TestSeedDocumentUnchanged keeps the test's copy of the seed identical to shared/.
func TestSeedDocumentUnchanged(t *testing.T) {
	for _, name := range []string{"global-lb-cloud-run.txt", "service.yaml"} {
		shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "seeds", name))
		if err != nil {
			t.Skipf("shared/ is not beside the repository: %v", err)
		}
		local, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil || !bytes.Equal(shared, local) {
			t.Errorf("testdata/%s differs from shared/seeds/%s: copy it again", name, name)
		}
	}
	// The demo deploys the seed's YAML too.
	seed, _ := os.ReadFile(filepath.Join("testdata", "service.yaml"))
	if demo, err := os.ReadFile(filepath.Join("..", "..", "internal", "demo", "service.yaml")); err != nil || !bytes.Equal(seed, demo) {
		t.Errorf("internal/demo/service.yaml differs from the seed's: copy it again")
	}
}

// buildMeridian compiles the real binary once per test.
func buildMeridian(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meridian")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliEnv is the environment of a shell that runs bin as `meridian` with its own
// configuration under work, whatever the machine's is.
func cliEnv(bin, work string) []string {
	return append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "MERIDIAN_CONFIG="+filepath.Join(work, "config.json"),
		"MERIDIAN_API_ENDPOINT=", "MERIDIAN_PROJECT=", "MERIDIAN_API_TOKEN=", "HOME="+work)
}

// server is a running `meridian serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	done   chan error
	stderr *lockedBuffer // what serve logged
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServe(t *testing.T, bin, dataDir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir=" + dataDir, "--api-listen=127.0.0.1:0"}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), stderr: stderr}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "API listening on ")
		if !ok {
			t.Fatalf("first line of serve: %q", line)
		}
		s.url = url
	case err := <-s.done:
		t.Fatalf("serve exited: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve printed no listening line within 60s\n%s", stderr.String())
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and requires a clean, prompt exit.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("serve did not stop within 30s of SIGINT; it logged:\n%s", s.stderr.String())
	}
}

// TestSeedScriptEndToEnd runs the seed's command sequence verbatim through a shell
// against the real binary, checks every resource, restarts the server and checks
// that everything is still there.
func TestSeedScriptEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not available")
	}
	bin := buildMeridian(t)
	work := t.TempDir()
	env := cliEnv(bin, work)
	dataDir := filepath.Join(work, "data")
	// The seed's --ports=443 is served on a free unprivileged port.
	httpsPort := freePort(t, "127.0.10.1")
	portMap := fmt.Sprintf("--port-map=443:%d", httpsPort)
	srv := startServe(t, bin, dataDir, env, portMap)

	doc, err := os.ReadFile(filepath.Join("testdata", "global-lb-cloud-run.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := seedCommands(t, string(doc), "meridian")
	if len(cmds) != 8 {
		t.Fatalf("found %d gcloud commands in the seed, want 8:\n%s", len(cmds), strings.Join(cmds, "\n"))
	}
	script := "set -euo pipefail\ncp " + filepath.Join(mustAbs(t, "testdata"), "service.yaml") + " service.yaml\n" +
		"meridian run services replace service.yaml --region=us-central1\n" + strings.Join(cmds, "\n") + "\n"
	run := func(script string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir, cmd.Env = work, env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("script failed: %v\n--- script\n%s\n--- stdout\n%s\n--- stderr\n%s", err, script, out.String(), errOut.String())
		}
		return out.String()
	}
	run(script)

	describe := func(args string) map[string]any {
		t.Helper()
		var m map[string]any
		out := run("meridian " + args + " --format=json")
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v\n%s", args, err, out)
		}
		return m
	}
	check := func() {
		t.Helper()
		neg := describe("compute network-endpoint-groups describe cloudrun-neg --region=us-central1")
		if neg["networkEndpointType"] != "SERVERLESS" || neg["cloudRun"].(map[string]any)["service"] != "my-global-app" {
			t.Errorf("neg: %v", neg)
		}
		bs := describe("compute backend-services describe cloudrun-backend --global")
		if bs["enableCDN"] != true || bs["loadBalancingScheme"] != "EXTERNAL_MANAGED" || len(bs["backends"].([]any)) != 1 ||
			!strings.HasSuffix(bs["backends"].([]any)[0].(map[string]any)["group"].(string), "/projects/default/regions/us-central1/networkEndpointGroups/cloudrun-neg") {
			t.Errorf("backend service: %v", bs)
		}
		um := describe("compute url-maps describe cloudrun-url-map")
		if !strings.HasSuffix(um["defaultService"].(string), "/global/backendServices/cloudrun-backend") {
			t.Errorf("url map: %v", um)
		}
		cert := describe("compute ssl-certificates describe my-ssl-cert")
		if cert["type"] != "MANAGED" || cert["managed"].(map[string]any)["domains"].([]any)[0] != "your-domain.com" {
			t.Errorf("certificate: %v", cert)
		}
		proxy := describe("compute target-https-proxies describe https-proxy")
		if !strings.HasSuffix(proxy["urlMap"].(string), "/urlMaps/cloudrun-url-map") || len(proxy["sslCertificates"].([]any)) != 1 {
			t.Errorf("proxy: %v", proxy)
		}
		addr := describe("compute addresses describe global-ip --global")
		fr := describe("compute forwarding-rules describe https-forwarding-rule --global")
		if fr["IPAddress"] != addr["address"] || fr["portRange"] != "443-443" || !strings.HasSuffix(fr["target"].(string), "/targetHttpsProxies/https-proxy") {
			t.Errorf("forwarding rule %v, address %v", fr, addr)
		}
		if addr["status"] != "IN_USE" {
			t.Errorf("address status %v", addr["status"])
		}
		svc := describe("run services describe my-global-app --region=us-central1")
		if svc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] != "us-docker.pkg.dev/cloudrun/container/hello" {
			t.Errorf("service: %v", svc)
		}
	}
	check()

	// A restart keeps every resource.
	srv.stop(t)
	startServe(t, bin, dataDir, env, portMap)
	check()

	// Real HTTPS through the forwarding rule: the MANAGED certificate was issued by the
	// development CA, HTTP/2 is negotiated, the serverless NEG reaches the seed's service
	// run by the region runtime, and a path rule to an internet NEG reaches a real origin.
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s %s", r.Host, r.URL.Path)
	}))
	defer origin.Close()
	originPort := origin.Listener.Addr().(*net.TCPAddr).Port
	run(fmt.Sprintf(`set -e
meridian compute network-endpoint-groups create origin-neg --global --network-endpoint-type=INTERNET_IP_PORT
meridian compute network-endpoint-groups update origin-neg --global --add-endpoint="ip=127.0.0.1,port=%d"
meridian compute backend-services create origin-backend --global --load-balancing-scheme=EXTERNAL_MANAGED
meridian compute backend-services add-backend origin-backend --global --global-network-endpoint-group --network-endpoint-group=origin-neg
meridian compute url-maps add-path-matcher cloudrun-url-map --path-matcher-name=static --default-service=cloudrun-backend --path-rules="/static/*=origin-backend" --new-hosts=your-domain.com
`, originPort))
	ip := describe("compute addresses describe global-ip --global")["address"].(string)
	client := lbClient(t, run("meridian ca-cert --data-dir="+dataDir), ip, httpsPort)
	// Meanwhile, a client that sends its request a byte a second, as serve's defaults
	// meet it: cut within 15 s of connecting (the header timeout is 10 s).
	slowCut := make(chan error, 1)
	go func() { slowCut <- trickle(ip, httpsPort, 15*time.Second) }()
	fetch := func(path, want string) (*http.Response, string) {
		t.Helper()
		return fetchUntil(t, client, "https://your-domain.com"+path, want)
	}
	resp, body := fetch("/static/app.js", "origin saw")
	if resp.ProtoMajor != 2 || body != "origin saw your-domain.com /static/app.js" {
		t.Errorf("static: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	resp, body = fetch("/", "Revision: <strong>my-global-app-00001-")
	if !strings.Contains(body, "Service: <strong>my-global-app</strong>") || !strings.Contains(body, "Revision: <strong>my-global-app-00001-") {
		t.Errorf("the seed's service: %d %q", resp.StatusCode, body)
	}
	svc := describe("run services describe my-global-app --region=us-central1")
	if st := svc["status"].(map[string]any); st["conditions"].([]any)[0].(map[string]any)["status"] != "True" || st["url"] == nil {
		t.Errorf("service status: %v", st)
	}

	// A second revision deployed with a tag and no traffic: the service keeps serving the
	// first, a serverless NEG naming the tag reaches the second, and moving the traffic
	// to the latest revision moves the load balancer's traffic.
	out := runCombined(t, env, work, `meridian run deploy my-global-app --image=us-docker.pkg.dev/cloudrun/container/hello --region=us-central1 --set-env-vars=COLOR=green --tag=green --no-traffic`)
	if !strings.Contains(out, "my-global-app-00002-") || !strings.Contains(out, "serving 0 percent") {
		t.Errorf("deploy --tag --no-traffic said:\n%s", out)
	}
	run(`set -e
meridian compute network-endpoint-groups create green-neg --region=us-central1 --network-endpoint-type=serverless --cloud-run-service=my-global-app --cloud-run-tag=green
meridian compute backend-services create green-backend --global --load-balancing-scheme=EXTERNAL_MANAGED
meridian compute backend-services add-backend green-backend --global --network-endpoint-group=green-neg --network-endpoint-group-region=us-central1
meridian compute url-maps remove-path-matcher cloudrun-url-map --path-matcher-name=static
meridian compute url-maps add-path-matcher cloudrun-url-map --path-matcher-name=paths --default-service=cloudrun-backend --path-rules="/static/*=origin-backend,/green/*=green-backend" --new-hosts=your-domain.com
`)
	fetch("/green/", "Revision: <strong>my-global-app-00002-")
	if _, body := fetch("/", "Service: <strong>my-global-app</strong>"); !strings.Contains(body, "my-global-app-00001-") {
		t.Errorf("--no-traffic moved traffic: %s", body)
	}
	revs := run("meridian run revisions list --region=us-central1 --service=my-global-app")
	if !strings.Contains(revs, "my-global-app-00001-") || !strings.Contains(revs, "my-global-app-00002-") {
		t.Errorf("revisions list:\n%s", revs)
	}
	if out := run("meridian run services update-traffic my-global-app --region=us-central1 --to-latest"); !strings.Contains(out, "100% LATEST (currently my-global-app-00002-") {
		t.Errorf("update-traffic printed:\n%s", out)
	}
	fetch("/", "Revision: <strong>my-global-app-00002-")

	// Bad input: clear errors, nothing half-created.
	os.WriteFile(filepath.Join(work, "bad.yaml"), []byte("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  template:\n    spec:\n      containers:\n      - image: x\n        imagePullPolicy: Always\n        bogus: 1\n"), 0o644)
	if out, err := runFails(t, env, work, "meridian run services replace bad.yaml --region=us-central1"); err == nil || !strings.Contains(out, "bogus") {
		t.Errorf("unknown field: err=%v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(work, "broken.yaml"), []byte("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: [\n"), 0o644)
	if out, err := runFails(t, env, work, "meridian run services replace broken.yaml --region=us-central1"); err == nil || !strings.Contains(strings.ToLower(out), "yaml") {
		t.Errorf("bad YAML: err=%v\n%s", err, out)
	}
	if list := run("meridian run services list --region=us-central1 --format='value(metadata.name)'"); strings.TrimSpace(list) != "my-global-app" {
		t.Errorf("bad input left services behind: %q", list)
	}
	// With a container engine the image is looked for and not found; without one it
	// cannot run at all. Either way the deploy fails, naming the image.
	if out, err := runFails(t, env, work, "meridian run deploy other --image=gcr.io/example/unknown --region=us-central1"); err == nil ||
		!strings.Contains(out, "Image 'gcr.io/example/unknown") || !strings.Contains(out, "not found") && !strings.Contains(out, "cannot be run here") {
		t.Errorf("unknown image: err=%v\n%s", err, out)
	}

	// Errors print GCP's message and exit non-zero.
	cmd := exec.Command(bin, "compute", "backend-services", "create", "cloudrun-backend", "--global")
	cmd.Env, cmd.Dir = env, work
	dup, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(dup), "already exists") {
		t.Errorf("duplicate create: err=%v output=%s", err, dup)
	}
	if err := <-slowCut; err != nil {
		t.Error(err)
	}
}

// trickle connects over TLS to ip:port and sends a request's header block one byte a
// second; it reports an error unless the server cuts the connection within limit of
// the connect, without answering.
func trickle(ip string, port int, limit time.Duration) error {
	start := time.Now()
	c, err := tls.Dial("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), &tls.Config{InsecureSkipVerify: true, ServerName: "your-domain.com", NextProtos: []string{"http/1.1"}})
	if err != nil {
		return fmt.Errorf("slow client: %v", err)
	}
	defer c.Close()
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: your-domain.com\r\nUser-Agent: slow\r\n\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	c.SetReadDeadline(start.Add(limit + 5*time.Second))
	n, err := c.Read(make([]byte, 1))
	held := time.Since(start)
	switch {
	case n > 0:
		return fmt.Errorf("the edge answered a request sent a byte a second")
	case held > limit:
		return fmt.Errorf("a client sending a byte a second was held %v (read: %v)", held.Round(time.Millisecond), err)
	}
	return nil
}

// lbClient is an HTTPS client of a forwarding rule at ip:port that trusts the
// development CA whose root caPEM holds (`meridian ca-cert`), whatever host it asks for.
func lbClient(t *testing.T, caPEM, ip string, port int) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("ca-cert printed no certificate: %q", caPEM)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(ip, strconv.Itoa(port)))
		},
	}}
}

// fetchUntil GETs url until it answers 200 with a body containing want (the edge and
// the runtime follow changes within moments), for at most 20 seconds.
func fetchUntil(t *testing.T, client *http.Client, url, want string) (*http.Response, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(url)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), want) {
				return resp, string(body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: want %q, got %v %s", url, want, err, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runCombined runs a bash command line and returns its stdout and stderr together; it
// must succeed.
func runCombined(t *testing.T, env []string, dir, line string) string {
	t.Helper()
	out, err := runFails(t, env, dir, line)
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return out
}

// runFails runs a bash command line and returns its combined output and error.
func runFails(t *testing.T, env []string, dir, line string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freePort finds a port that is free on ip now.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
