package cdn

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"meridian/internal/cdn/policy"
	"meridian/internal/cdn/storage"
)

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
		if !f.wait(r) {
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
		done, err, changed := f.done, f.err, f.changed
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
			continue
		}
		if done {
			if err != nil {
				panic(http.ErrAbortHandler) // cut the client's response short, as the origin did
			}
			return res
		}
		flusher.Flush()
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
