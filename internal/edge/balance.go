package edge

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"meridian/api"
	"meridian/internal/geo"
	"meridian/internal/health"
	"meridian/internal/lb"
	"meridian/internal/snapshot"
)

// Balancing: for each request the edge asks the lb package for the order in which to
// try the backend service's backends (closest healthy region first), resolves each to
// an address, and a failover transport tries them in turn: a connection failure or a
// 502/503 from one backend sends an idempotent request on to the next within the same
// client request, and every outcome teaches the balancer (outlier detection).

// attempt is one backend the request may go to, and where.
type attempt struct {
	backend *snapshot.Backend
	target  *url.URL
}

// unknownPrior is the round-trip estimate of a backend whose location is unknown:
// behind every located one nearby, ahead of those across an ocean.
const unknownPrior = 80 * time.Millisecond

// prior estimates the round trip from this edge to a backend's region by distance.
func (e *Edge) prior(b *snapshot.Backend) time.Duration {
	if b.Region == "" {
		return 0 // global NEGs are not placed anywhere
	}
	to, ok := e.locations.Lookup(b.Region)
	if !ok || !e.located {
		return unknownPrior
	}
	return geo.EstimatedRTT(e.where, to)
}

// plan orders the backend service's backends and resolves each to an address. When none
// can take the request it returns the statusDetails and message to answer with.
func (p *proxy) plan(svc *snapshot.BackendService, r *http.Request) ([]attempt, string, string) {
	scheme := schemeOf(svc.Resource)
	cands := make([]lb.Candidate, len(svc.Backends))
	targets := make([]*url.URL, len(svc.Backends))
	detail, msg := detailPickBackend, "No backend of this backend service can take the request."
	for i := range svc.Backends {
		b := &svc.Backends[i]
		cands[i] = lb.Candidate{Group: b.Group, Prior: p.edge.prior(b), Scaler: b.CapacityScaler, MaxRate: b.MaxRate, Healthy: true}
		switch b.Type {
		case "INTERNET_FQDN_PORT", "INTERNET_IP_PORT":
			if len(b.Endpoints) == 0 {
				cands[i].Scaler = 0 // nothing to send to
				continue
			}
			addr := p.edge.pickEndpoint(svc, b, scheme)
			if addr == "" { // every endpoint fails its health check: a last resort
				cands[i].Healthy = false
				addr = endpointAddress(b, b.Endpoints[rand.IntN(len(b.Endpoints))], scheme)
			}
			targets[i] = &url.URL{Scheme: scheme, Host: addr}
		case "SERVERLESS":
			target, ok, why := b.ServerlessTarget(r.Host, r.URL.Path)
			u, err := url.Parse(target)
			if !ok || err != nil {
				detail, msg = detailServerlessRoute, why
				cands[i].Scaler = 0
				continue
			}
			targets[i] = u
			if b.CloudRun.URLMask == "" { // one service: one endpoint per region
				cands[i].Endpoint = target
			}
			if ep := b.Services[b.CloudRun.Service]; b.CloudRun.URLMask == "" && !ep.Healthy {
				cands[i].Healthy = false
			}
		default:
			cands[i].Scaler = 0
		}
	}
	order := p.edge.lb.Plan(svc.Path, cands)
	attempts := make([]attempt, 0, len(order))
	for _, i := range order {
		attempts = append(attempts, attempt{backend: &svc.Backends[i], target: targets[i]})
	}
	if len(attempts) == 0 {
		return nil, detail, msg
	}
	return attempts, "", ""
}

// pickEndpoint chooses one of a backend's endpoints that passes its health check, at
// random; "" when none does.
func (e *Edge) pickEndpoint(svc *snapshot.BackendService, b *snapshot.Backend, scheme string) string {
	if svc.HealthCheck == nil {
		return endpointAddress(b, b.Endpoints[rand.IntN(len(b.Endpoints))], scheme)
	}
	start := rand.IntN(len(b.Endpoints))
	for k := range b.Endpoints {
		addr := endpointAddress(b, b.Endpoints[(start+k)%len(b.Endpoints)], scheme)
		if e.checks.passing(svc.Path, b.Group, addr) {
			return addr
		}
	}
	return ""
}

// schemeOf is how the edge speaks to a backend service's backends.
func schemeOf(bs *api.BackendService) string {
	switch bs.Protocol {
	case "HTTPS", "HTTP2":
		return "https"
	}
	return "http" // H2C too: the h2c transport speaks HTTP/2 over plain TCP
}

// outlierOf is the backend service's outlierDetection, GCP's defaults where unset.
func outlierOf(bs *api.BackendService) lb.Outlier {
	o := lb.DefaultOutlier()
	od := bs.OutlierDetection
	if od == nil {
		return o
	}
	setInt := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&o.ConsecutiveErrors, od.ConsecutiveErrors)
	setInt(&o.ConsecutiveGatewayFailure, od.ConsecutiveGatewayFailure)
	setInt(&o.EnforcingConsecutiveErrors, od.EnforcingConsecutiveErrors)
	setInt(&o.EnforcingConsecutiveGatewayFailure, od.EnforcingConsecutiveGatewayFailure)
	setInt(&o.MaxEjectionPercent, od.MaxEjectionPercent)
	if d := od.BaseEjectionTime; d != nil {
		o.BaseEjectionTime = time.Duration(d.Seconds)*time.Second + time.Duration(d.Nanos)
	}
	if d := od.Interval; d != nil {
		o.Interval = time.Duration(d.Seconds)*time.Second + time.Duration(d.Nanos)
	}
	return o
}

// errAllFailed is the outcome when every backend of the plan failed: GCP answers 503
// failed_to_pick_backend.
var errAllFailed = errors.New("every backend of the backend service failed")

// failover tries a request on each attempt of its forwarding in turn. Only requests
// that can be sent again (no body) and are idempotent, or that a retryPolicy covers,
// move on; the others end with the first backend's answer. The edge has one; what it
// needs of a request comes with the request (forwardingOf).
type failover struct{ proxy *proxy }

func (f failover) RoundTrip(req *http.Request) (*http.Response, error) {
	fw := forwardingOf(req)
	bs := fw.svc.Resource
	var policy *api.HttpRetryPolicy
	if fw.res.Action != nil {
		policy = fw.res.Action.RetryPolicy
	}
	retryAny := policy != nil && len(policy.RetryConditions) > 0
	outlier, backends := outlierOf(bs), len(fw.svc.Backends)
	replayable := req.Body == nil || req.Body == http.NoBody
	idempotent := retryAny || req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions
	canMove := replayable && idempotent && len(fw.attempts) > 1
	for k, a := range fw.attempts {
		out, u := *req, *req.URL
		u.Scheme, u.Host = a.target.Scheme, a.target.Host
		out.URL = &u
		attempt := &out
		done := func() {}
		if canMove && k < len(fw.attempts)-1 {
			var ctx context.Context
			ctx, done = f.proxy.inflight.wait(req.Context(), a.target.Host)
			attempt = out.WithContext(ctx)
		}
		var base http.RoundTripper = f.proxy.backends.get(bs.Protocol, a.target.Host)
		if policy != nil {
			base = retryTransport{base: base, policy: policy}
		}
		resp, err := base.RoundTrip(attempt)
		done()
		f.proxy.edge.lb.Observe(fw.svc.Path, a.backend.Group, outcomeOf(resp, err), outlier, backends)
		failed := err != nil || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable
		if !failed || !canMove || req.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
			resp.Body.Close()
		}
	}
	return nil, errAllFailed
}

// outcomeOf classifies an attempt for outlier detection.
func outcomeOf(resp *http.Response, err error) lb.Outcome {
	switch {
	case err != nil:
		return lb.GatewayFailure
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return lb.GatewayFailure
	case resp.StatusCode >= 500:
		return lb.Error
	}
	return lb.Success
}

// follows points the round-trip probes at every serverless backend of the snapshot and
// lets the balancer forget backends that are gone.
func (e *Edge) follows(snap *snapshot.Snapshot) {
	keep := map[string]map[string]bool{}
	targets := map[string]health.Check{}
	for path, svc := range snap.Services {
		groups := map[string]bool{}
		for _, b := range svc.Backends {
			groups[b.Group] = true
			if b.Type != api.NEGServerless || b.CloudRun == nil || b.CloudRun.URLMask != "" {
				continue
			}
			ep, ok := b.Services[b.CloudRun.Service]
			if !ok {
				continue
			}
			if u, err := url.Parse(ep.URL); err == nil && u.Host != "" {
				targets[path+probeKeySep+b.Group] = health.Check{Kind: "RTT", Address: u.Host, Interval: e.cfg.ProbeInterval, Timeout: e.cfg.ProbeTimeout}
			}
		}
		keep[path] = groups
		for key, c := range checksFor(svc, schemeOf(svc.Resource)) {
			targets[key] = c
		}
	}
	e.lb.Retain(keep)
	e.checks.retain(snap, targets)
	e.probes.Set(targets)
	e.proxy.backends.retain(backendHosts(snap))
}

// backendHosts lists every host:port a snapshot's backends may be reached at: the
// region runtimes' service URLs (and their tags') and the internet NEGs' endpoints.
func backendHosts(snap *snapshot.Snapshot) map[string]bool {
	hosts := map[string]bool{}
	add := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			hosts[u.Host] = true
		}
	}
	for _, svc := range snap.Services {
		scheme := schemeOf(svc.Resource)
		for i := range svc.Backends {
			b := &svc.Backends[i]
			for _, ep := range b.Services {
				add(ep.URL)
				for _, tag := range ep.Tags {
					add(tag)
				}
			}
			for _, ep := range b.Endpoints {
				hosts[endpointAddress(b, ep, scheme)] = true
			}
		}
	}
	return hosts
}

// rttProbeTimeout is the default ProbeTimeout: no region is this far, so a probe that
// takes longer fails (see probed).
const rttProbeTimeout = 2 * time.Second

// probeKeySep joins a backend service and a backend group in a probe's key.
const probeKeySep = "\x00"

// probed feeds a health check's verdict to the endpoint's state, and a round-trip
// probe's measurement to the balancer.
func (e *Edge) probed(r health.Result) {
	if strings.HasPrefix(r.Key, "hc"+probeKeySep) {
		e.checks.record(r.Key, r.Err == nil)
		return
	}
	service, group, ok := strings.Cut(r.Key, probeKeySep)
	if !ok {
		return
	}
	if r.Err != nil {
		// A region runtime that stops answering its probes (its host died: nothing is
		// refused, nothing answers) fails as a request to it would, so three in a row
		// eject it and new requests stop waiting on it until the backend timeout; the
		// requests already waiting on it move to their next backend now.
		e.proxy.inflight.abandon(r.Address)
		if snap := e.snap.Load(); snap != nil && snap.Services[service] != nil {
			svc := snap.Services[service]
			e.lb.Observe(service, group, lb.GatewayFailure, outlierOf(svc.Resource), len(svc.Backends))
		}
		return
	}
	e.lb.ObserveRTT(service, group, r.RTT)
}

// retryTransport applies a route's retryPolicy: a request without a body (so it can be
// sent again as it was) is retried up to numRetries times when an attempt fails in a
// way the policy's retryConditions name, each attempt bounded by perTryTimeout.
type retryTransport struct {
	base   http.RoundTripper
	policy *api.HttpRetryPolicy
}

// maxDrain bounds what is read of a response that is discarded for a retry, so the
// connection can be reused without reading a large body.
const maxDrain = 64 << 10

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	retries := t.policy.NumRetries
	if retries == 0 {
		retries = 1 // GCP's default numRetries
	}
	replayable := req.Body == nil || req.Body == http.NoBody
	for attempt := int64(0); ; attempt++ {
		resp, err := t.try(req)
		if attempt == retries || !replayable || req.Context().Err() != nil || !shouldRetry(t.policy.RetryConditions, resp, err) {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
			resp.Body.Close()
		}
	}
}

// try sends one attempt with the per-try timeout, which lasts until its body is closed.
func (t retryTransport) try(req *http.Request) (*http.Response, error) {
	if t.policy.PerTryTimeout == nil {
		return t.base.RoundTrip(req)
	}
	d := time.Duration(t.policy.PerTryTimeout.Seconds)*time.Second + time.Duration(t.policy.PerTryTimeout.Nanos)
	ctx, cancel := context.WithTimeout(req.Context(), d)
	resp, err := t.base.RoundTrip(req.Clone(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// shouldRetry reports whether an attempt's outcome matches one of GCP's retry
// conditions (url-map-concepts, retryPolicy.retryConditions).
func shouldRetry(conditions []string, resp *http.Response, err error) bool {
	for _, c := range conditions {
		if matchesCondition(c, resp, err) {
			return true
		}
	}
	return false
}

func matchesCondition(c string, resp *http.Response, err error) bool {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch c {
	case "5xx":
		return err != nil || status >= 500
	case "gateway-error":
		return err != nil || status == 502 || status == 503 || status == 504
	case "connect-failure":
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial"
	case "retriable-4xx":
		return status == http.StatusConflict
	case "refused-stream":
		return err != nil && strings.Contains(err.Error(), "REFUSED_STREAM")
	}
	// gRPC conditions: the grpc-status of the response.
	grpc := map[string]string{"cancelled": "1", "deadline-exceeded": "4", "resource-exhausted": "8", "internal": "13", "unavailable": "14"}[c]
	return grpc != "" && resp != nil && (resp.Header.Get("Grpc-Status") == grpc || resp.Trailer.Get("Grpc-Status") == grpc)
}

// errHostGone ends an attempt that waits on a host the edge has found gone.
var errHostGone = errors.New("the backend's host stopped answering")

// inflight holds the attempts that wait for a backend's response headers and could
// still move to another backend, by the address they wait on. A host that dies
// refuses nothing and answers nothing: a request written on a connection kept alive to
// it waits for the backend timeout (30 s by default), and coalesced cache misses wait
// with it. When a round-trip probe of the address fails (a fresh exchange with the
// host did not complete in its timeout), abandon ends those waits, and each attempt
// moves on to the next backend of its plan, as a refused one would.
type inflight struct {
	mu     sync.Mutex
	byAddr map[string]map[*waiter]struct{}
}

type waiter struct{ cancel context.CancelCauseFunc }

// wait registers an attempt to addr; the returned context ends when the address is
// abandoned, and done unregisters it (once its headers arrived or it failed).
func (in *inflight) wait(ctx context.Context, addr string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &waiter{cancel: cancel}
	in.mu.Lock()
	if in.byAddr == nil {
		in.byAddr = map[string]map[*waiter]struct{}{}
	}
	if in.byAddr[addr] == nil {
		in.byAddr[addr] = map[*waiter]struct{}{}
	}
	in.byAddr[addr][w] = struct{}{}
	in.mu.Unlock()
	return ctx, func() {
		in.mu.Lock()
		delete(in.byAddr[addr], w)
		if len(in.byAddr[addr]) == 0 {
			delete(in.byAddr, addr)
		}
		in.mu.Unlock()
	}
}

// abandon ends every registered wait on addr and returns how many it ended.
func (in *inflight) abandon(addr string) int {
	in.mu.Lock()
	ws := in.byAddr[addr]
	delete(in.byAddr, addr)
	in.mu.Unlock()
	for w := range ws {
		w.cancel(errHostGone)
	}
	return len(ws)
}
