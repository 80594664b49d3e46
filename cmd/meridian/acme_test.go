package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meridian/internal/testutil/acmetest"
)

// TestACMEManagedCertificates runs `meridian serve` against Pebble, a real ACME server
// that validates every challenge over loopback, with its own DNS: the seed's MANAGED
// certificate is ordered, validated through the edge (TLS-ALPN-01 on the forwarding
// rule's 443) and becomes ACTIVE, and the edge serves a chain that verifies against
// Pebble's root; a domain that resolves elsewhere is FAILED_NOT_VISIBLE; port 80
// redirects to HTTPS the GCP way; after a restart with --acme-challenges=http-01, a new
// certificate is validated through the port-80 forwarding rule with the same account.
func TestACMEManagedCertificates(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("bash not available")
	}
	bin := buildMeridian(t)
	work := t.TempDir()
	env := cliEnv(bin, work)
	const lbIP = "127.0.10.1" // the first address of serve's pool: the seed's global-ip
	httpsPort, httpPort := freePort(t, lbIP), freePort(t, lbIP)
	pebble := acmetest.Start(t, acmetest.Config{HTTPPort: httpPort, TLSPort: httpsPort, Hosts: map[string]string{
		"your-domain.com": lbIP, "http01.example.com": lbIP,
		"elsewhere.example.com": "127.0.10.99", // nothing listens there
	}})
	dataDir := filepath.Join(work, "data")
	serveArgs := []string{fmt.Sprintf("--port-map=443:%d,80:%d", httpsPort, httpPort), "--acme-directory=" + pebble.Directory, "--acme-ca-file=" + pebble.CAFile}
	srv := startServe(t, bin, dataDir, env, serveArgs...)
	sh := func(line string) string { t.Helper(); return runCombined(t, env, work, line) }

	doc, err := os.ReadFile(filepath.Join("testdata", "global-lb-cloud-run.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sh("set -euo pipefail\ncp " + filepath.Join(mustAbs(t, "testdata"), "service.yaml") + " service.yaml\n" +
		"meridian run services replace service.yaml --region=us-central1\n" + strings.Join(seedCommands(t, string(doc), "meridian"), "\n"))
	managed := func(name string) map[string]any {
		t.Helper()
		var cert map[string]any
		out := sh("meridian compute ssl-certificates describe " + name + " --format=json")
		if err := json.Unmarshal([]byte(out), &cert); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m, _ := cert["managed"].(map[string]any)
		return m
	}
	waitStatus := func(name, want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			m := managed(name)
			if m["status"] == want {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: managed %v, want status %s\nserve said:\n%s", name, m, want, srv.stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The seed's certificate: ordered, validated through the edge, ACTIVE.
	m := waitStatus("my-ssl-cert", "ACTIVE")
	if m["domainStatus"].(map[string]any)["your-domain.com"] != "ACTIVE" {
		t.Errorf("domainStatus %v", m["domainStatus"])
	}
	if !strings.Contains(srv.stderr.String(), "answering the tls-alpn-01 challenge for your-domain.com") {
		t.Errorf("no TLS-ALPN-01 answer in serve's log:\n%s", srv.stderr.String())
	}
	// The edge serves Pebble's chain: a client that trusts only Pebble's root verifies it.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pebble.Roots(), ServerName: "your-domain.com"},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("%s:%d", lbIP, httpsPort))
		}}}
	resp, body := fetchUntil(t, client, "https://your-domain.com/", "Service: <strong>my-global-app</strong>")
	if issuer := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Errorf("leaf issued by %q, want Pebble's intermediate (%.100s)", issuer, body)
	}

	// A domain that does not reach this load balancer.
	sh("meridian compute ssl-certificates create elsewhere --domains=elsewhere.example.com")
	m = waitStatus("elsewhere", "PROVISIONING_FAILED")
	if m["domainStatus"].(map[string]any)["elsewhere.example.com"] != "FAILED_NOT_VISIBLE" {
		t.Errorf("elsewhere: domainStatus %v", m["domainStatus"])
	}

	// HTTP to HTTPS, the GCP way: a port-80 forwarding rule whose URL map redirects.
	sh(`set -euo pipefail
cat > redirect.yaml <<'YAML'
kind: compute#urlMap
name: http-redirect
defaultUrlRedirect:
  redirectResponseCode: MOVED_PERMANENTLY_DEFAULT
  httpsRedirect: true
YAML
meridian compute url-maps import http-redirect --source=redirect.yaml --global --quiet
meridian compute target-http-proxies create http-proxy --url-map=http-redirect
meridian compute forwarding-rules create http-forwarding-rule --address=` + lbIP + ` --global --target-http-proxy=http-proxy --ports=80`)
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var loc string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := plain.Get(fmt.Sprintf("http://%s:%d/some/path?q=1", lbIP, httpPort))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusMovedPermanently {
				loc = resp.Header.Get("Location")
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no redirect on port 80: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := fmt.Sprintf("https://%s:%d/some/path?q=1", lbIP, httpPort); loc != want && !strings.HasPrefix(loc, "https://"+lbIP) {
		t.Errorf("redirected to %q, want https://%s…", loc, lbIP)
	}

	// HTTP-01 through the port-80 rule, after a restart (the account is kept in etcd).
	srv.stop(t)
	srv = startServe(t, bin, dataDir, env, append(serveArgs, "--acme-challenges=http-01")...)
	sh("meridian compute ssl-certificates create http01 --domains=http01.example.com")
	waitStatus("http01", "ACTIVE")
	log := srv.stderr.String()
	if !strings.Contains(log, "answering the http-01 challenge for http01.example.com") || strings.Contains(log, "registered") {
		t.Errorf("serve after the restart said:\n%s", log)
	}
}
