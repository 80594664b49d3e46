package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/internal/certs"
	"meridian/internal/store"
	"meridian/internal/testutil/acmetest"
)

// acmeHarness is an edge serving a MANAGED certificate for a.example.com on
// 127.0.0.1:443 (mapped to a fixed port that Pebble validates on), in front of an
// origin, with an ACME issuer on a fake clock.
type acmeHarness struct {
	*harness
	pebble *acmetest.Server
	port   int
	clock  *fakeClock
}

func newACMEHarness(t *testing.T) *acmeHarness {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pebble := acmetest.Start(t, acmetest.Config{TLSPort: port, Hosts: map[string]string{"a.example.com": "127.0.0.1"}})
	h := newHarnessWith(t, func(c *Config) { c.PortMap = map[int]int{443: port} })
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	t.Cleanup(origin.Close)
	host, oport, _ := net.SplitHostPort(origin.Listener.Addr().String())
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": mustAtoi(oport)}}})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "cert", "type": "MANAGED", "managed": map[string]any{"domains": []string{"a.example.com"}}})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	return &acmeHarness{harness: h, pebble: pebble, port: port, clock: newFakeClock(time.Now())}
}

// runIssuer runs an ACME issuer until the test ends.
func (a *acmeHarness) runIssuer(t *testing.T, directory string) {
	is := &certs.Issuer{Store: a.st, ACME: &certs.ACMEConfig{Directory: directory, CAFile: a.pebble.CAFile, RetryAfter: time.Hour},
		Now: a.clock.Now, After: a.clock.After, Log: testLog{t}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- is.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (a *acmeHarness) managed() map[string]any {
	m, _ := a.call("GET", "global/sslCertificates/cert", nil)["managed"].(map[string]any)
	return m
}

// client trusts only Pebble's root; keepAlive false opens a connection per request.
func (a *acmeHarness) client(keepAlive bool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive,
		TLSClientConfig: &tls.Config{RootCAs: a.pebble.Roots(), ServerName: "a.example.com"},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(a.port))
		}}}
}

// get returns the serial of the certificate the request's connection was set up with
// and whether the connection was reused.
func get(t *testing.T, c *http.Client) (serial string, reused bool, err error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://a.example.com/", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
	resp, err := c.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "hello" {
		return "", reused, errors.New("answer " + resp.Status + " " + string(body))
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.String(), reused, nil
}

// TestACMERenewalKeepsConnections: a MANAGED certificate ordered from Pebble (the edge
// answers TLS-ALPN-01 before any certificate is served) becomes ACTIVE; 70 days later
// (30 before it expires) it is renewed, new handshakes get the new certificate, and a
// connection opened before goes on serving requests.
func TestACMERenewalKeepsConnections(t *testing.T) {
	t.Parallel() // waits on Pebble's validation
	a := newACMEHarness(t)
	a.runIssuer(t, a.pebble.Directory)
	waitUntil(t, "the certificate is ACTIVE", func() bool { return a.managed()["status"] == "ACTIVE" })
	kept := a.client(true)
	first, _, err := get(t, kept)
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(70 * 24 * time.Hour)
	fresh := a.client(false)
	waitUntil(t, "a new handshake gets the renewed certificate", func() bool {
		s, _, err := get(t, fresh)
		return err == nil && s != first
	})
	serial, reused, err := get(t, kept)
	if err != nil || !reused || serial != first {
		t.Errorf("the connection from before the renewal: serial %s (before %s), reused %v, %v", serial, first, reused, err)
	}
}

// TestACMEServerDown: with the ACME server unreachable the certificate stays
// PROVISIONING (the reason is logged and kept with its retry schedule), and the
// listener serves no certificate at all rather than a wrong one.
func TestACMEServerDown(t *testing.T) {
	t.Parallel() // waits on Pebble's validation
	a := newACMEHarness(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://" + dead.Addr().String() + "/dir"
	dead.Close()
	a.runIssuer(t, deadURL)
	var state store.KV
	waitUntil(t, "the failed attempt is recorded", func() bool {
		kvs, _, _ := a.st.ListAll(context.Background(), "acme/state/")
		if len(kvs) == 1 {
			state = kvs[0]
		}
		return len(kvs) == 1
	})
	if m := a.managed(); m["status"] != "PROVISIONING" || m["domainStatus"].(map[string]any)["a.example.com"] != "PROVISIONING" {
		t.Errorf("managed %v", m)
	}
	if s := string(state.Value); !containsAll(s, `"attempts":1`, "ACME directory "+deadURL) {
		t.Errorf("state %s", s)
	}
	if _, _, err := get(t, a.client(false)); err == nil {
		t.Error("a handshake succeeded with no certificate issued")
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// fakeClock is a clock a test moves: After fires when Advance passes its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeTimer{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}
