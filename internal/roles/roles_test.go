package roles

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meridian/internal/runtime"
	"meridian/internal/store"
)

// TestMain lets the test binary stand in for `meridian builtin hello`, which region
// runtimes start as a container process.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "builtin" && os.Args[2] == "hello" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := runtime.ServeHello(ctx); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestNonLoopbackNeedsToken(t *testing.T) {
	err := API(context.Background(), store.Etcd{Endpoints: []string{"http://127.0.0.1:1"}}, APIConfig{Listen: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "--api-token-file is required") {
		t.Fatalf("API on 0.0.0.0 without a token: %v", err)
	}
	for _, l := range []string{"127.0.0.1:0", "[::1]:9", "localhost:1"} {
		if !isLoopback(l) {
			t.Errorf("isLoopback(%q) = false", l)
		}
	}
	for _, l := range []string{"0.0.0.0:1", ":80", "10.0.0.1:1", "example.com:1"} {
		if isLoopback(l) {
			t.Errorf("isLoopback(%q) = true", l)
		}
	}
}

// TestServeWithToken runs the embedded default with a token: a request without it gets
// 401 and changes nothing, a request with it succeeds; cancelling the context stops
// everything.
func TestServeWithToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeConfig{DataDir: filepath.Join(dir, "data"), API: APIConfig{
			Listen: "127.0.0.1:0", TokenFile: tokenFile, Ready: func(url string) { ready <- url },
		}})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	post := func(token string) int {
		req, _ := http.NewRequest("POST", url+"/compute/v1/projects/p/global/addresses", strings.NewReader(`{"name":"a"}`))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code := post("wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code := post("s3cret"); code != 200 {
		t.Errorf("right token: %d", code)
	}
	if code := post("s3cret"); code != 409 {
		t.Errorf("second insert: %d (the first 401s must not have created it either)", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}

// TestAPIOnExternalEtcd runs the api role against an etcd it does not own, and checks
// that what one API process writes another one reads: state is only in etcd.
func TestAPIOnExternalEtcd(t *testing.T) {
	e, err := store.StartEmbedded(context.Background(), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	start := func() (string, context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan string, 1), make(chan error, 1)
		go func() {
			done <- API(ctx, store.Etcd{Endpoints: []string{e.Endpoint}}, APIConfig{Listen: "127.0.0.1:0", Ready: func(u string) { ready <- u }})
		}()
		select {
		case u := <-ready:
			return u, cancel, done
		case err := <-done:
			t.Fatalf("api: %v", err)
		}
		return "", cancel, done
	}
	a, stopA, doneA := start()
	b, stopB, doneB := start()
	resp, err := http.Post(a+"/compute/v1/projects/p/global/addresses", "application/json", strings.NewReader(`{"name":"shared"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("insert via a: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(b + "/compute/v1/projects/p/global/addresses/shared")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("get via b: %v %v", resp, err)
	}
	resp.Body.Close()

	// A MANAGED certificate inserted through one API is issued (by the issuers the API
	// processes run), and both serve the root it chains to: one CA, kept in etcd.
	resp, err = http.Post(a+"/compute/v1/projects/p/global/sslCertificates", "application/json", strings.NewReader(`{"name":"c","managed":{"domains":["example.com"]}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("insert the certificate: %v %v", resp, err)
	}
	resp.Body.Close()
	var cert struct {
		Certificate string
		Managed     struct{ Status string }
	}
	for deadline := time.Now().Add(10 * time.Second); cert.Managed.Status != "ACTIVE"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the certificate was not issued: %+v", cert)
		}
		resp, err := http.Get(b + "/compute/v1/projects/p/global/sslCertificates/c")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&cert)
		resp.Body.Close()
	}
	rootOf := func(api string) []byte {
		resp, err := http.Get(api + "/meridian/v1/ca.pem")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s/meridian/v1/ca.pem: %v %v", api, resp, err)
		}
		defer resp.Body.Close()
		pemData, _ := io.ReadAll(resp.Body)
		return pemData
	}
	rootA, rootB := rootOf(a), rootOf(b)
	roots := x509.NewCertPool()
	if !bytes.Equal(rootA, rootB) || !roots.AppendCertsFromPEM(rootA) {
		t.Fatalf("the two APIs serve different roots:\n%s\n%s", rootA, rootB)
	}
	block, _ := pem.Decode([]byte(cert.Certificate))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err != nil {
		t.Errorf("the issued certificate does not chain to the served root: %v", err)
	}

	stopA()
	stopB()
	if err := <-doneA; err != nil {
		t.Error(err)
	}
	if err := <-doneB; err != nil {
		t.Error(err)
	}
}

// TestEdgeRoleOnExternalEtcd runs the api and edge roles as separate members of one
// deployment: what the API stores, the edge serves.
func TestEdgeRoleOnExternalEtcd(t *testing.T) {
	e, err := store.StartEmbedded(context.Background(), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin") }))
	defer origin.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	edgePort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	apiDone, edgeDone := make(chan error, 1), make(chan error, 1)
	go func() {
		apiDone <- API(ctx, store.Etcd{Endpoints: []string{e.Endpoint}}, APIConfig{Listen: "127.0.0.1:0", Ready: func(u string) { ready <- u }})
	}()
	go func() {
		edgeDone <- Edge(ctx, store.Etcd{Endpoints: []string{e.Endpoint}}, EdgeConfig{Location: "europe-west1", PortMap: fmt.Sprintf("80:%d", edgePort), AdminListen: admin})
	}()
	api := <-ready
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	for _, call := range []struct{ path, body string }{
		{"global/networkEndpointGroups", `{"name":"o","networkEndpointType":"INTERNET_IP_PORT"}`},
		{"global/networkEndpointGroups/o/attachNetworkEndpoints", `{"networkEndpoints":[{"ipAddress":"` + host + `","port":` + port + `}]}`},
		{"global/backendServices", `{"name":"b","backends":[{"group":"global/networkEndpointGroups/o"}]}`},
		{"global/urlMaps", `{"name":"m","defaultService":"global/backendServices/b"}`},
		{"global/targetHttpProxies", `{"name":"p","urlMap":"global/urlMaps/m"}`},
		{"global/forwardingRules", `{"name":"f","IPAddress":"127.0.0.1","portRange":"80","target":"global/targetHttpProxies/p"}`},
	} {
		resp, err := http.Post(api+"/compute/v1/projects/p/"+call.path, "application/json", strings.NewReader(call.body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", call.path, resp, err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", edgePort))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "origin" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge did not serve the forwarding rule: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// --admin-listen serves the edge's Prometheus metrics. The request is counted as it
	// is logged, which may be just after the client has read the answer.
	const want = `meridian_requests_total{backend_service="b",code="200"}`
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(metrics), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the request count:\n%s", metrics)
		}
	}
	cancel()
	if err := <-apiDone; err != nil {
		t.Error(err)
	}
	if err := <-edgeDone; err != nil {
		t.Error(err)
	}
}

func TestParsePortMap(t *testing.T) {
	m, err := ParsePortMap("443:8443, 80:8080")
	if err != nil || m[443] != 8443 || m[80] != 8080 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"443", "a:b", "0:80", "443:70000", "443:8443,x"} {
		if _, err := ParsePortMap(bad); err == nil {
			t.Errorf("ParsePortMap(%q) accepted", bad)
		}
	}
}

// TestRegionRoleOnExternalEtcd runs the api and a standalone region runtime as separate
// members: a service created through the API runs in the region and answers.
func TestRegionRoleOnExternalEtcd(t *testing.T) {
	if err := Region(context.Background(), store.Etcd{}, RegionConfig{Region: "us-central1"}); err == nil {
		t.Error("region without --etcd-endpoints")
	}
	if err := Region(context.Background(), store.Etcd{Endpoints: []string{"http://127.0.0.1:1"}}, RegionConfig{Region: "Not A Region"}); err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("bad --region: %v", err)
	}
	e, err := store.StartEmbedded(context.Background(), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	apiDone, regionDone := make(chan error, 1), make(chan error, 1)
	go func() {
		apiDone <- API(ctx, store.Etcd{Endpoints: []string{e.Endpoint}}, APIConfig{Listen: "127.0.0.1:0", Ready: func(u string) { ready <- u }})
	}()
	go func() {
		regionDone <- Region(ctx, store.Etcd{Endpoints: []string{e.Endpoint}}, RegionConfig{Region: "europe-west1"})
	}()
	api := <-ready
	svcs := api + "/regions/europe-west1/apis/serving.knative.dev/v1/namespaces/p/services"
	resp, err := http.Post(svcs, "application/json", strings.NewReader(`{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello"},"spec":{"template":{"spec":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/hello"}]}}}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("create service: %v %v", resp, err)
	}
	resp.Body.Close()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the region runtime did not make the service ready")
		}
		var svc struct {
			Status struct {
				URL        string `json:"url"`
				Conditions []struct{ Type, Status string }
			} `json:"status"`
		}
		resp, err := http.Get(svcs + "/hello")
		if err != nil {
			continue
		}
		json.NewDecoder(resp.Body).Decode(&svc)
		resp.Body.Close()
		if len(svc.Status.Conditions) > 0 && svc.Status.Conditions[0].Status == "True" {
			url = svc.Status.URL
		}
	}
	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Service: <strong>hello</strong>") {
		t.Errorf("the service answered %s", body)
	}
	cancel()
	if err := <-apiDone; err != nil {
		t.Error(err)
	}
	if err := <-regionDone; err != nil {
		t.Error(err)
	}
}

func TestEdgeLocations(t *testing.T) {
	if _, err := (EdgeConfig{Location: "mars"}).compile(); err == nil || !strings.Contains(err.Error(), "--location") {
		t.Errorf("unknown location: %v", err)
	}
	cfg, err := (EdgeConfig{Location: "home-lab", Locations: "home-lab=52.37,4.90"}).compile()
	if err != nil || cfg.Locations["home-lab"].Lat != 52.37 {
		t.Errorf("own location: %v %+v", err, cfg.Locations)
	}
	if _, err := (EdgeConfig{Location: "fra"}).compile(); err != nil {
		t.Errorf("metro code: %v", err)
	}
	if _, err := (EdgeConfig{Locations: "bad"}).compile(); err == nil || !strings.Contains(err.Error(), "--locations") {
		t.Errorf("bad --locations: %v", err)
	}
}
