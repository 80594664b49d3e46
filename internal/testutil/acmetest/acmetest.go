// Package acmetest runs Pebble, Let's Encrypt's ACME test server, inside the test
// process, with a DNS server of its own for the names it validates: tests of ACME
// issuance talk to a real ACME server that really validates challenges, on loopback.
package acmetest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Server is a running Pebble.
type Server struct {
	// Directory is the ACME directory URL; CAFile holds the root of its HTTPS
	// certificate (what --acme-ca-file names).
	Directory string
	CAFile    string
	ca        *ca.CAImpl
	dns       *resolver
}

// Config says where Pebble's validation authority connects: the port it sends HTTP-01
// requests to (a load balancer's port 80) and TLS-ALPN-01 handshakes to (its 443),
// and which address each name resolves to.
type Config struct {
	HTTPPort, TLSPort int
	Hosts             map[string]string // name → IPv4 address
}

// Start runs Pebble until the test ends. Its validation is real (no always-valid
// mode); its random sleeps, nonce rejections and authorization reuse are off, so runs
// are deterministic.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	setPebbleEnv()
	r := &resolver{hosts: map[string]string{}}
	for name, ip := range cfg.Hosts {
		r.set(name, ip)
	}
	dnsAddr := r.start(t)
	logger := log.New(io.Discard, "", 0)
	if os.Getenv("PEBBLE_LOG") != "" {
		logger = log.New(os.Stderr, "pebble: ", log.Ltime)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, cfg.HTTPPort, cfg.TLSPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewTLSServer(retryAfter{front.Handler()})
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "pebble-https-root.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Server{Directory: srv.URL + wfe.DirectoryPath, CAFile: caFile, ca: authority, dns: r}
}

// Roots is the pool of Pebble's root, which the certificates it issues chain to.
func (s *Server) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ca.GetRootCert(0).PEM())
	return pool
}

// SetHost makes name resolve to ip from now on.
func (s *Server) SetHost(name, ip string) { s.dns.set(name, ip) }

// pebbleEnv is read by Pebble in va.New and wfe.New. The values are the same for every
// Pebble a test process starts, so they are set once for the process (parallel tests
// cannot use t.Setenv).
var pebbleEnv sync.Once

func setPebbleEnv() {
	pebbleEnv.Do(func() {
		os.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random waits before validating
		os.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no nonces refused at random
		os.Setenv("PEBBLE_AUTHZREUSE", "0")      // every order validates anew
		os.Unsetenv("PEBBLE_VA_ALWAYS_VALID")    // validation is real
	})
}

// retryAfter adds Retry-After: 1 to Pebble's answers to challenge requests, which have
// none, so that clients poll the authorization after a second, not five.
type retryAfter struct{ h http.Handler }

func (ra retryAfter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/chalZ/") {
		w.Header().Set("Retry-After", "1")
	}
	ra.h.ServeHTTP(w, r)
}

// resolver answers A queries for its hosts over UDP and TCP (Pebble asks over TCP);
// every other name does not exist.
type resolver struct {
	mu    sync.Mutex
	hosts map[string]string // fully qualified, lower case
}

func (r *resolver) set(name, ip string) {
	r.mu.Lock()
	r.hosts[dns.Fqdn(strings.ToLower(name))] = ip
	r.mu.Unlock()
}

func (r *resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	for _, q := range req.Question {
		r.mu.Lock()
		ip, ok := r.hosts[strings.ToLower(q.Name)]
		r.mu.Unlock()
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP(ip).To4()})
		}
	}
	w.WriteMsg(m)
}

func (r *resolver) start(t testing.TB) string {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	servers := []*dns.Server{{Listener: tcp, Handler: r}, {PacketConn: udp, Handler: r}}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ActivateAndServe()
		}()
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Shutdown()
		}
		wg.Wait()
	})
	return tcp.Addr().String()
}
