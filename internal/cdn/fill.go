package cdn

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/api"
	"meridian/internal/cdn/policy"
	"meridian/internal/cdn/storage"
)

// A fill is one origin request made for the cache: a miss, or the validation of a
// stored response. Its response is buffered as it arrives; every client waiting on the
// fill (the one that started it and those coalesced onto it) streams from the buffer at
// its own pace, and the complete response is stored when the policy allows.
type fill struct {
	key, full    string         // primary key, and the key the response is stored under
	slot         string         // the fill's key among those in flight (coalescing)
	forwardRange bool           // the client's Range was forwarded
	ranged       *storage.Entry // the mark stored for an object to be filled in chunks
	leaderHeader http.Header
	stale        *storage.Entry // the entry being validated, nil for a miss
	rt           Route
	signed       bool
	host, path   string       // the client's, for invalidation rules
	gen          int64        // the cache's invalidation generation when the fill began
	complete     sync.Once    // stores the response and retires the fill, once
	interim      chan interim // 1xx responses before ready, for the leader to relay

	buffer    // its mu guards the fields below too
	header    http.Header
	decision  policy.Decision
	validated bool  // the origin answered 304: the stored body stands
	base      int64 // bytes already handed out and dropped (a response that is not stored)
	reqTime   time.Time
	respTime  time.Time
	fillBytes int64
	size      int64 // the response's Content-Length, -1 when it has none
}

var errFillAborted = errors.New("the origin's response was cut short")

// interim is a 1xx response the origin sent before its final one (103 Early Hints).
type interim struct {
	code   int
	header http.Header
}

// fillSpec names a fill: the primary key, the key its response is stored under, its
// slot among the fills in flight (requests that name the same slot share the fill),
// the stored entry it validates (nil for a miss), and whether it forwards the client's
// Range (a miss of an object the cache does not know to be filled in chunks).
type fillSpec struct {
	key, full, slot string
	stale           *storage.Entry
	forwardRange    bool
}

// startFill registers and starts a fill unless one runs in its slot; it returns the
// fill and whether the caller started it. A plain miss that finds, once it holds the
// table of fills, a fresh response stored since it looked (a fill that ended in
// between) gets no fill (nil): the caller serves the hit, and the origin is not asked
// twice (groupcache's second look).
func (c *Cache) startFill(s fillSpec, r *http.Request, rt Route, origin Origin) (*fill, bool) {
	if s.slot == "" {
		s.slot = s.full
	}
	f, started := join(&c.mu, c.fills, s.slot, func() *fill {
		if s.stale == nil && !s.forwardRange && s.slot == s.full {
			if f := c.find(r, rt); f.entry != nil && !f.entry.Ranged && f.freshness == policy.FreshHit {
				return nil
			}
		}
		return &fill{key: s.key, full: s.full, slot: s.slot, forwardRange: s.forwardRange, leaderHeader: r.Header.Clone(), stale: s.stale, rt: rt, signed: rt.Signed,
			host: r.Host, path: r.URL.Path, gen: c.beginFill(), interim: make(chan interim, 4), buffer: newBuffer()}
	})
	if !started {
		return f, false
	}

	// The fill's request: a GET (a HEAD is filled as a GET, so the body can be stored)
	// without the client's own conditions and ranges (unless it forwards the range),
	// with the stored validators when it validates, under the cache's context, not the
	// client's.
	ctx, cancel := c.fillContext(r, rt, &f.fromPeer)
	fr := r.Clone(ctx)
	fr.Method = http.MethodGet
	fr.Body, fr.ContentLength = http.NoBody, 0
	dropFields(fr, conditionFields)
	if !s.forwardRange {
		dropFields(fr, rangeFields)
	}
	stale := s.stale
	if stale != nil {
		if etag := stale.Header.Get("ETag"); etag != "" {
			fr.Header.Set("If-None-Match", etag)
		}
		if lm := stale.Header.Get("Last-Modified"); lm != "" {
			fr.Header.Set("If-Modified-Since", lm)
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		c.runFill(f, fr, origin)
	}()
	return f, true
}

// fillContext is the context of a request the cache makes: detached from the client
// (others may wait on the fill) but keeping its values (the connection's addresses),
// bounded by the route's timeout, and stopped with the cache. fromPeer is set when
// another cache of the group answers it.
func (c *Cache) fillContext(r *http.Request, rt Route, fromPeer *atomic.Bool) (context.Context, context.CancelFunc) {
	timeout := rt.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancelTimeout := context.WithTimeout(context.WithValue(context.WithoutCancel(r.Context()), peerFillKey{}, fromPeer), timeout)
	stopWithCache := context.AfterFunc(c.ctx, cancelTimeout)
	return ctx, func() { stopWithCache(); cancelTimeout() }
}

func (c *Cache) runFill(f *fill, fr *http.Request, origin Origin) {
	fw := newOriginWriter(fillSink{f, c})
	f.mu.Lock()
	f.reqTime = c.now()
	f.mu.Unlock()
	err := callOrigin(origin, fw, fr)
	if !fw.wrote {
		fw.WriteHeader(http.StatusBadGateway)
	}
	// Store before the fill is seen to end, so that a request after this one's
	// response finds the stored entry, not the finished fill.
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	c.completeFill(f)
	f.finish(err)
}

// completeFill stores a fill's response (when the policy allows) and retires the fill
// so that later requests look the entry up. It runs once: when the body has arrived
// whole (a client may have it all before the origin's exchange ends), or at the end.
func (c *Cache) completeFill(f *fill) {
	f.complete.Do(func() {
		storedKey, stored := c.store1(f)
		c.endFill(f.gen, storedKey, stored)
		land(&c.mu, c.fills, f.slot, f)
	})
}

// store1 stores a finished fill's response when the policy allows it, and returns the
// key and entry it stored (nil when it did not).
func (c *Cache) store1(f *fill) (string, *storage.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ranged != nil {
		return f.full, f.ranged // stored when its headers arrived
	}
	if f.err != nil || !f.decision.Store || f.base > 0 {
		return "", nil
	}
	e := &storage.Entry{Status: f.status, Header: f.header, Body: fitted(f.body), RequestTime: f.reqTime, ResponseTime: f.respTime,
		InitialAge: policy.InitialAge(f.header, f.reqTime, f.respTime),
		TTL:        f.decision.TTL, NoCache: f.decision.NoCache, NoStale: f.decision.NoStale,
		StaleWhileRevalidate: f.decision.StaleWhileRevalidate, StaleIfError: f.decision.StaleIfError, ClientCacheControl: f.decision.ClientCacheControl, Stored: c.now(),
		Service: f.rt.Service, Host: f.host, Path: f.path, Tags: cacheTags(f.header), Gen: f.gen, Memo: &storage.Memo{}}
	vary := varyOf(f.header)
	if len(vary) == 0 {
		if !c.store.Set(f.full, e) {
			return "", nil
		}
		return f.full, e
	}
	// The URL's responses vary: a marker under the primary key names the headers, and
	// this variant goes under the key its request's headers make.
	c.store.Set(f.key, &storage.Entry{Vary: vary, Stored: e.Stored})
	key := variantKey(f.key, vary, f.leaderHeader)
	if !c.store.Set(key, e) {
		return "", nil
	}
	return key, e
}

// preallocLimit bounds the body array a fill allocates up front from the response's
// Content-Length (an origin may announce more than it sends).
const preallocLimit = 16 << 20

// fitted returns b in an array of its own length when it has much spare capacity
// (a body without Content-Length, grown by appends), so that what is stored is what
// the budget counts.
func fitted(b []byte) []byte {
	if cap(b)-len(b) <= len(b)/64 {
		return b
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// cacheTags lists the values of a response's Cache-Tag fields (comma-separated).
func cacheTags(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Cache-Tag") {
		for _, t := range strings.Split(line, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// varyOf lists a response's Vary field names.
func varyOf(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Vary") {
		for _, name := range bytes.Split([]byte(line), []byte(",")) {
			if n := string(bytes.TrimSpace(name)); n != "" {
				out = append(out, http.CanonicalHeaderKey(n))
			}
		}
	}
	return out
}

// fillSink takes the origin's response to a fill.
type fillSink struct {
	f *fill
	c *Cache
}

// interim relays an informational response to the client that made the fill (if it
// still waits); it is never stored.
func (w fillSink) interim(code int, h http.Header) {
	if code != http.StatusSwitchingProtocols {
		select {
		case w.f.interim <- interim{code, h.Clone()}:
		default:
		}
	}
}

func (w fillSink) head(code int, h http.Header) {
	f := w.f
	now := w.c.now()
	p := f.rt.Policy
	if p == nil {
		p = &api.CdnPolicy{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.respTime = now
	header := h.Clone()
	if _, ok := header["Date"]; !ok {
		// RFC 9110 6.6.1: a cache records when a response without Date arrived, so
		// that a hit does not claim to be generated now.
		header["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
	status := code
	if code == http.StatusNotModified && f.stale != nil {
		// RFC 9111 4.3.4: the 304's fields replace the stored ones; the stored body
		// stands.
		header = f.stale.Header.Clone()
		for k, vs := range h {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Content-Encoding":
				continue
			}
			header[k] = vs
		}
		status = f.stale.Status
		f.validated = true
		f.body = f.stale.Body
	}
	size := int64(-1)
	if cl, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil {
		size = cl
	}
	f.decision = policy.Decide(policy.Request{Method: http.MethodGet, Header: f.leaderHeader, Signed: f.signed},
		policy.Response{Status: status, Header: header, RequestTime: f.reqTime, ResponseTime: now, BodySize: size, HTTP1Framed: true},
		p, keyHeaders(p))
	f.status, f.header, f.size = status, header, size
	if !f.validated {
		// An object over RangeStoreLimit (or a partial response) from an origin that
		// serves ranges is not stored; its key is marked to be filled in chunks.
		if e := w.c.rangedMark(f, status, header, p); e != nil {
			f.ranged = e
			f.decision.Store = false
			w.c.store.Set(f.full, e)
		}
	}
	close(f.ready)
	f.signal()
}

func (w fillSink) body(b []byte) (int, error) {
	f := w.f
	f.mu.Lock()
	if f.validated {
		f.mu.Unlock()
		return len(b), nil // a 304 has no body; the stored one is served
	}
	if f.body == nil && f.base == 0 && f.size > 0 {
		// The whole body in one array of its length: growing it by appends would
		// leave up to a quarter of it spare, which the cache would hold for nothing.
		f.body = make([]byte, 0, min(f.size, preallocLimit))
	}
	f.body = append(f.body, b...)
	f.fillBytes += int64(len(b))
	whole := f.size >= 0 && f.base+int64(len(f.body)) >= f.size
	f.signal()
	f.mu.Unlock()
	if whole {
		w.c.completeFill(f) // every byte the Content-Length promised is here
	}
	return len(b), nil
}

// keyHeaders are the request headers the cache key includes, which Vary may name.
func keyHeaders(p *api.CdnPolicy) []string {
	if p == nil || p.CacheKeyPolicy == nil {
		return nil
	}
	return p.CacheKeyPolicy.IncludeHTTPHeaders
}

type peerFillKey struct{}

// MarkPeerFill is called by an Origin, with the fill request's context, when the
// response it writes comes from another cache of the group rather than the origin.
func MarkPeerFill(ctx context.Context) {
	if b, ok := ctx.Value(peerFillKey{}).(*atomic.Bool); ok {
		b.Store(true)
	}
}
