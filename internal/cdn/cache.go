// Package cdn is the edge's HTTP cache for CDN-enabled backend services: an RFC 9111
// shared cache with Cloud CDN's policy (internal/cdn/policy decides), a memory tier
// (internal/cdn/storage keeps), and the request path in between: lookups, hits with
// Age and Cache-Status, validation of stale entries with the stored validators,
// serve-while-stale with one background revalidation, misses that stream to their
// client while they are stored, and request coalescing, where N concurrent misses of
// one key make one origin request and all N receive the body as it arrives.
package cdn

import (
	"context"
	"net/http"
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
