package edge

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestH2Spec runs h2spec, the HTTP/2 conformance suite, against an HTTPS listener of
// the edge (its own HTTP/2 server, h2.go) and, in the same run, against a bare net/http
// server. The edge must pass every case; Go's own HTTP/2 server fails a few (it answers
// some malformed requests with 400 instead of a stream error, and advertises a larger
// frame size than h2spec assumes), which the log lists for comparison.
// CI installs h2spec (see .ci/run); elsewhere the test is skipped without it.
func TestH2Spec(t *testing.T) {
	t.Parallel() // mostly waiting (timeouts, a stopping etcd): beside the other waiting tests
	bin := findH2Spec(t)
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer origin.Close()
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	cert, key, _ := selfSigned(t, "localhost")
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": mustAtoi(port)}}})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "c", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/c"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	edgeAddr := h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]

	bare := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	bare.EnableHTTP2 = true
	bare.Config.ErrorLog = log.New(io.Discard, "", 0) // h2spec's bad frames are expected
	bare.StartTLS()
	defer bare.Close()

	// Both at once, each section of the suite in a process of its own: most of
	// h2spec's time is spent waiting out its timeouts.
	reports := t.TempDir()
	var g, e h2specRun
	var wg sync.WaitGroup
	wg.Go(func() { g = runH2Spec(bin, bare.Listener.Addr().String(), filepath.Join(reports, "net-http")) })
	wg.Go(func() { e = runH2Spec(bin, edgeAddr, filepath.Join(reports, "edge")) })
	wg.Wait()
	if g.err != nil || e.err != nil {
		t.Fatalf("h2spec against net/http: %v; against the edge: %v", g.err, e.err)
	}
	goFailures, goTotal, edgeFailures, edgeTotal := g.failed, g.total, e.failed, e.total
	t.Logf("h2spec: edge %d cases, %d failed; bare net/http %d cases, %d failed", edgeTotal, len(edgeFailures), goTotal, len(goFailures))
	if edgeTotal != 145 || goTotal != edgeTotal {
		t.Fatalf("h2spec ran %d cases against the edge and %d against net/http", edgeTotal, goTotal)
	}
	failed := slices.Sorted(maps.Keys(edgeFailures))
	if len(failed) > 0 {
		t.Errorf("h2spec cases the edge fails:\n%s", strings.Join(failed, "\n"))
	}
	for id := range goFailures {
		t.Logf("Go's own HTTP/2 server fails: %s", id)
	}
}

func findH2Spec(t *testing.T) string {
	if bin, err := exec.LookPath("h2spec"); err == nil {
		return bin
	}
	if gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "h2spec"); fileExists(gobin) {
		return gobin
	}
	if os.Getenv("CI") != "" {
		t.Fatal("h2spec is not installed; .ci/run installs it")
	}
	t.Skip("h2spec not installed (go install github.com/summerwind/h2spec/cmd/h2spec@latest)")
	return ""
}

// h2specSections split h2spec's suite (145 cases) into parts run side by side.
var h2specSections = []string{"generic", "hpack", "http2/3", "http2/4", "http2/5", "http2/6", "http2/7", "http2/8"}

// h2specRun is what an h2spec run found: the failed cases ("section / case") and the
// number run.
type h2specRun struct {
	failed map[string]bool
	total  int
	err    error
}

// runH2Spec runs every h2spec case against addr over TLS, one process per section,
// writing the reports beside prefix.
func runH2Spec(bin, addr, prefix string) h2specRun {
	parts := make([]h2specRun, len(h2specSections))
	var wg sync.WaitGroup
	for i, section := range h2specSections {
		wg.Go(func() {
			parts[i] = runH2SpecSection(bin, addr, section, fmt.Sprintf("%s-%d.xml", prefix, i))
		})
	}
	wg.Wait()
	all := h2specRun{failed: map[string]bool{}}
	for _, p := range parts {
		if p.err != nil {
			return p
		}
		all.total += p.total
		maps.Copy(all.failed, p.failed)
	}
	return all
}

func runH2SpecSection(bin, addr, section, report string) h2specRun {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, section, "-h", host, "-p", port, "-t", "-k", "-o", "2", "-j", report)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // exits non-zero when any case fails; the report says which
	data, err := os.ReadFile(report)
	if err != nil {
		return h2specRun{err: fmt.Errorf("h2spec %s wrote no report: %v\n%s", section, err, out.String())}
	}
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"classname,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		return h2specRun{err: err}
	}
	run := h2specRun{failed: map[string]bool{}}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			run.total++
			if c.Failure != nil || c.Error != nil {
				run.failed[s.Name+" / "+c.Name] = true
			}
		}
	}
	return run
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
