package edge

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/internal/cluster"
	"meridian/internal/controlplane"
	"meridian/internal/observe"
	"meridian/internal/store"
	"meridian/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// harness is an API server and an edge sharing one store.
type harness struct {
	t    *testing.T
	st   *store.Store
	api  *httptest.Server
	edge *Edge
	logs *testLogs
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith lets a test adjust the edge's configuration.
func newHarnessWith(t *testing.T, adjust func(*Config)) *harness {
	st := testutil.Store(t)
	api := httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())
	t.Cleanup(api.Close)
	logs := newTestLogs(t)
	cfg := Config{PortMap: map[int]int{443: 0, 80: 0}, Log: testLog{t}, RequestLog: logs.log}
	if adjust != nil {
		adjust(&cfg)
	}
	e := startEdge(t, st, cfg)
	logs.edge.Store(e)
	return &harness{t: t, st: st, api: api, edge: e, logs: logs}
}

// startEdge runs an edge on st until the test ends.
func startEdge(t *testing.T, st *store.Store, cfg Config) *Edge {
	e := New(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- e.Run(ctx, func() { close(ready) }) }()
	<-ready
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return e
}

// syncBuffer is a buffer the edge writes to while the test reads.
// testLogs is a request log a test reads: String first waits until every entry
// logged so far is written.
type testLogs struct {
	buf syncBuffer
	log *observe.RequestLog
	// edge, when set, is waited for: every request it answered is recorded before
	// String reads (a response can reach its client before its entry is queued)
	edge atomic.Pointer[Edge]
}

func newTestLogs(t *testing.T) *testLogs {
	l := &testLogs{}
	l.log = observe.NewRequestLog(&l.buf)
	t.Cleanup(l.log.Close) // after the edge stops (cleanups run last first)
	return l
}

func (l *testLogs) String() string {
	if e := l.edge.Load(); e != nil {
		for deadline := time.Now().Add(10 * time.Second); e.proxy.unrecorded.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	l.log.Flush()
	return l.buf.String()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (h *harness) call(method, path string, body any) map[string]any {
	h.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.api.URL+"/compute/v1/projects/p/"+path, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		h.t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

// waitFor polls the edge's listeners until cond holds, with a deadline.
func (h *harness) waitFor(what string, cond func(map[string]string) bool) map[string]string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		addrs := h.edge.ListenAddresses()
		if cond(addrs) {
			return addrs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; listening on %v", what, addrs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func selfSigned(t *testing.T, hosts ...string) (certPEM, keyPEM string, pool *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), pool
}

// TestHTTPSThroughForwardingRule configures a load balancer in front of a test origin
// through the API and sends real HTTPS (HTTP/2) requests through the edge.
func TestHTTPSThroughForwardingRule(t *testing.T) {
	t.Parallel() // nothing timed: beside the waiting tests
	h := newHarness(t)
	var seen http.Header
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("X-Origin-Path", r.URL.Path)
		io.WriteString(w, "hello from the origin")
	}))
	defer origin.Close()
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	certA, keyA, poolA := selfSigned(t, "a.example.com")
	certB, keyB, poolB := selfSigned(t, "b.example.com")

	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": json.Number(port)}}})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "loadBalancingScheme": "EXTERNAL_MANAGED",
		"backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}, "customResponseHeaders": []string{"X-Served-By: meridian-test"}, "customRequestHeaders": []string{"X-Client: tls={tls_version}", "X-RTT: {client_rtt_msec}"},
		"logConfig": map[string]any{"enable": true, "optionalMode": "CUSTOM", "optionalFields": []string{"tls.protocol"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert-a", "certificate": certA, "privateKey": keyA})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert-b", "certificate": certB, "privateKey": keyB})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert-a", "global/sslCertificates/cert-b"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})

	addr := h.waitFor("the HTTPS listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]
	get := func(name string, pool *x509.CertPool) *http.Response {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: name, RootCAs: pool}, ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get("https://" + name + "/hello?x=1")
		if err != nil {
			t.Fatalf("GET via %s: %v", name, err)
		}
		return resp
	}
	// SNI picks each certificate; the client verifies it against its own root.
	for _, tc := range []struct {
		name string
		pool *x509.CertPool
	}{{"a.example.com", poolA}, {"b.example.com", poolB}} {
		resp := get(tc.name, tc.pool)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello from the origin" || resp.ProtoMajor != 2 {
			t.Fatalf("%s: %d %s %q", tc.name, resp.StatusCode, resp.Proto, body)
		}
		if resp.Header.Get("X-Served-By") != "meridian-test" || !strings.Contains(strings.Join(resp.Header.Values("Via"), ","), "1.1 meridian") {
			t.Errorf("response headers %v", resp.Header)
		}
	}
	if seen.Get("X-Forwarded-Proto") != "https" || seen.Get("X-Forwarded-For") != "127.0.0.1, 127.0.0.1" || seen.Get("Via") != "1.1 meridian" || seen.Get("X-Client") != "tls=TLSv1.3" {
		t.Errorf("origin saw headers %v", seen)
	}
	if rtt, err := strconv.Atoi(seen.Get("X-Rtt")); err != nil || rtt < 0 {
		t.Errorf("{client_rtt_msec} expanded to %q", seen.Get("X-Rtt"))
	}
	// One request log line per request in Cloud Logging's load balancer shape. The line
	// is written after the response, so wait for it.
	var entry struct {
		Resource struct {
			Type   string            `json:"type"`
			Labels map[string]string `json:"labels"`
		} `json:"resource"`
		HTTPRequest map[string]any `json:"httpRequest"`
		JSONPayload map[string]any `json:"jsonPayload"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(h.logs.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := json.Unmarshal([]byte(strings.SplitN(h.logs.String(), "\n", 2)[0]), &entry); err != nil {
		t.Fatalf("request log %q: %v", h.logs.String(), err)
	}
	if entry.Resource.Type != "http_load_balancer" || entry.Resource.Labels["forwarding_rule_name"] != "fr" || entry.Resource.Labels["backend_service_name"] != "web" ||
		entry.HTTPRequest["status"] != float64(200) || entry.HTTPRequest["requestUrl"] != "https://a.example.com/hello?x=1" ||
		entry.JSONPayload["statusDetails"] != "response_sent_by_backend" || entry.HTTPRequest["responseSize"] != "21" {
		t.Errorf("request log entry %+v", entry)
	}
	// The optional fields are the ones logConfig names: tls.protocol, not tls.cipher.
	if fields, _ := entry.JSONPayload["tls"].(map[string]any); fields["protocol"] != "TLSv1.3" || len(fields) != 1 {
		t.Errorf("optional fields %v, want only tls.protocol", entry.JSONPayload["tls"])
	}

	// A URL map change applies to the next request, on the same listener.
	um := h.call("GET", "global/urlMaps/map", nil)
	h.call("PATCH", "global/urlMaps/map", map[string]any{"fingerprint": um["fingerprint"], "defaultService": nil,
		"defaultUrlRedirect": map[string]any{"hostRedirect": "elsewhere.example", "redirectResponseCode": "FOUND"}})
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp := get("a.example.com", poolA)
		resp.Body.Close()
		if resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == "https://elsewhere.example/hello?x=1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redirect not applied: %d %v", resp.StatusCode, resp.Header)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if now := h.edge.ListenAddresses()["127.0.0.1:443"]; now != addr {
		t.Errorf("listener restarted: %s → %s", addr, now)
	}

	// Removing the forwarding rule closes its listener.
	h.call("DELETE", "global/forwardingRules/fr", nil)
	h.waitFor("the listener to close", func(a map[string]string) bool { return a["127.0.0.1:443"] == "" })
}

// TestMembership: a running edge is listed under members/edges/ with its location, and
// is gone as soon as it stops.
func TestMembership(t *testing.T) {
	st := testutil.Store(t)
	e := New(st, Config{Location: "europe-west1"})
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- e.Run(ctx, func() { close(ready) }) }()
	<-ready
	kvs, _, err := st.ListAll(context.Background(), cluster.MembersPrefix)
	if err != nil || len(kvs) != 1 || kvs[0].Lease == 0 {
		t.Fatalf("members: %+v %v", kvs, err)
	}
	var m cluster.Member
	if err := json.Unmarshal(kvs[0].Value, &m); err != nil || m.Location != "europe-west1" || !strings.HasPrefix(m.ID, "europe-west1-") {
		t.Fatalf("member %+v %v", m, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if kvs, _, _ := st.ListAll(context.Background(), cluster.MembersPrefix); len(kvs) != 0 {
		t.Fatalf("still listed after stopping: %+v", kvs)
	}
}

// TestNoSNIGetsFirstCertificate: a TLS client that sends no server name gets the
// proxy's first certificate, as GCP's front ends do.
func TestNoSNIGetsFirstCertificate(t *testing.T) {
	h := newHarness(t)
	origin := httptest.NewServer(http.NotFoundHandler())
	defer origin.Close()
	certA, keyA, _ := selfSigned(t, "a.example.com")
	certB, keyB, _ := selfSigned(t, "b.example.com")
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_FQDN_PORT"})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert-b", "certificate": certB, "privateKey": keyB})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert-a", "certificate": certA, "privateKey": keyA})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert-b", "global/sslCertificates/cert-a"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	addr := h.waitFor("the listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]
	for _, tc := range []struct{ sni, want string }{{"", "b.example.com"}, {"unknown.example.org", "b.example.com"}, {"a.example.com", "a.example.com"}} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		conn.Close()
		if got != tc.want {
			t.Errorf("SNI %q got %s, want %s", tc.sni, got, tc.want)
		}
	}
}
