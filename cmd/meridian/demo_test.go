package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDemo runs the README's first command from nothing: the seed's service in two
// regions behind one load balancer, reachable over HTTPS as printed; the closest region
// answers, and when it is deleted the next one does.
func TestDemo(t *testing.T) {
	bin := buildMeridian(t)
	work := t.TempDir()
	env := append(os.Environ(), "MERIDIAN_CONFIG="+filepath.Join(work, "config.json"), "HOME="+work,
		"MERIDIAN_API_ENDPOINT=", "MERIDIAN_PROJECT=", "MERIDIAN_API_TOKEN=")
	dataDir := filepath.Join(work, "data")
	httpsPort, httpPort := freePort(t, "127.0.10.1"), freePort(t, "127.0.10.1")
	cmd := exec.Command(bin, "demo", "--data-dir="+dataDir, "--api-listen=127.0.0.1:0", "--request-log=off",
		fmt.Sprintf("--port-map=443:%d,80:%d", httpsPort, httpPort), "--idle-timeout=1h")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo exited with %v after SIGINT\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("demo did not stop within 30s of SIGINT")
		}
	}()

	// Read what it prints until the curl line.
	var printed strings.Builder
	curl := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			printed.WriteString(line + "\n")
			if strings.HasPrefix(strings.TrimSpace(line), "curl ") {
				curl <- strings.TrimSpace(line)
			}
		}
	}()
	var line string
	select {
	case line = <-curl:
	case err := <-done:
		t.Fatalf("demo exited: %v\n%s", err, stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("demo printed no curl line within 3 minutes\n%s", stderr.String())
	}

	// Do what the curl line says: --cacert CA --resolve host:port:ip URL.
	f := strings.Fields(line)
	if len(f) != 6 || f[1] != "--cacert" || f[3] != "--resolve" {
		t.Fatalf("curl line %q", line)
	}
	pem, err := os.ReadFile(f[2])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	resolve := strings.Split(f[4], ":")
	target := net.JoinHostPort(resolve[2], resolve[1])
	if resolve[1] != strconv.Itoa(httpsPort) {
		t.Errorf("curl line port %s, want %d", resolve[1], httpsPort)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, target)
		},
	}}
	page := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := client.Get(f[5])
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && bytes.Contains(body, []byte(want)) {
					return string(body)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("want %q from %s: %v %s", want, f[5], err, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	body := page("Service: <strong>my-global-app</strong>")
	if !strings.Contains(body, "Region: <strong>us-central1</strong>") {
		t.Errorf("the closest region (us-central1, where the edge is) did not answer:\n%s", body)
	}
	for _, want := range []string{"get-health cloudrun-backend", "run services delete my-global-app --region=us-central1"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("the demo does not say %q:\n%s", want, printed.String())
		}
	}

	// Delete the closest region's service, as the demo suggests: the next one answers.
	del := exec.Command(bin, "run", "services", "delete", "my-global-app", "--region=us-central1", "--quiet")
	del.Env = env
	if out, err := del.CombinedOutput(); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	page("Region: <strong>europe-west1</strong>")
}

// syncedBuffer collects a process's output while the test may read it.
type syncedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
