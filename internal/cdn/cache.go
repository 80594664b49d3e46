// Package cdn is the edge's HTTP cache for CDN-enabled backend services: an RFC 9111
// shared cache with Cloud CDN's policy (internal/cdn/policy decides), a memory tier
// (internal/cdn/storage keeps), and the request path in between: lookups, hits with
// Age and Cache-Status, validation of stale entries with the stored validators,
// serve-while-stale with one background revalidation, misses that stream to their
// client while they are stored, and request coalescing, where N concurrent misses of
// one key make one origin request and all N receive the body as it arrives.
package cdn

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"meridian/api"
	"meridian/internal/cdn/policy"
	"meridian/internal/cdn/storage"
)

// Origin sends a request to the backends and writes their response into w. The cache
// calls it for fills and validations, with a context of its own: a fill outlives the
// client that started it, since others may be waiting on it.
type Origin func(w http.ResponseWriter, r *http.Request)

// Route is what the cache needs to know of the request's route.
type Route struct {
	Policy  *api.CdnPolicy
	Service string // the backend service's path, for invalidation rules
	Scheme  string
	Signed  bool
	Timeout time.Duration // bounds a fill or validation
	// Peer is set for requests from another edge of the cache group filling its own
	// cache: they get stored responses as stored (no client Cache-Control rewrite).
	Peer bool
	// Decorate adds the response headers that depend on the request and on the cache's
	// outcome (the route's header actions, the backend service's custom response
	// headers with {cdn_cache_status} and {cdn_cache_id}) to each client response.
	Decorate func(h http.Header, cacheStatus string)
}

// Result is what the cache did, for the request log and metrics.
type Result struct {
	Lookup    bool   // the cache was consulted (GET or HEAD on a CDN route)
	Hit       bool   // answered from storage, without the origin
	Validated bool   // a stored response was validated with the origin
	FillBytes int64  // bytes fetched into the cache (from the origin, or from a peer)
	PeerFill  bool   // the fill came from another cache of the group (cache-to-cache)
	Egress    int64  // bytes of the response served from cache
	Status    string // {cdn_cache_status}: hit, miss, revalidated, stale, uncacheable, disabled
	Detail    string // statusDetails: response_from_cache, response_from_cache_validated, response_sent_by_backend
	Decision  string // why a response was or was not stored (cacheDecision)
}

// Cache is one edge's cache. Its background work (revalidations, fills whose clients
// left) is owned by it and stops with Close.
type Cache struct {
	store *storage.Store
	name  string // Cache-Status's cache name, and {cdn_cache_id}
	now   func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	fills   map[string]*fill      // in-flight fills by slot, for coalescing
	chunks  map[string]*chunkFill // in-flight chunk fills by chunk key
	checks  map[string]*rangedCheck
	private uint64 // private fills made, to name their slots

	// Invalidation (invalidate.go): the newest rule revision known, the fills in flight
	// by the generation they began at, and the rules they may still need.
	invMu    sync.Mutex
	gen      int64
	inflight map[int64]int
	rules    []Rule

	joined      func() // test hook: a miss has joined (or started) a fill
	missed      func() // test hook: a miss has looked and not yet asked for a fill
	chunkJoined func() // test hook: a reader has joined (or started) a chunk fill
}

// New returns a cache of maxBytes named name (its Cache-Status identifier).
func New(name string, maxBytes uint64, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{store: storage.New(maxBytes), name: name, now: now, ctx: ctx, cancel: cancel,
		fills: map[string]*fill{}, chunks: map[string]*chunkFill{}, checks: map[string]*rangedCheck{}, inflight: map[int64]int{}}
}

// Name is the cache's identifier ({cdn_cache_id}).
func (c *Cache) Name() string { return c.name }

// Close stops background fills and revalidations and waits for them.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
	c.saveGeneration() // what the disk holds is up to date with every rule known
	c.store.Close()
}

// Store is the cache's storage, for invalidation and accounting.
func (c *Cache) Store() *storage.Store { return c.store }

// Serve answers a request on a CDN-enabled route, from storage or through origin.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, rt Route, origin Origin) Result {
	f := c.find(r, rt)
	switch {
	case f.bypass:
		return c.pass(w, r, rt, origin)
	case f.entry == nil:
		return c.miss(w, r, rt, origin, f.key, f.full != f.key)
	case f.entry.Ranged:
		return c.serveRanged(w, r, rt, origin, f.full, f.key, f.entry)
	case f.freshness == policy.FreshHit:
		return c.serveEntry(w, r, rt, f.entry, f.age, "hit", policy.StatusInfo{Hit: true, TTL: remaining(f.entry, f.age)}, Result{Lookup: true, Hit: true, Status: "hit", Detail: "response_from_cache"})
	case f.freshness == policy.StaleServeWhileRevalidate:
		c.revalidateInBackground(f.full, f.key, r, rt, origin, f.entry)
		return c.serveEntry(w, r, rt, f.entry, f.age, "stale", policy.StatusInfo{Hit: true, TTL: remaining(f.entry, f.age)}, Result{Lookup: true, Hit: true, Status: "stale", Detail: "response_from_cache"})
	}
	return c.validate(w, r, rt, origin, f.full, f.key, f.entry)
}

// found is what the cache holds for a request, worked out once: whether the policy
// bypasses the cache, the primary key, the key the response is (or would be) stored
// under, the entry (nil: none), its age, and what its freshness allows.
type found struct {
	bypass    bool
	key, full string
	entry     *storage.Entry
	age       time.Duration
	freshness policy.Freshness
}

// find is the cache's one lookup, for Serve and FreshLookup alike.
func (c *Cache) find(r *http.Request, rt Route) found {
	p := rt.Policy
	if p == nil {
		p = &api.CdnPolicy{}
	}
	if policy.Bypass(r.Method, r.Header, p) {
		return found{bypass: true}
	}
	f := found{key: policy.Key(rt.Scheme, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, r.Header, p.CacheKeyPolicy)}
	if rt.Signed {
		f.key += "\x00signed" // signed and unsigned responses are cached apart
	}
	f.full, f.entry = c.lookup(f.key, r.Header)
	if f.entry != nil && !f.entry.Ranged {
		f.age = f.entry.Age(c.now())
		f.freshness = policy.Check(decisionOf(f.entry), f.age, r.Header)
	}
	return f
}

// lookup finds the stored response for a request: the primary key's entry, or, when
// the URL's responses vary, the variant its headers select. full is the key the
// request's response is (or would be) stored under, "" when the URL varies by headers
// the cache has not seen a response for yet.
func (c *Cache) lookup(key string, h http.Header) (string, *storage.Entry) {
	e, ok := c.store.Get(key)
	if !ok {
		return key, nil
	}
	if e.IsVaryMarker() {
		full := variantKey(key, e.Vary, h)
		v, ok := c.store.Get(full)
		if !ok {
			return full, nil
		}
		return full, v
	}
	return key, e
}

func variantKey(key string, vary []string, h http.Header) string {
	return key + "\x00vary\x00" + policy.SecondaryKey(vary, h)
}

func decisionOf(e *storage.Entry) policy.Decision {
	return policy.Decision{Store: true, TTL: e.TTL, NoCache: e.NoCache, NoStale: e.NoStale,
		StaleWhileRevalidate: e.StaleWhileRevalidate, StaleIfError: e.StaleIfError, ClientCacheControl: e.ClientCacheControl}
}

func remaining(e *storage.Entry, age time.Duration) *time.Duration {
	d := e.TTL - age
	return &d
}

// pass sends a request that bypasses the cache to the origin. An unsafe method that
// succeeds invalidates what is stored for its URI and for the URIs its Location and
// Content-Location name on the same host (RFC 9111 4.4).
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, rt Route, origin Origin) Result {
	status := "disabled"
	lookup := r.Method == http.MethodGet || r.Method == http.MethodHead
	if lookup {
		status = "uncacheable" // bypassed by a request header
	}
	rec := &passWriter{ResponseWriter: w, rt: rt, cacheStatus: status, name: c.name}
	origin(rec, r)
	if !safeMethod(r.Method) && rec.status >= 200 && rec.status < 400 {
		c.invalidateURI(rt, r, r.URL.EscapedPath(), r.URL.RawQuery)
		for _, f := range []string{"Location", "Content-Location"} {
			if u := rec.Header().Get(f); u != "" {
				if path, query, ok := sameOrigin(u, r.Host, rt.Scheme); ok {
					c.invalidateURI(rt, r, path, query)
				}
			}
		}
	}
	return Result{Lookup: lookup, Status: status, Detail: "response_sent_by_backend"}
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// invalidateURI removes the stored response (and its variants' marker) for a URI.
func (c *Cache) invalidateURI(rt Route, r *http.Request, path, query string) {
	p := rt.Policy
	if p == nil {
		p = &api.CdnPolicy{}
	}
	key := policy.Key(rt.Scheme, r.Host, path, query, r.Header, p.CacheKeyPolicy)
	c.store.Delete(key)
	c.store.Delete(key + "\x00signed")
}

// sameOrigin resolves a Location or Content-Location against the request's origin and
// returns its path and query when it is on the same host.
func sameOrigin(u, host, scheme string) (string, string, bool) {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		path, query, _ := strings.Cut(u, "?")
		return path, query, true
	}
	prefix := scheme + "://" + host
	if rest, ok := strings.CutPrefix(u, prefix); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') {
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			path = "/"
		}
		return path, query, true
	}
	return "", "", false
}

// passWriter adds the cache's headers to a response that did not go through the cache.
type passWriter struct {
	http.ResponseWriter
	rt          Route
	cacheStatus string
	name        string
	status      int
	wrote       bool
}

func (p *passWriter) WriteHeader(code int) {
	if !p.wrote && code >= 200 {
		p.wrote, p.status = true, code
		h := p.ResponseWriter.Header()
		h.Set("Cache-Status", policy.Status(p.name, policy.StatusInfo{Fwd: "bypass", FwdStatus: code}))
		if p.rt.Decorate != nil {
			p.rt.Decorate(h, p.cacheStatus)
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *passWriter) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

func (p *passWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// miss fills the response from the origin and streams it to the client as it arrives;
// with request coalescing (Cloud CDN's default), concurrent misses of one key share one
// fill.
func (c *Cache) miss(w http.ResponseWriter, r *http.Request, rt Route, origin Origin, key string, varied bool) Result {
	full := key
	if varied {
		full, _ = c.lookup(key, r.Header) // the variant this request selects
	}
	coalesce := rt.Policy == nil || rt.Policy.RequestCoalescing == nil || *rt.Policy.RequestCoalescing
	var f *fill
	leader := true
	spec := fillSpec{key: key, full: full}
	if rng := r.Header.Get("Range"); rng != "" && r.Method == http.MethodGet {
		// A range of an object the cache does not hold: the origin is asked for the
		// range (its answer is not stored, but may mark the object for chunk fills).
		spec.forwardRange = true
		spec.slot = full + "\x00range\x00" + rng + "\x00" + r.Header.Get("If-Range")
	}
	if c.missed != nil {
		c.missed()
	}
	if coalesce {
		if f, leader = c.startFill(spec, r, rt, origin); f == nil {
			// Another fill stored a fresh response since this request looked: it is a
			// hit after all.
			return c.Serve(w, r, rt, origin)
		}
	} else {
		f = c.privateFill(spec, r, rt, origin)
	}
	if c.joined != nil {
		c.joined()
	}
	fwd := "uri-miss"
	if varied {
		fwd = "vary-miss"
	}
	return c.serveFill(w, r, rt, origin, f, fwd, leader)
}

// privateFill is a fill no other request joins (requestCoalescing off).
func (c *Cache) privateFill(s fillSpec, r *http.Request, rt Route, origin Origin) *fill {
	c.mu.Lock()
	c.private++
	s.slot = s.full + "\x00private\x00" + strconv.FormatUint(c.private, 36)
	c.mu.Unlock()
	f, _ := c.startFill(s, r, rt, origin)
	return f
}

// validate checks a stored response with the origin before serving it (it is stale,
// or no-cache): a 304 refreshes it, anything else replaces it. Concurrent requests for
// the entry share the validation.
func (c *Cache) validate(w http.ResponseWriter, r *http.Request, rt Route, origin Origin, full, key string, e *storage.Entry) Result {
	f, leader := c.startFill(fillSpec{key: key, full: full, stale: e}, r, rt, origin)
	return c.serveFill(w, r, rt, origin, f, "stale", leader)
}

// revalidateInBackground starts one background validation of a stale entry that is
// served meanwhile (stale-while-revalidate, serveWhileStale).
func (c *Cache) revalidateInBackground(full, key string, r *http.Request, rt Route, origin Origin, e *storage.Entry) {
	c.startFill(fillSpec{key: key, full: full, stale: e}, r, rt, origin)
}

// serveFill streams a fill's response to one client. A response the cache does not
// store is its leader's alone (it may be personal: it may set a cookie): a coalesced
// request that finds one makes its own origin request.
func (c *Cache) serveFill(w http.ResponseWriter, r *http.Request, rt Route, origin Origin, f *fill, fwd string, leader bool) Result {
	var interims chan interim // only the client that made the fill gets its 1xx responses
	if leader {
		interims = f.interim
	}
	for waiting := true; waiting; {
		select {
		case <-f.ready:
			waiting = false
		case ev := <-interims:
			h := w.Header()
			for k, vs := range ev.header {
				h[k] = vs
			}
			w.WriteHeader(ev.code)
			for k := range ev.header {
				delete(h, k)
			}
		case <-r.Context().Done():
			return Result{Lookup: true, Status: "miss", Detail: "response_sent_by_backend"}
		}
	}
	f.mu.Lock()
	status, header, decision, validated := f.status, f.header.Clone(), f.decision, f.validated
	leaderVary := policy.SecondaryKey(varyOf(header), f.leaderHeader)
	stale := f.stale
	f.mu.Unlock()
	// A validation that fails leaves the stale response to be served, within
	// serveWhileStale, unless the origin forbade serving it stale.
	if stale != nil && !validated && status >= 500 && !stale.NoStale && !stale.NoCache {
		if age := stale.Age(c.now()); age < stale.TTL+stale.StaleIfError {
			return c.serveEntry(w, r, rt, stale, age, "stale", policy.StatusInfo{Hit: true, Fwd: "stale", FwdStatus: status, Detail: "STALE_ON_ERROR"},
				Result{Lookup: true, Hit: true, Status: "stale", Detail: "response_from_cache"})
		}
	}
	// A response that varies on headers this request has otherwise is not its answer:
	// fetch its own, alone.
	if v := varyOf(header); len(v) > 0 && policy.SecondaryKey(v, r.Header) != leaderVary {
		return c.serveFill(w, r, rt, origin, c.privateFill(fillSpec{key: f.key, full: variantKey(f.key, v, r.Header)}, r, rt, origin), "vary-miss", true)
	}
	if !leader && f.ranged != nil {
		// The object is now to be filled in chunks: serve this request so.
		return c.Serve(w, r, rt, origin)
	}
	if !leader && !decision.Store && !validated {
		return c.serveFill(w, r, rt, origin, c.privateFill(fillSpec{key: f.key, full: f.full, forwardRange: f.forwardRange}, r, rt, origin), fwd, true)
	}
	// The leader of a response that is not stored drops what it has sent, so a large
	// uncacheable download is not held in memory.
	trim := leader && !decision.Store

	res := Result{Lookup: true, Status: "miss", Detail: "response_sent_by_backend", Decision: decision.Reason}
	info := policy.StatusInfo{Fwd: fwd, FwdStatus: status, Stored: decision.Store, Detail: decision.Reason}
	if decision.Store {
		ttl := decision.TTL
		info.TTL = &ttl
	} else if f.ranged == nil {
		res.Status = "uncacheable"
	} else {
		res.Detail = "byte_range_caching"
	}
	if validated {
		res.Validated, res.Status, res.Detail = true, "revalidated", "response_from_cache_validated"
		info.FwdStatus = http.StatusNotModified
	}
	h := w.Header()
	for k, vs := range header {
		h[k] = vs
	}
	if decision.ClientCacheControl != "" && !rt.Peer {
		h.Set("Cache-Control", decision.ClientCacheControl)
	}
	status1 := policy.Status(c.name, info)
	if f.fromPeer.Load() {
		// RFC 9211: the cache nearer the origin (the peer) comes first.
		if upstream := header.Get("Cache-Status"); upstream != "" {
			status1 = upstream + ", " + status1
		}
		if leader {
			res.PeerFill = true
		}
	}
	h.Set("Cache-Status", status1)
	if rt.Decorate != nil {
		rt.Decorate(h, res.Status)
	}
	if validated {
		// The stored body stands: serve it as a stored response (conditions, ranges),
		// once the refreshed entry is stored.
		if !f.wait(r.Context()) {
			return res
		}
		f.mu.Lock()
		e := &storage.Entry{Status: status, Header: header, Body: f.body, RequestTime: f.reqTime, ResponseTime: f.respTime}
		f.mu.Unlock()
		res.Egress = serveBody(w, r, e)
		return res
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return res
	}
	// Stream: copy what has arrived, flush when caught up, wait for more.
	var pos int64
	flusher := http.NewResponseController(w)
	for {
		f.mu.Lock()
		var chunk []byte
		if pos < f.base+int64(len(f.body)) {
			chunk = f.body[pos-f.base:]
			if trim {
				f.body = nil // the writer appends to a new slice; chunk is ours
				f.base += int64(len(chunk))
			}
		}
		done, err, changed, size := f.done, f.err, f.changed, f.size
		f.mu.Unlock()
		if len(chunk) > 0 {
			n, werr := w.Write(chunk)
			pos += int64(n)
			if leader && decision.Store {
				res.FillBytes = pos // fill is counted once, for the request that made it
			}
			if werr != nil {
				return res // the client left; the fill goes on for the others
			}
			if size >= 0 && pos >= size {
				// All the Content-Length promised (no flush: the writer sends it at once).
				// The response is stored before this client has its answer, as the
				// fill's own goroutine would store it a moment later: the client's
				// next request finds it.
				c.completeFill(f)
				return res
			}
			continue
		}
		if done {
			if err != nil {
				panic(http.ErrAbortHandler) // cut the client's response short, as the origin did
			}
			return res
		}
		if pos > 0 || size < 0 {
			// Caught up: what was written goes out while more arrives. Before the
			// first byte of a body of known length the head waits for it, to go out
			// in one write with it (a stream without a length shows its head at once).
			flusher.Flush()
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return res
		}
	}
}

// serveEntry answers from a stored response: its headers with Age, Cache-Status and the
// route's decorations, and its body, honouring the client's conditions and ranges on a
// 200 (RFC 9111 4.3.2, RFC 9110 13 and 14), and HEAD.
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, rt Route, e *storage.Entry, age time.Duration, cacheStatus string, info policy.StatusInfo, res Result) Result {
	c.entryHeader(w.Header(), rt, e, age, cacheStatus, info)
	res.Egress = serveBody(w, r, e)
	return res
}

// entryHeader puts a stored response's header into h for one client: hitHead's, with
// the Age and Cache-Status of this hit unless a decoration set them.
func (c *Cache) entryHeader(h http.Header, rt Route, e *storage.Entry, age time.Duration, cacheStatus string, info policy.StatusInfo) {
	c.hitHead(h, rt, e, cacheStatus)
	if _, ok := h["Age"]; !ok {
		h["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	}
	if _, ok := h["Cache-Status"]; !ok {
		h["Cache-Status"] = []string{policy.Status(c.name, info)}
	}
}

// hitHead is the one rendering of a stored response's head for a client, which every
// path (the general one, for every protocol, and the HTTP/1.1 fast path, which renders
// it once per stored response and route) starts from: the stored fields but Age and
// Cache-Status, the client Cache-Control the policy set, and the route's decorations
// (header actions, custom response headers).
func (c *Cache) hitHead(h http.Header, rt Route, e *storage.Entry, cacheStatus string) {
	for k, vs := range e.Header {
		if k != "Age" && k != "Cache-Status" {
			h[k] = vs
		}
	}
	if e.ClientCacheControl != "" && !rt.Peer {
		h.Set("Cache-Control", e.ClientCacheControl)
	}
	if rt.Decorate != nil {
		rt.Decorate(h, cacheStatus)
	}
}

// serveBody writes a stored response's status and body. A 200 goes through
// http.ServeContent, which answers If-None-Match, If-Modified-Since, If-Range and
// Range from the stored validators and body.
func serveBody(w http.ResponseWriter, r *http.Request, e *storage.Entry) int64 {
	if e.Status == http.StatusOK && plainRequest(r) {
		// The common hit: no conditions, no range; one write of the stored body.
		h := w.Header()
		h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
		h["Accept-Ranges"] = acceptRanges
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return 0
		}
		n, _ := w.Write(e.Body)
		return int64(n)
	}
	if e.Status == http.StatusOK && notModifiedSinceDate(r, e) {
		h := w.Header()
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding"} {
			delete(h, k)
		}
		w.WriteHeader(http.StatusNotModified)
		return 0
	}
	if e.Status == http.StatusOK {
		return serveContent(w, r, e, bytes.NewReader(e.Body))
	}
	cw := &countingWriter{ResponseWriter: w}
	w.Header().Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		cw.Write(e.Body)
	}
	return cw.n
}

var acceptRanges = []string{"bytes"}

// serveContent answers a request for a stored 200 whose body content reads with
// http.ServeContent (conditions, ranges, HEAD), and returns the body bytes sent.
func serveContent(w http.ResponseWriter, r *http.Request, e *storage.Entry, content io.ReadSeeker) int64 {
	h := w.Header()
	delete(h, "Content-Length") // set for what is sent
	if _, ok := e.Header["Content-Type"]; !ok {
		h["Content-Type"] = nil // do not sniff one the origin did not send
	}
	cw := &countingWriter{ResponseWriter: w}
	modtime, _ := http.ParseTime(e.Header.Get("Last-Modified"))
	http.ServeContent(cw, r, "", modtime, content)
	return cw.n
}

// notModifiedSinceDate answers If-Modified-Since for a stored response without
// Last-Modified from its Date (RFC 9111 4.3.2); http.ServeContent answers the rest.
func notModifiedSinceDate(r *http.Request, e *storage.Entry) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.Header.Get("If-None-Match") != "" || e.Header.Get("Last-Modified") != "" {
		return false
	}
	ims, ok := policy.ParseHTTPDate(r.Header.Get("If-Modified-Since"))
	if !ok {
		return false
	}
	date, ok := policy.ParseHTTPDate(e.Header.Get("Date"))
	return ok && !date.After(ims)
}

// The request fields that make a GET conditional (RFC 9110 §13.1), and those that ask
// for part of the representation (§14.2, §13.1.5).
var (
	conditionFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}
	rangeFields     = []string{"Range", "If-Range"}
)

// hasAny reports whether the request carries any of the fields.
func hasAny(r *http.Request, fields []string) bool {
	for _, k := range fields {
		if _, ok := r.Header[k]; ok {
			return true
		}
	}
	return false
}

// dropFields removes the fields from the request.
func dropFields(r *http.Request, fields []string) {
	for _, k := range fields {
		r.Header.Del(k)
	}
}

// plainRequest reports whether a request has no conditions and no range.
func plainRequest(r *http.Request) bool {
	return !hasAny(r, conditionFields) && !hasAny(r, rangeFields)
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

var _ io.Writer = (*countingWriter)(nil)

// FreshLookup finds, without side effects, the fresh stored response Serve would
// answer r with: the entry, its age, and whether the request is a plain hit of it (a
// GET or HEAD without conditions or range of a stored 200 not filled in chunks,
// unsigned), which a pre-rendered head (HitHeader) answers. ok is false when Serve
// would not answer from a fresh stored response.
func (c *Cache) FreshLookup(r *http.Request, rt Route) (e *storage.Entry, age time.Duration, plain, ok bool) {
	f := c.find(r, rt)
	if f.entry == nil || f.entry.Ranged || f.freshness != policy.FreshHit {
		return nil, 0, false, false
	}
	return f.entry, f.age, !rt.Signed && plainRequest(r) && f.entry.Status == http.StatusOK, true
}

// HitHeader is the header serveEntry gives a plain hit of e, except Age and
// Cache-Status, which change with every hit; nil when the route's decoration sets
// either of them itself.
func (c *Cache) HitHeader(e *storage.Entry, rt Route) http.Header {
	h := make(http.Header, len(e.Header)+4)
	c.hitHead(h, rt, e, "hit")
	if _, ok := h["Age"]; ok {
		return nil
	}
	if _, ok := h["Cache-Status"]; ok {
		return nil
	}
	h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
	h["Accept-Ranges"] = acceptRanges
	return h
}

// HitStatus is the Cache-Status of a hit of e at age.
func (c *Cache) HitStatus(e *storage.Entry, age time.Duration) string {
	return policy.Status(c.name, policy.StatusInfo{Hit: true, TTL: remaining(e, age)})
}
