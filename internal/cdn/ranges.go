package cdn

// Byte-range caching, as Cloud CDN does it. An object from an origin that serves ranges
// (policy.RangeSupport) that is larger than policy.RangeStoreLimit, or whose first
// response is partial, is not stored whole: its key gets a mark (an entry with its
// headers and length, Ranged) and the object is filled in chunks of policy.ChunkSize at
// aligned offsets, by the cache's own range requests, each stored as the 206 it got.
// A request is served from the chunks it spans, filling only the missing ones (a
// partial hit), each chunk fill shared by every request that needs it. The mark is
// validated by a separate conditional request; a chunk is used only with the mark's
// strong ETag. Nothing holds a whole object: a response streams chunk by chunk.

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"meridian/api"
	"meridian/internal/cdn/policy"
	"meridian/internal/cdn/storage"
)

// cdnUserAgent is the User-Agent of the requests the cache makes on its own (range
// fills and their validation), as Cloud CDN's.
const cdnUserAgent = "Cloud-CDN-Google"

// errRepresentationChanged is a chunk fill's answer that is not the mark's
// representation: another ETag or length, or no 206.
var errRepresentationChanged = errors.New("the origin's representation changed")

// chunkKey names chunk i of the object whose mark is stored under key.
func chunkKey(key string, i int64) string {
	return key + "\x00chunk\x00" + strconv.FormatInt(i, 10)
}

// rangedMark returns the mark for a fill's response when the object is to be filled
// in chunks: its origin serves ranges and the response is partial or larger than
// RangeStoreLimit, the object would be cacheable whole and is not larger than
// MaxRangedSize; nil otherwise. f.mu is held.
func (c *Cache) rangedMark(f *fill, status int, header http.Header, p *api.CdnPolicy) *storage.Entry {
	size, ok := policy.RangeSupport(status, header)
	if !ok || (status == http.StatusOK && size <= policy.RangeStoreLimit) || size > policy.MaxRangedSize || len(varyOf(header)) > 0 {
		return nil
	}
	return c.markFor(f.leaderHeader, f.signed, f.rt, f.host, f.path, f.gen, header, size, f.reqTime, f.respTime, p)
}

// markFor builds a mark from a response's headers (a 200's or a 206's, made whole), or
// returns nil when the whole object would not be cacheable.
func (c *Cache) markFor(reqHeader http.Header, signed bool, rt Route, host, path string, gen int64, header http.Header, size int64, reqTime, respTime time.Time, p *api.CdnPolicy) *storage.Entry {
	whole := header.Clone()
	delete(whole, "Content-Range")
	whole.Set("Content-Length", strconv.FormatInt(size, 10))
	d := policy.Decide(policy.Request{Method: http.MethodGet, Header: reqHeader, Signed: signed},
		policy.Response{Status: http.StatusOK, Header: whole, RequestTime: reqTime, ResponseTime: respTime, BodySize: 0, HTTP1Framed: true},
		p, keyHeaders(p))
	if !d.Store {
		return nil
	}
	return &storage.Entry{Status: http.StatusOK, Header: whole, Ranged: true, Size: size,
		RequestTime: reqTime, ResponseTime: respTime, InitialAge: policy.InitialAge(whole, reqTime, respTime),
		TTL: d.TTL, NoCache: d.NoCache, NoStale: d.NoStale, StaleWhileRevalidate: d.StaleWhileRevalidate, StaleIfError: d.StaleIfError,
		ClientCacheControl: d.ClientCacheControl, Stored: c.now(),
		Service: rt.Service, Host: host, Path: path, Tags: cacheTags(whole), Gen: gen}
}

// serveRanged answers a request for an object filled in chunks.
func (c *Cache) serveRanged(w http.ResponseWriter, r *http.Request, rt Route, origin Origin, full, key string, mark *storage.Entry) Result {
	age := mark.Age(c.now())
	cacheStatus, info := "hit", policy.StatusInfo{Hit: true}
	res := Result{Lookup: true, Hit: true, Status: "hit", Detail: "response_from_cache"}
	switch policy.Check(decisionOf(mark), age, r.Header) {
	case policy.FreshHit:
	case policy.StaleServeWhileRevalidate:
		cacheStatus, res.Status = "stale", "stale"
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.checkRanged(r, rt, origin, full, mark)
		}()
	default:
		check := c.checkRanged(r, rt, origin, full, mark)
		switch {
		case check.mark != nil:
			mark, age = check.mark, check.mark.Age(c.now())
			res.Validated, res.Status, res.Detail, cacheStatus = true, "revalidated", "response_from_cache_validated", "revalidated"
			info = policy.StatusInfo{Fwd: "stale", FwdStatus: check.status}
		case check.status >= 500 || check.err != nil:
			if !mark.NoStale && !mark.NoCache && age < mark.TTL+mark.StaleIfError {
				cacheStatus, res.Status = "stale", "stale"
				info = policy.StatusInfo{Hit: true, Fwd: "stale", FwdStatus: check.status, Detail: "STALE_ON_ERROR"}
				break
			}
			return c.rangeFailed(w, rt, check.status, res)
		default:
			// The origin no longer serves this object in ranges: forget the mark.
			c.dropMark(full, mark)
			return c.miss(w, r, rt, origin, key, full != key)
		}
	}

	size := mark.Size
	etag := mark.Header.Get("ETag")
	// The bytes the response needs: its ranges, or all of it.
	need := policy.Span{First: 0, Last: size - 1}
	if v := r.Header.Get("Range"); v != "" && r.Method == http.MethodGet {
		if spans, ok := policy.ParseRange(v, size); ok && len(spans) > 0 {
			need = spans[0]
			for _, s := range spans[1:] {
				need.First, need.Last = min(need.First, s.First), max(need.Last, s.Last)
			}
		} else if ok {
			need = policy.Span{First: 0, Last: -1} // unsatisfiable: a 416, no chunk needed
		}
	}
	missing := 0
	for i := need.First / policy.ChunkSize; need.Last >= 0 && i <= need.Last/policy.ChunkSize; i++ {
		if !c.hasChunk(full, i, etag) {
			missing++
		}
	}
	if missing > 0 {
		res.Hit, res.Detail = false, "byte_range_caching"
		if !res.Validated {
			res.Status, cacheStatus = "miss", "miss"
			info = policy.StatusInfo{Fwd: "partial", FwdStatus: http.StatusPartialContent}
			if missing == int(need.Last/policy.ChunkSize-need.First/policy.ChunkSize+1) {
				info.Fwd = "uri-miss"
			}
		}
	}
	if info.Hit {
		info.TTL = remaining(mark, age)
	}

	rd := &chunkReader{c: c, r: r, rt: rt, origin: origin, full: full, mark: mark, etag: etag, cur: -1, limit: need.Last}
	if r.Method == http.MethodGet && need.Last >= 0 && !conditional(r) {
		// The first chunk is open before any header is sent, so that an origin that
		// fails (or changed the object) is answered properly, not with a cut body.
		if err := rd.open(need.First / policy.ChunkSize); err != nil {
			if errors.Is(err, errRepresentationChanged) {
				// Served as a miss (not through the mark again, so this cannot loop).
				c.dropMark(full, mark)
				return c.miss(w, r, rt, origin, key, full != key)
			}
			return c.rangeFailed(w, rt, rd.status, res)
		}
	}
	c.entryHeader(w.Header(), rt, mark, age, cacheStatus, info)
	res.Egress = serveContent(w, r, mark, rd)
	res.FillBytes, res.PeerFill = rd.fillBytes()
	if rd.failed() != nil && r.Context().Err() == nil {
		panic(http.ErrAbortHandler) // a chunk fill failed mid-response: cut it short
	}
	return res
}

// conditional reports whether a request has a condition that may answer it without a
// body.
func conditional(r *http.Request) bool {
	return hasAny(r, conditionFields)
}

// rangeFailed answers a request whose range fill or validation failed.
func (c *Cache) rangeFailed(w http.ResponseWriter, rt Route, status int, res Result) Result {
	if status < 500 {
		status = http.StatusBadGateway
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Status", policy.Status(c.name, policy.StatusInfo{Fwd: "partial", FwdStatus: status}))
	if rt.Decorate != nil {
		rt.Decorate(h, "miss")
	}
	w.WriteHeader(status)
	io.WriteString(w, "the origin failed to serve a byte range\n")
	res.Hit, res.Status, res.Detail = false, "miss", "byte_range_caching_aborted"
	return res
}

// dropMark removes a mark, unless another (of another representation) has replaced
// it.
func (c *Cache) dropMark(full string, mark *storage.Entry) {
	etag := mark.Header.Get("ETag")
	c.store.Update(full, func(cur *storage.Entry) (*storage.Entry, bool) {
		return nil, cur.Ranged && cur.Size == mark.Size && cur.Header.Get("ETag") == etag
	})
}

// hasChunk reports, without reading it, whether chunk i is stored for the ETag.
func (c *Cache) hasChunk(full string, i int64, etag string) bool {
	e, ok := c.store.Peek(chunkKey(full, i))
	return ok && e.Status == http.StatusPartialContent && e.Header.Get("ETag") == etag
}

// storedChunk returns chunk i of the object when it is stored for the mark's ETag.
func (c *Cache) storedChunk(full string, i int64, etag string, size int64) *storage.Entry {
	e, ok := c.store.Get(chunkKey(full, i))
	if !ok || e.Status != http.StatusPartialContent || e.Header.Get("ETag") != etag || int64(len(e.Body)) != policy.Chunk(i, size).Len() {
		return nil
	}
	return e
}

// A chunkFill is one of the cache's range requests for a chunk. Its body is buffered as
// it arrives; every reader waiting on the chunk reads from the buffer at its own pace,
// and the chunk is stored when it is whole.
type chunkFill struct {
	span policy.Span
	buffer
}

// startChunk starts (or joins) the fill of chunk i of the object marked by mark.
func (c *Cache) startChunk(r *http.Request, rt Route, origin Origin, full string, mark *storage.Entry, i int64) (*chunkFill, bool) {
	key := chunkKey(full, i)
	// Fills are shared by readers of one representation only.
	slot := key + "\x00" + mark.Header.Get("ETag") + "\x00" + strconv.FormatInt(mark.Size, 10)
	f, started := join(&c.mu, c.chunks, slot, func() *chunkFill {
		return &chunkFill{span: policy.Chunk(i, mark.Size), buffer: newBuffer()}
	})
	if !started {
		return f, false
	}

	gen := c.beginFill()
	ctx, cancel := c.fillContext(r, rt, &f.fromPeer)
	fr := c.ownRequest(r.Clone(ctx))
	fr.Header.Set("Range", "bytes="+strconv.FormatInt(f.span.First, 10)+"-"+strconv.FormatInt(f.span.Last, 10))
	etag := mark.Header.Get("ETag")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		w := newOriginWriter(chunkSink{f: f, etag: etag, size: mark.Size})
		err := callOrigin(origin, w, fr)
		if !w.wrote {
			w.WriteHeader(http.StatusBadGateway)
		}
		f.mu.Lock()
		if err == nil {
			err = f.err
		}
		if err == nil && int64(len(f.body)) != f.span.Len() {
			err = errFillAborted
		}
		f.mu.Unlock()
		var stored *storage.Entry
		if err == nil {
			stored = &storage.Entry{Status: http.StatusPartialContent,
				Header: http.Header{"Etag": {etag}, "Content-Range": {w.h.Get("Content-Range")}}, Body: f.body,
				RequestTime: mark.RequestTime, ResponseTime: c.now(), Stored: c.now(),
				Service: mark.Service, Host: mark.Host, Path: mark.Path, Tags: mark.Tags, Gen: gen}
			if !c.store.Set(key, stored) {
				stored = nil
			}
		}
		c.endFill(gen, key, stored)
		land(&c.mu, c.chunks, slot, f)
		f.finish(err)
	}()
	return f, true
}

// ownRequest turns a clone of a client's request into one the cache makes on its own:
// a GET without body, conditions, range, cookies, with the cache's User-Agent.
func (c *Cache) ownRequest(fr *http.Request) *http.Request {
	fr.Method = http.MethodGet
	fr.Body, fr.ContentLength = http.NoBody, 0
	dropFields(fr, conditionFields)
	dropFields(fr, rangeFields)
	fr.Header.Del("Cookie")
	fr.Header.Set("User-Agent", cdnUserAgent)
	return fr
}

// callOrigin runs the origin for one of the cache's requests; a response the origin
// cut short (ReverseProxy aborts when the backend's body breaks) is an error.
func callOrigin(origin Origin, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			err = errFillAborted
		}
	}()
	origin(w, r)
	return nil
}

// chunkSink takes the origin's response to a chunk fill. Only a 206 of exactly the
// chunk, of the mark's ETag and length, is taken.
type chunkSink struct {
	f    *chunkFill
	etag string
	size int64
}

func (w chunkSink) interim(int, http.Header) {}

func (w chunkSink) head(code int, h http.Header) {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
	span, complete, ok := policy.ParseContentRange(h.Get("Content-Range"))
	switch {
	case code == http.StatusPartialContent && ok && span == f.span && complete == w.size && h.Get("ETag") == w.etag:
	case code == http.StatusOK || code == http.StatusPartialContent || code == http.StatusRequestedRangeNotSatisfiable:
		f.err = errRepresentationChanged
	default:
		f.err = errors.New("the origin answered a range fill with " + strconv.Itoa(code))
	}
	close(f.ready)
	f.signal()
}

func (w chunkSink) body(b []byte) (int, error) {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	if int64(len(f.body)+len(b)) > f.span.Len() {
		f.err = errRepresentationChanged
		return 0, f.err
	}
	if f.body == nil {
		f.body = make([]byte, 0, f.span.Len()) // a chunk is stored whole: one array of its length
	}
	f.body = append(f.body, b...)
	f.signal()
	return len(b), nil
}

// chunkReader reads an object filled in chunks, for http.ServeContent: from stored
// chunks, or from chunk fills as they arrive, one chunk at a time, with the next chunk
// the response needs filled ahead.
type chunkReader struct {
	c      *Cache
	r      *http.Request
	rt     Route
	origin Origin
	full   string
	mark   *storage.Entry
	etag   string
	limit  int64 // the last byte the response needs, for filling ahead

	pos     int64
	cur     int64      // the chunk open, -1 for none
	stored  []byte     // its bytes when stored
	fill    *chunkFill // its fill otherwise
	ahead   *chunkFill // the next chunk's fill, started ahead
	aheadAt int64
	status  int // the origin's status when a fill failed

	// With several ranges http.ServeContent reads on a goroutine of its own, which may
	// still run when it returns: what the handler reads afterwards is guarded.
	mu      sync.Mutex
	err     error
	started []*chunkFill // fills this request started that may still run
	filled  int64        // bytes of those that ended
	peer    bool
}

func (rd *chunkReader) fail(err error) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.err = err
	return err
}

func (rd *chunkReader) failed() error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.err
}

func (rd *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += rd.pos
	case io.SeekEnd:
		offset += rd.mark.Size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start")
	}
	rd.pos = offset
	return offset, nil
}

func (rd *chunkReader) Read(p []byte) (int, error) {
	if err := rd.failed(); err != nil {
		return 0, err
	}
	if rd.pos >= rd.mark.Size {
		return 0, io.EOF
	}
	i := rd.pos / policy.ChunkSize
	if i != rd.cur {
		if err := rd.open(i); err != nil {
			return 0, err
		}
	}
	off := rd.pos - i*policy.ChunkSize
	if rd.stored != nil {
		n := copy(p, rd.stored[off:])
		rd.pos += int64(n)
		return n, nil
	}
	f := rd.fill
	for {
		f.mu.Lock()
		n := 0
		if off < int64(len(f.body)) {
			n = copy(p, f.body[off:])
		}
		done, err, changed := f.done, f.err, f.changed
		f.mu.Unlock()
		if n > 0 {
			rd.pos += int64(n)
			return n, nil
		}
		if done || err != nil {
			if err == nil {
				err = errFillAborted
			}
			return 0, rd.fail(err)
		}
		select {
		case <-changed:
		case <-rd.r.Context().Done():
			return 0, rd.fail(rd.r.Context().Err())
		}
	}
}

// open makes chunk i the current one, from storage or a fill whose status it waits
// for, and starts filling the next chunk the response needs.
func (rd *chunkReader) open(i int64) error {
	rd.cur, rd.stored, rd.fill = i, nil, nil
	rd.settle()
	if rd.ahead != nil && rd.aheadAt == i {
		rd.fill = rd.ahead // filled ahead: used even if it ended and was not stored
	} else if e := rd.c.storedChunk(rd.full, i, rd.etag, rd.mark.Size); e != nil {
		rd.stored = e.Body
	} else {
		rd.fill = rd.startOrJoin(i)
	}
	rd.ahead = nil
	if next := i + 1; next*policy.ChunkSize <= rd.limit && !rd.c.hasChunk(rd.full, next, rd.etag) {
		rd.ahead, rd.aheadAt = rd.startOrJoin(next), next
	}
	if rd.fill == nil {
		return nil
	}
	select {
	case <-rd.fill.ready:
	case <-rd.r.Context().Done():
		return rd.fail(rd.r.Context().Err())
	}
	rd.fill.mu.Lock()
	status, err := rd.fill.status, rd.fill.err
	rd.fill.mu.Unlock()
	rd.status = status
	if err != nil {
		return rd.fail(err)
	}
	return nil
}

// settle counts the started fills that have ended and lets go of them, so a long
// response does not hold every chunk it filled.
func (rd *chunkReader) settle() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	kept := rd.started[:0]
	for _, f := range rd.started {
		f.mu.Lock()
		done, n := f.done, int64(len(f.body))
		f.mu.Unlock()
		if done {
			rd.filled += n
			rd.peer = rd.peer || f.fromPeer.Load()
			continue
		}
		kept = append(kept, f)
	}
	clear(rd.started[len(kept):])
	rd.started = kept
}

func (rd *chunkReader) startOrJoin(i int64) *chunkFill {
	f, started := rd.c.startChunk(rd.r, rd.rt, rd.origin, rd.full, rd.mark, i)
	if rd.c.chunkJoined != nil {
		rd.c.chunkJoined()
	}
	if started {
		rd.mu.Lock()
		rd.started = append(rd.started, f)
		rd.mu.Unlock()
	}
	return f
}

// fillBytes is what the fills this request started fetched, and whether another cache
// of the group answered them; it waits for them to end (they run on when the client
// has left).
func (rd *chunkReader) fillBytes() (int64, bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	n, peer := rd.filled, rd.peer
	for _, f := range rd.started {
		ended := f.wait(rd.r.Context())
		f.mu.Lock()
		n += int64(len(f.body))
		f.mu.Unlock()
		peer = peer || ended && f.fromPeer.Load()
	}
	return n, peer
}

// rangedCheck is one validation of a mark, shared by the requests that need it.
type rangedCheck struct {
	done   chan struct{}
	mark   *storage.Entry // the refreshed (or replaced) mark; nil when it could not be
	status int
	err    error
}

// checkRanged validates a mark with a separate request (a conditional GET of its first
// byte): a 304, or a 206 of the same ETag, refreshes it; a 206 of another ETag
// replaces it (its chunks are not used again). Concurrent checks of one mark share one
// request.
func (c *Cache) checkRanged(r *http.Request, rt Route, origin Origin, full string, mark *storage.Entry) *rangedCheck {
	ch, started := join(&c.mu, c.checks, full, func() *rangedCheck { return &rangedCheck{done: make(chan struct{})} })
	if !started {
		select {
		case <-ch.done:
		case <-r.Context().Done():
			return &rangedCheck{err: r.Context().Err()}
		}
		return ch
	}
	defer func() {
		land(&c.mu, c.checks, full, ch)
		close(ch.done)
	}()

	gen := c.beginFill()
	ctx, cancel := c.fillContext(r, rt, new(atomic.Bool))
	defer cancel()
	fr := c.ownRequest(r.Clone(ctx))
	fr.Header.Set("Range", "bytes=0-0")
	if etag := mark.Header.Get("ETag"); etag != "" {
		fr.Header.Set("If-None-Match", etag)
	}
	if lm := mark.Header.Get("Last-Modified"); lm != "" {
		fr.Header.Set("If-Modified-Since", lm)
	}
	reqTime := c.now()
	w := &headerWriter{h: http.Header{}}
	ch.err = callOrigin(origin, w, fr)
	if w.status != 0 {
		ch.err = nil // the headers are all a validation needs; the body was refused
	}
	respTime := c.now()
	ch.status = w.status
	p := rt.Policy
	if p == nil {
		p = &api.CdnPolicy{}
	}
	var next *storage.Entry
	if ch.err == nil {
		switch size, ok := policy.RangeSupport(w.status, w.h); {
		case w.status == http.StatusNotModified:
			// RFC 9111 4.3.4: the 304's fields replace the stored ones.
			h := mark.Header.Clone()
			for k, vs := range w.h {
				switch k {
				case "Content-Length", "Transfer-Encoding", "Content-Encoding", "Content-Range":
					continue
				}
				h[k] = vs
			}
			next = c.markFor(r.Header, rt.Signed, rt, mark.Host, mark.Path, gen, h, mark.Size, reqTime, respTime, p)
		case ok && (w.status == http.StatusPartialContent || w.status == http.StatusOK) && size <= policy.MaxRangedSize:
			next = c.markFor(r.Header, rt.Signed, rt, mark.Host, mark.Path, gen, w.h, size, reqTime, respTime, p)
		}
	}
	stored := (*storage.Entry)(nil)
	if next != nil && c.store.Set(full, next) {
		stored = next
	}
	c.endFill(gen, full, stored)
	ch.mark = next
	return ch
}

// headerWriter keeps a response's status and header and drops its body.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header { return w.h }
func (w *headerWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}
func (w *headerWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return 0, errHeadersEnough
}

// errHeadersEnough stops an origin's body a validation does not need (an origin that
// ignored its Range would send the whole object).
var errHeadersEnough = errors.New("the cache needs only the headers")

func (w *headerWriter) Flush() {}
