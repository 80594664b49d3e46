package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/api"
	"meridian/internal/cdn"
	"meridian/internal/cdn/signed"
	"meridian/internal/observe"
	"meridian/internal/router"
	"meridian/internal/snapshot"
)

// proxy routes and forwards requests with the edge's current snapshot.
type proxy struct {
	edge *Edge
	// backends pool connections to every backend endpoint, a transport each
	backends   backendTransports
	peers      *http.Transport // to the other members of the cache group
	inflight   inflight
	reverse    *httputil.ReverseProxy // every forward: newReverseProxy
	routedHook atomic.Pointer[func()] // test hook: a request was routed with a URL map
	// unrecorded counts requests being answered whose request log entry and metrics
	// are not recorded yet: a response's last bytes can reach its client first
	unrecorded atomic.Int64
	workers    *workers // HTTP/2 and HTTP/3 handlers' goroutines (workers.go)
}

// connectTimeout bounds a connection attempt to a backend. A host that died answers
// nothing (no refusal), and every request would wait this long before it moves to the
// next region: two seconds allows one lost SYN to be sent again (Envoy's default is
// five; a global load balancer always has another region to go to).
const connectTimeout = 2 * time.Second

func newProxy(e *Edge) *proxy {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
	base.MaxIdleConnsPerHost = 64
	base.ResponseHeaderTimeout = 0 // the backend service's timeout applies per request
	// Like GCP's front ends, the load balancer encrypts to backends but does not
	// authenticate them: backend certificates are not verified.
	base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	h2c := base.Clone()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	p := &proxy{edge: e, peers: newPeerTransport(), workers: newWorkers(),
		backends: backendTransports{templates: map[string]*http.Transport{"http1": base, "tls": base.Clone(), "h2c": h2c}}}
	p.reverse = p.newReverseProxy()
	return p
}

// close drops the connections the edge keeps to backends and peers (after the
// listeners and the cache have stopped).
func (p *proxy) close() {
	p.workers.close()
	p.backends.retain(nil)
	p.peers.CloseIdleConnections()
}

// backendTransports pool connections per backend endpoint and protocol: a transport
// each, made when first used and closed when the endpoint leaves the configuration
// (retain), so that no connection to a removed backend is kept. The protocols:
// HTTP/1.1, TLS (HTTP/1.1 or h2 by ALPN), and h2c (HTTP/2 without TLS).
type backendTransports struct {
	templates map[string]*http.Transport // by kind

	mu sync.Mutex
	m  map[transportKey]*http.Transport
}

type transportKey struct{ kind, host string }

// get is the transport to host for a backend service's protocol.
func (b *backendTransports) get(protocol, host string) *http.Transport {
	kind := "http1"
	switch protocol {
	case "HTTPS", "HTTP2":
		kind = "tls"
	case "H2C":
		kind = "h2c"
	}
	k := transportKey{kind, host}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.m[k]; t != nil {
		return t
	}
	if b.m == nil {
		b.m = map[transportKey]*http.Transport{}
	}
	t := b.templates[kind].Clone()
	b.m[k] = t
	return t
}

// retain closes the transports of hosts not in keep (their idle connections at once;
// requests in flight finish on theirs).
func (b *backendTransports) retain(keep map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, t := range b.m {
		if !keep[k.host] {
			t.CloseIdleConnections()
			delete(b.m, k)
		}
	}
}

// defaultBackendTimeout is GCP's default backend service timeoutSec.
const defaultBackendTimeout = 30 * time.Second

// timeoutFor is the route action's timeout, else the backend service's timeoutSec.
func timeoutFor(bs *api.BackendService, action *api.HttpRouteAction) time.Duration {
	if action != nil && action.Timeout != nil {
		return time.Duration(action.Timeout.Seconds)*time.Second + time.Duration(action.Timeout.Nanos)
	}
	if bs.TimeoutSec > 0 {
		return time.Duration(bs.TimeoutSec) * time.Second
	}
	return defaultBackendTimeout
}

// statusDetails are GCP's explanations of a response, as the request log records them.
const (
	detailFromBackend     = "response_sent_by_backend"
	detailPickBackend     = "failed_to_pick_backend"
	detailConnect         = "failed_to_connect_to_backend"
	detailServerlessRoute = "serverless_neg_routing_failed"
	detailTimeout         = "backend_timeout"
	detailClientGone      = "client_disconnected_before_any_response"
	detailConnect405      = "connect_method_not_supported"
)

func (p *proxy) handler(addr string) http.Handler {
	serve := p.serveHTTP(addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor >= 2 {
			// A stream's own goroutine: run on a worker's grown stack instead.
			p.workers.do(func() { serve(w, r) })
			return
		}
		serve(w, r)
	})
}

// serveHTTP is the handler of the listener at addr, on whichever goroutine runs it.
func (p *proxy) serveHTTP(addr string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		p.unrecorded.Add(1)
		defer p.unrecorded.Add(-1)
		if r.TLS == nil {
			// A TLS connection the fast path handed to net/http: the state it saw.
			r.TLS, _ = r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
		}
		if r.ProtoMajor == 1 {
			// Stream both ways at once, as HTTP/2 does: an origin may answer before it
			// has read the whole request body.
			http.NewResponseController(w).EnableFullDuplex()
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		var entry observe.Entry
		log := p.serve(rec, r, addr, &entry)
		// A body the answer did not need is drained here, inside the handler: with full
		// duplex, net/http would drain it after the handler and then race its own read
		// of the next request (golang/go#68560: "invalid concurrent Body.Read call").
		body.Close()
		entry.Status, entry.ResponseSize, entry.StatusDetails = rec.status, rec.bytes, rec.detail
		if !rec.wroteHeader && r.Context().Err() != nil {
			// The client left before anything was sent: GCP logs no status for it.
			entry.Status, entry.StatusDetails = 0, detailClientGone
		}
		p.record(&entry, log, r, start, body.n.Load())
	}
}

// tlsStateKey is the context key of a handed-over TLS connection's state.
type tlsStateKey struct{}

// record counts one request in the metrics and, when its backend service's logConfig
// samples it, completes its entry and queues it in the request log. A request that is
// not logged costs no more than the draw.
func (p *proxy) record(e *observe.Entry, log snapshot.LogPolicy, r *http.Request, start time.Time, bodyBytes int64) {
	if p.edge.cfg.RequestLog != nil && log.Sampled() {
		describe(e, log, r, start)
		e.RequestSize = requestHeaderSize(r) + bodyBytes
		p.edge.cfg.RequestLog.Log(e)
	}
	p.edge.cfg.Metrics.Observe(e)
}

// routed is a request's place in the configuration, worked out once: the snapshot,
// the listener, the URL map's match and the scheme it was made for. The fast path and
// the general handler read it, and a request the fast path hands to net/http (a miss)
// takes its routed value along instead of being routed again.
type routed struct {
	snap   *snapshot.Snapshot
	l      *snapshot.Listener
	res    router.Result
	scheme string
	// the request it was made for
	method, target, host string
	// the security policy's verdict, when the fast path checked it
	policy policyVerdict
}

// ref is a copy of the value to hand on (only requests that are handed on pay for
// one on the heap; a fast hit does not).
func (rt routed) ref() *routed { return &rt }

// route routes a request on a listener, or takes the routed value the fast path made
// for it; false when the listener is gone.
func (p *proxy) route(r *http.Request, addr string) (routed, bool) {
	snap := p.edge.snap.Load()
	if pre := takeRouted(r); pre != nil && pre.snap == snap && pre.method == r.Method && pre.target == r.RequestURI && pre.host == r.Host {
		return *pre, true
	}
	l := snap.Listeners[addr]
	if l == nil {
		return routed{}, false
	}
	if hook := p.routedHook.Load(); hook != nil {
		(*hook)()
	}
	res, scheme := match(l, r)
	return routed{snap: snap, l: l, res: res, scheme: scheme, method: r.Method, target: r.RequestURI, host: r.Host}, true
}

// preRouted holds, in a connection's or request's context, a routed value made before
// net/http read the request; the first request that takes it empties it.
type preRouted struct{ v atomic.Pointer[routed] }

type preRoutedKey struct{}

func withRouted(ctx context.Context, rt *routed) context.Context {
	h := &preRouted{}
	h.v.Store(rt)
	return context.WithValue(ctx, preRoutedKey{}, h)
}

func takeRouted(r *http.Request) *routed {
	if h, ok := r.Context().Value(preRoutedKey{}).(*preRouted); ok {
		return h.v.Swap(nil)
	}
	return nil
}

// match routes a request with a listener's URL map.
func match(l *snapshot.Listener, r *http.Request) (router.Result, string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s, ok := r.Context().Value(peerSchemeKey{}).(string); ok {
		scheme = s // a peer's request, made for its client's scheme
	}
	return l.Router.Match(router.Request{Scheme: scheme, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header}), scheme
}

// setListener fills in the request log entry's part that names the forwarding rule's
// resources.
func setListener(e *observe.Entry, l *snapshot.Listener) {
	e.Project, e.ForwardingRule, e.TargetProxy, e.URLMap = l.Labels.Project, l.Labels.ForwardingRule, l.Labels.TargetProxy, l.Labels.URLMap
}

// serve routes and answers one request, fills in what the request log names, and
// returns the log policy of the backend service that answered (none: not logged, when
// no backend service did, as for a redirect). The entry is the caller's, not a value
// returned: a hit's goroutine starts on a small stack, and large frames on its path
// make it grow (and be copied) once more.
func (p *proxy) serve(w *recorder, r *http.Request, addr string, entry *observe.Entry) snapshot.LogPolicy {
	if r.Method == http.MethodConnect {
		// An edge is no tunnel: CONNECT (HTTP/1.1's, or HTTP/2's) reaches no backend.
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		errorResponse(w, http.StatusMethodNotAllowed, detailConnect405, "The load balancer does not tunnel connections (CONNECT).")
		return snapshot.LogPolicy{}
	}
	rt, ok := p.route(r, addr)
	if !ok {
		errorResponse(w, http.StatusServiceUnavailable, detailPickBackend, "This forwarding rule is being removed.")
		return snapshot.LogPolicy{}
	}
	snap, l, res, scheme := rt.snap, rt.l, &rt.res, rt.scheme
	setListener(entry, l)
	if !l.HTTPS && p.edge.challenges.Load().answerHTTP01(w, r) {
		return snapshot.LogPolicy{} // an ACME server validating a domain, before any URL map
	}
	if res.Redirect != nil {
		w.Header().Set("Location", res.Redirect.Location)
		w.WriteHeader(res.Redirect.Code)
		return snapshot.LogPolicy{}
	}
	service := res.Service
	if len(res.Weighted) > 0 {
		service = pickWeighted(res.Weighted)
	}
	entry.BackendService = api.LastSegment(service)
	svc := snap.Services[service]
	if svc == nil {
		errorResponse(w, http.StatusServiceUnavailable, detailPickBackend, "No backend service is configured for this route.")
		return snapshot.LogPolicy{}
	}
	verdict := rt.policy
	if verdict.svc != svc {
		verdict = p.checkPolicy(svc, r, scheme)
	}
	if verdict.enforce(w, r, entry) {
		return svc.Log // refused before the cache and the backends
	}
	if svc.Resource.EnableCDN && p.edge.cache != nil {
		p.serveCached(w, r, svc, res, scheme, addr, entry)
		return svc.Log
	}
	attempts, detail, msg := p.plan(svc, r)
	if len(attempts) == 0 {
		errorResponse(w, http.StatusServiceUnavailable, detail, msg)
		return svc.Log
	}
	w.detail = detailFromBackend
	p.forward(w, r, svc, attempts, *res, scheme, false)
	return svc.Log
}

// recorder notes what was answered, for the request log. Unwrap lets
// http.ResponseController reach the connection's Flush.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
	detail      string
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingBody counts the request body bytes read, for the request log. The count is
// atomic: a transport may still be sending the body when the handler logs.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// requestHeaderSize approximates the bytes of the request line and headers as sent
// in HTTP/1.1, the part of Cloud Logging's requestSize that precedes the body.
func requestHeaderSize(r *http.Request) int64 {
	n := len(r.Method) + len(r.URL.RequestURI()) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host)
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4
		}
	}
	return int64(n + 2)
}

// describe fills in what a logged entry says of the request: when, how long, the
// URL, the client and the server, and the TLS fields the log policy includes.
func describe(e *observe.Entry, log snapshot.LogPolicy, r *http.Request, start time.Time) {
	e.Time, e.Latency = start, time.Since(start)
	e.Method, e.Protocol = r.Method, r.Proto
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
		if log.TLSProtocol {
			e.TLSVersion = tlsVersionName(r.TLS.Version)
		}
		if log.TLSCipher {
			e.TLSCipher = tls.CipherSuiteName(r.TLS.CipherSuite)
		}
	}
	// The encoder composes the URL and the addresses, off the request's path.
	e.Scheme, e.Host, e.Target = scheme, r.Host, r.RequestURI
	if !strings.HasPrefix(e.Target, "/") {
		e.Target = r.URL.RequestURI() // absolute-form, or a request made here
	}
	e.UserAgent, e.Referer = r.UserAgent(), r.Referer()
	e.RemoteAddr = r.RemoteAddr
	e.LocalAddr, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
}

// forwarding is what the edge's one reverse proxy and failover transport need of a
// request they forward; it travels in the request's context.
type forwarding struct {
	svc      *snapshot.BackendService
	attempts []attempt
	res      router.Result
	scheme   string
	// fill marks a response for the cache: the per-client response headers (header
	// actions, custom response headers) are left to the cache, which adds them to
	// every response it serves.
	fill   bool
	client *http.Request // the client's request, for custom header variables
}

type forwardingKey struct{}

func forwardingOf(r *http.Request) *forwarding {
	return r.Context().Value(forwardingKey{}).(*forwarding)
}

// forward proxies the request to its backends with the load balancer's headers:
// X-Forwarded-*, Via in both directions, the URL map's rewrite, and the backend
// service's custom headers.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request, svc *snapshot.BackendService, attempts []attempt, res router.Result, scheme string, fill bool) {
	// The timeout covers the whole exchange with the backend, as GCP's backend service
	// timeout does for HTTP(S) load balancers.
	ctx, cancel := context.WithTimeout(r.Context(), timeoutFor(svc.Resource, res.Action))
	defer cancel()
	fw := &forwarding{svc: svc, attempts: attempts, res: res, scheme: scheme, fill: fill, client: r}
	p.reverse.ServeHTTP(w, r.WithContext(context.WithValue(ctx, forwardingKey{}, fw)))
}

// copyBuffers are the reverse proxy's body copy buffers, reused: without a pool it
// allocates (and clears) 32 KiB for every response it forwards.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (copyBuffers) Get() []byte  { return copyBufferPool.Get().(*[32 << 10]byte)[:] }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put((*[32 << 10]byte)(b[:32<<10])) }

// newReverseProxy is the edge's one reverse proxy: every forward goes through it and
// its failover transport, with what is particular to the request in its context.
func (p *proxy) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:  failover{proxy: p},
		BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			fw := forwardingOf(pr.In)
			pr.SetURL(fw.attempts[0].target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = fw.res.RewrittenPath, ""
			pr.Out.Host = fw.res.RewrittenHost
			pr.SetXForwarded()
			// GCP's front end appends its own address: "<client>, <load balancer>".
			if la, ok := pr.In.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				if ip, _, err := net.SplitHostPort(la.String()); err == nil {
					pr.Out.Header.Set("X-Forwarded-For", pr.Out.Header.Get("X-Forwarded-For")+", "+ip)
				}
			}
			pr.Out.Header.Set("X-Forwarded-Proto", fw.scheme)
			pr.Out.Header.Add("Via", "1.1 meridian")
			applyHeaderActions(pr.Out.Header, fw.res.HeaderActions, true)
			applyCustomHeaders(pr.Out.Header, fw.svc.Resource.CustomRequestHeaders, fw.client, p.edge.cfg.ClientRegions)
		},
		ModifyResponse: func(resp *http.Response) error {
			fw := forwardingOf(resp.Request)
			resp.Header.Add("Via", "1.1 meridian")
			if !fw.fill {
				applyHeaderActions(resp.Header, fw.res.HeaderActions, false)
				applyCustomHeaders(resp.Header, fw.svc.Resource.CustomResponseHeaders, fw.client, p.edge.cfg.ClientRegions)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(r.Context().Err(), context.Canceled) {
				return // the client left: nobody to answer
			}
			if errors.Is(err, errAllFailed) {
				errorResponse(w, http.StatusServiceUnavailable, detailPickBackend, "Every backend of this backend service failed.")
				return
			}
			if ne, ok := err.(net.Error); (ok && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
				errorResponse(w, http.StatusGatewayTimeout, detailTimeout, "The backend did not answer in time.")
				return
			}
			errorResponse(w, http.StatusBadGateway, detailConnect, "The backend could not be reached.")
		},
		FlushInterval: -1, // stream responses as they arrive
	}
}

// pickWeighted chooses one of weightedBackendServices in proportion to its weight.
func pickWeighted(ws []api.WeightedBackendService) string {
	total := int64(0)
	for _, w := range ws {
		total += w.Weight
	}
	if total <= 0 {
		return ws[0].BackendService
	}
	n := rand.Int64N(total)
	for _, w := range ws {
		if n < w.Weight {
			return w.BackendService
		}
		n -= w.Weight
	}
	return ws[len(ws)-1].BackendService
}

// errorResponse answers with a short body, as GCP's front ends do, and records the
// statusDetails for the request log.
func errorResponse(w http.ResponseWriter, code int, detail, msg string) {
	if rec, ok := w.(*recorder); ok {
		rec.detail = detail
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Meridian-Status-Details", detail)
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), msg)
}

// cdnVarsKey carries the cache's outcome to the custom header variables
// {cdn_cache_status} and {cdn_cache_id}.
type cdnVarsKey struct{}

type cdnVars struct{ status, id string }

// cdnRoute is what the cache needs of a request's route.
func (p *proxy) cdnRoute(r *http.Request, svc *snapshot.BackendService, res *router.Result, scheme string) cdn.Route {
	bs := svc.Resource
	return cdn.Route{
		Policy: bs.CdnPolicy, Service: svc.Path, Scheme: scheme, Timeout: timeoutFor(bs, res.Action),
		Decorate: func(h http.Header, status string) {
			applyHeaderActions(h, res.HeaderActions, false)
			vr := r.WithContext(context.WithValue(r.Context(), cdnVarsKey{}, cdnVars{status: status, id: p.edge.cache.Name()}))
			applyCustomHeaders(h, bs.CustomResponseHeaders, vr, p.edge.cfg.ClientRegions)
		},
	}
}

// serveCached answers a request on a CDN-enabled backend service through the edge's
// cache; the cache calls back into the load balancer for fills and validations.
func (p *proxy) serveCached(w *recorder, r *http.Request, svc *snapshot.BackendService, res *router.Result, scheme, addr string, entry *observe.Entry) {
	bs := svc.Resource
	route := p.cdnRoute(r, svc, res, scheme)
	peer := fromPeer(r)
	if peer {
		// Another edge fills its cache: the stored response as stored, undecorated.
		route.Peer, route.Decorate = true, nil
	}
	origin := func(fw http.ResponseWriter, fr *http.Request) {
		// A miss asks the edge of the group that owns the URL first, unless this
		// request came from a peer (one hop in the group) or is signed (verified here,
		// not there).
		if !peer && !route.Signed {
			if m := p.edge.group.Owner(scheme + "://" + fr.Host + fr.URL.RequestURI()); m != nil && p.fillFromPeer(fw, fr, m, addr, scheme) {
				return
			}
		}
		// Then the parent tier, which a group owner asks too (a parent's own parent
		// is asked in turn, up to a few hops).
		if m := p.edge.parent(); m != nil && !route.Signed && p.fillFromPeer(fw, fr, m, addr, scheme) {
			return
		}
		attempts, detail, msg := p.plan(svc, fr)
		if len(attempts) == 0 {
			errorResponse(fw, http.StatusServiceUnavailable, detail, msg)
			return
		}
		p.forward(fw, fr, svc, attempts, *res, scheme, true)
	}
	if len(bs.SignedURLKeys) > 0 {
		switch outcome, reason := p.verifySigned(r, bs, scheme); outcome {
		case signed.Invalid:
			errorResponse(w, http.StatusForbidden, detailSignedURL, "the request's signed URL or cookie is not valid: "+reason)
			return
		case signed.Valid:
			// Cached apart from unsigned responses, under the URL without its signature
			// (one entry for every signed URL of the object), and fetched without it.
			route.Signed = true
			r = r.Clone(r.Context())
			r.URL.RawQuery = signed.StripQuery(r.URL.RawQuery)
			r.RequestURI = r.URL.RequestURI()
		}
	}
	result := p.edge.cache.Serve(w, r, route, origin)
	w.detail = result.Detail
	if d := w.Header().Get("X-Meridian-Status-Details"); d != "" {
		w.detail = d // the load balancer's own error, passed through the cache
	}
	entry.CacheLookup, entry.CacheHit, entry.CacheValidated = result.Lookup, result.Hit, result.Validated
	entry.CacheFillBytes, entry.CacheID, entry.CacheDecision = result.FillBytes, p.edge.cache.Name(), result.Decision
	entry.CacheFillFromPeer = result.PeerFill
	if result.PeerFill && w.detail == "response_sent_by_backend" {
		w.detail = detailFromPeer
	}
	entry.CacheStatus = result.Status
}

// detailSignedURL is the statusDetails of a request refused for its signature.
const detailSignedURL = "denied_by_signed_url"

// verifySigned checks a request on a backend service with signed URL keys.
func (p *proxy) verifySigned(r *http.Request, bs *api.BackendService, scheme string) (signed.Outcome, string) {
	sr := signed.Request{Method: r.Method, Scheme: scheme, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	if c, err := r.Cookie(signed.CookieName); err == nil {
		sr.Cookie = c.Value
	}
	now := time.Now
	if p.edge.cfg.Now != nil {
		now = p.edge.cfg.Now
	}
	return signed.Verify(sr, bs.SignedURLKeys, now())
}
