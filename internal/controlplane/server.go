// Package controlplane serves Meridian's REST API: Compute Engine v1's paths and JSON
// shapes for the load balancer's resources, Cloud Run Admin API v1 (Knative) paths for
// services, and GCP's operations and error shapes, so that Google's clients, gcloud's
// grammar (through Meridian's CLI) and scripts written for GCP work unchanged.
//
// Every resource is one etcd key holding its JSON. Writes go through store.Apply with
// conditions, so uniqueness, reference checks, in-use checks and fingerprints hold
// under concurrency and across several API processes sharing one etcd. References are
// stored as relative paths and indexed under refs/<target>/<referrer>, which makes
// "is this resource used?" a single prefix condition in the deleting transaction.
package controlplane

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"meridian/internal/store"
)

// Config is the API server's configuration.
type Config struct {
	// BaseURL prefixes rendered selfLinks and references, e.g. "http://127.0.0.1:9610".
	// Stored data holds relative paths, so changing it changes no stored state.
	BaseURL string
	// Token, when set, is the bearer token every request must carry.
	Token string
	// AddressPool is the range global addresses are allocated from.
	AddressPool netip.Prefix
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CARoot returns the root certificate (PEM) of the CA that issues MANAGED
	// certificates, served at /meridian/v1/ca.pem; nil serves none.
	CARoot func(context.Context) ([]byte, error)
}

// Server is the REST API. It holds no resource state of its own: everything is in the
// store, so several Servers may share one etcd cluster.
type Server struct {
	store *store.Store
	cfg   Config
	kinds map[string]*kind
}

// New creates the API server.
func New(st *store.Store, cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !cfg.AddressPool.IsValid() {
		cfg.AddressPool = defaultAddressPool
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return &Server{store: st, cfg: cfg, kinds: computeKinds()}
}

// defaultAddressPool is where `addresses create` allocates on one machine: loopback
// addresses that need no setup on Linux.
var defaultAddressPool = netip.MustParsePrefix("127.0.10.0/24")

// maxBodyBytes bounds request bodies; the largest legitimate ones are certificate
// chains and URL maps with many rules.
const maxBodyBytes = 4 << 20

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/compute/v1/", s.serveCompute)
	mux.HandleFunc("/regions/{region}/apis/serving.knative.dev/v1/namespaces/{namespace}/services", s.serveKnativeCollection)
	mux.HandleFunc("/regions/{region}/apis/serving.knative.dev/v1/namespaces/{namespace}/services/{name}", s.serveKnativeService)
	mux.HandleFunc("/v1/projects/{namespace}/locations/{region}/services", s.serveKnativeCollection)
	mux.HandleFunc("/v1/projects/{namespace}/locations/{region}/services/{name}", s.serveServiceMethod)
	mux.HandleFunc("/regions/{region}/apis/serving.knative.dev/v1/namespaces/{namespace}/revisions", s.serveRevisionCollection)
	mux.HandleFunc("/regions/{region}/apis/serving.knative.dev/v1/namespaces/{namespace}/revisions/{name}", s.serveRevision)
	mux.HandleFunc("/v1/projects/{namespace}/locations/{region}/revisions", s.serveRevisionCollection)
	mux.HandleFunc("/v1/projects/{namespace}/locations/{region}/revisions/{name}", s.serveRevision)
	s.handleGlobalEndpoints(mux)
	s.handleRegions(mux)
	mux.HandleFunc("GET /meridian/v1/ca.pem", s.serveCARoot)
	mux.HandleFunc("POST /v2/entries:list", s.serveEntriesList)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{404, "notFound", "The requested URL " + r.URL.Path + " was not found on this server."})
	})
	mux.Handle("/batch/compute/v1", serveBatch(mux))
	var h http.Handler = mux
	h = limitBody(h)
	if s.cfg.Token != "" {
		h = requireToken(s.cfg.Token, h)
	}
	return refuseTunnels(h)
}

// serveCARoot answers with the root certificate of the CA that issues MANAGED
// certificates (`meridian ca-cert`), from wherever the API runs.
func (s *Server) serveCARoot(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CARoot == nil {
		writeError(w, &apiError{404, "notFound", "This API issues no MANAGED certificates."})
		return
	}
	root, err := s.cfg.CARoot(r.Context())
	if errors.Is(err, store.ErrNotFound) {
		err = &apiError{404, "notFound", "The development CA does not exist yet: no API process has started on this etcd."}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(root)
}

// refuseTunnels answers CONNECT, which gcloud sends when the API is its proxy
// (`meridian gcloud-config`) and a command calls a Google API that Meridian does not
// serve. Clients show a refused tunnel's status line, so that is where the reason goes.
func refuseTunnels(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			next.ServeHTTP(w, r)
			return
		}
		reason := "Meridian serves Compute Engine, Cloud Run, Resource Manager and Service Usage, not " + strings.Map(printableASCII, r.Host)
		hj, ok := w.(http.Hijacker)
		if !ok {
			writeError(w, &apiError{501, "notImplemented", reason})
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 501 " + reason + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})
}

// printableASCII keeps a status line free of control characters a Host could carry.
func printableASCII(r rune) rune {
	if r < ' ' || r > '~' {
		return -1
	}
	return r
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// requireToken rejects requests without the bearer token before they reach any
// handler, so an unauthenticated request changes nothing.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
			writeError(w, &apiError{401, "required", "Request is missing required authentication credential. Expected a valid bearer token (see --api-token-file and MERIDIAN_API_TOKEN)."})
			return
		}
		next.ServeHTTP(w, r)
	})
}
