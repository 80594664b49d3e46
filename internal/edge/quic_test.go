package edge

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TestHTTP3: an HTTPS forwarding rule serves HTTP/3 on the same port over UDP, with
// the same routing and request log, and advertises it over TCP (Alt-Svc), by default
// (quicOverride NONE, as GCP's front ends do); DISABLE stops both, ENABLE brings them
// back.
func TestHTTP3(t *testing.T) {
	t.Parallel() // mostly waiting (timeouts, a stopping etcd): beside the other waiting tests
	h := newHarness(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over "+r.Header.Get("Via")) }))
	defer origin.Close()
	cert, key, pool := selfSigned(t, "a.example.com")
	httpHarness(t, h, origin, map[string]any{"logConfig": map[string]any{"enable": true}}, map[string]any{"defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "sproxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "sfr", "IPAddress": "127.0.0.2", "portRange": "443", "target": "global/targetHttpsProxies/sproxy"})
	addr := h.waitFor("the HTTPS listener", func(a map[string]string) bool { return a["127.0.0.2:443"] != "" })["127.0.0.2:443"]
	_, port, _ := strings.Cut(addr, ":")
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "a.example.com"}
	tcp := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}}
	altSvc := func() string {
		resp, err := tcp.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Alt-Svc")
	}
	h3 := func() (string, error) {
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/h3", nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.Proto + " " + string(body), nil
	}

	want := `h3=":` + port + `"; ma=2592000`
	waitUntil(t, "HTTP/3 advertised", func() bool { return altSvc() == want })
	if got, err := h3(); err != nil || got != "HTTP/3.0 hello over 1.1 meridian" {
		t.Fatalf("HTTP/3 request: %q, %v", got, err)
	}
	waitUntil(t, "the HTTP/3 request logged", func() bool { return strings.Contains(h.logs.String(), `"protocol":"HTTP/3.0"`) })

	h.call("POST", "global/targetHttpsProxies/sproxy/setQuicOverride", map[string]any{"quicOverride": "DISABLE"})
	waitUntil(t, "HTTP/3 no longer advertised", func() bool { return altSvc() == "" })
	if got, err := h3(); err == nil {
		t.Errorf("HTTP/3 answered %q with quicOverride DISABLE", got)
	}
	h.call("POST", "global/targetHttpsProxies/sproxy/setQuicOverride", map[string]any{"quicOverride": "ENABLE"})
	waitUntil(t, "HTTP/3 advertised again", func() bool { return altSvc() == want })
	if _, err := h3(); err != nil {
		t.Errorf("HTTP/3 after ENABLE: %v", err)
	}
}
