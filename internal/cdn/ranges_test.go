package cdn

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/cdn/policy"
	"meridian/internal/cdn/storage"
)

// rangeOrigin serves one object with http.ServeContent (so Range, If-Range and the
// conditions are answered as a real origin does) and records what it was asked.
type rangeOrigin struct {
	mu     sync.Mutex
	body   []byte
	etag   string
	asked  []string // each request's Range ("" for none)
	agents []string
	gate   chan struct{} // when set, range requests wait for it to close
	fail   int64         // when set, a range request starting here breaks off its body
	sent   atomic.Int64  // body bytes written
}

var lastModified = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func objectBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func newRangeEnv(t *testing.T, size int) (*env, *rangeOrigin) {
	ro := &rangeOrigin{body: objectBytes(size, 1), etag: `"v1"`}
	e := newEnv(t, &api.CdnPolicy{CacheMode: api.UseOriginHeaders}, ro.serve)
	return e, ro
}

func (o *rangeOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	body, etag, gate, fail := o.body, o.etag, o.gate, o.fail
	o.asked = append(o.asked, r.Header.Get("Range"))
	o.agents = append(o.agents, r.Header.Get("User-Agent"))
	o.mu.Unlock()
	rng := r.Header.Get("Range")
	if gate != nil && rng != "" {
		<-gate
	}
	if fail > 0 && strings.HasPrefix(rng, fmt.Sprintf("bytes=%d-", fail)) {
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", fail, min(fail+policy.ChunkSize, int64(len(body)))-1, len(body)))
		w.Header().Set("Content-Length", fmt.Sprint(min(policy.ChunkSize, int64(len(body))-fail)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body[fail : fail+1000])
		panic(http.ErrAbortHandler) // the connection breaks mid-body
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(&sentCounter{w, &o.sent}, r, "", lastModified, bytes.NewReader(body))
}

// take returns the Range of each request made since the last take, sorted (chunks are
// filled ahead, concurrently), and the body bytes sent.
func (o *rangeOrigin) take() (asked []string, sent int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	asked, o.asked = o.asked, nil
	slices.SortStableFunc(asked, func(a, b string) int { return cmp.Compare(rangeStart(a), rangeStart(b)) })
	return asked, o.sent.Swap(0)
}

func rangeStart(v string) int {
	n := -1
	fmt.Sscanf(v, "bytes=%d-", &n)
	return n
}

func (o *rangeOrigin) change(body []byte, etag string) {
	o.mu.Lock()
	o.body, o.etag = body, etag
	o.mu.Unlock()
}

type sentCounter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (s *sentCounter) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.n.Add(int64(n))
	return n, err
}

func chunkRange(i, size int64) string {
	c := policy.Chunk(i, size)
	return fmt.Sprintf("bytes=%d-%d", c.First, c.Last)
}

// checkBody compares a response's body with the object's bytes from first.
func checkBody(t *testing.T, got, object []byte, first int64) {
	t.Helper()
	want := object[first : first+int64(len(got))]
	if !bytes.Equal(got, want) {
		t.Fatalf("body of %d bytes from %d differs from the object", len(got), first)
	}
}

// Reference section 2: the first response over 1 MiB from an origin that serves ranges
// is not stored but marks the key; the next miss fills in aligned chunks; the third
// request is a hit.
func TestRangeLargeObjectMarksThenFillsInChunks(t *testing.T) {
	const size = 5_000_000
	e, ro := newRangeEnv(t, size)
	w, res := e.do("GET", "/big")
	if w.Code != 200 || w.Body.Len() != size || res.Status != "miss" || res.Detail != "byte_range_caching" {
		t.Fatalf("first: %d %d bytes %+v", w.Code, w.Body.Len(), res)
	}
	checkBody(t, w.Body.Bytes(), ro.body, 0)
	if asked, _ := ro.take(); len(asked) != 1 || asked[0] != "" {
		t.Fatalf("first request asked %q", asked)
	}
	key := "https://example.com/big"
	if m, ok := e.cache.store.Get(key); !ok || !m.Ranged || m.Size != size || m.Body != nil {
		t.Fatalf("the key is not marked: %+v", m)
	}

	w, res = e.do("GET", "/big")
	if w.Code != 200 || w.Body.Len() != size || w.Header().Get("Content-Length") != fmt.Sprint(size) {
		t.Fatalf("second: %d %d bytes %v", w.Code, w.Body.Len(), w.Header())
	}
	checkBody(t, w.Body.Bytes(), ro.body, 0)
	asked, sent := ro.take()
	want := []string{chunkRange(0, size), chunkRange(1, size), chunkRange(2, size)}
	if strings.Join(asked, " ") != strings.Join(want, " ") || sent != size || res.FillBytes != size || res.Hit {
		t.Fatalf("second request asked %q (%d bytes), result %+v", asked, sent, res)
	}
	ro.mu.Lock()
	agent := ro.agents[len(ro.agents)-1]
	ro.mu.Unlock()
	if agent != cdnUserAgent {
		t.Errorf("chunk fills sent User-Agent %q", agent)
	}

	w, res = e.do("GET", "/big")
	if w.Code != 200 || w.Body.Len() != size || !res.Hit || res.Status != "hit" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("third: %d %d %+v %v", w.Code, w.Body.Len(), res, w.Header())
	}
	checkBody(t, w.Body.Bytes(), ro.body, 0)
	if asked, _ := ro.take(); len(asked) != 0 {
		t.Fatalf("a hit asked the origin %q", asked)
	}
}

// The reference's example: a client asks bytes 1,000,000-3,999,999; the first
// (partial) response marks the key; the next causes two chunk fills, 4,194,272 bytes.
func TestRangeSeedExampleTwoChunkFills(t *testing.T) {
	const size = 10 << 20
	e, ro := newRangeEnv(t, size)
	w, res := e.do("GET", "/video", "Range", "bytes=1000000-3999999")
	if w.Code != 206 || w.Body.Len() != 3000000 || w.Header().Get("Content-Range") != fmt.Sprintf("bytes 1000000-3999999/%d", size) {
		t.Fatalf("first: %d %d %v", w.Code, w.Body.Len(), w.Header())
	}
	checkBody(t, w.Body.Bytes(), ro.body, 1000000)
	if asked, sent := ro.take(); len(asked) != 1 || asked[0] != "bytes=1000000-3999999" || sent != 3000000 || res.FillBytes != 0 {
		t.Fatalf("first asked %q (%d bytes), fill %d: the client's range is forwarded and not stored", asked, sent, res.FillBytes)
	}

	w, res = e.do("GET", "/video", "Range", "bytes=1000000-3999999")
	if w.Code != 206 || w.Body.Len() != 3000000 || w.Header().Get("Content-Range") != fmt.Sprintf("bytes 1000000-3999999/%d", size) {
		t.Fatalf("second: %d %d %v", w.Code, w.Body.Len(), w.Header())
	}
	checkBody(t, w.Body.Bytes(), ro.body, 1000000)
	asked, sent := ro.take()
	if strings.Join(asked, " ") != "bytes=0-2097135 bytes=2097136-4194271" || sent != 4194272 || res.FillBytes != 4194272 {
		t.Fatalf("second asked %q (%d bytes), fill %d; want two chunk fills of 4,194,272 bytes", asked, sent, res.FillBytes)
	}
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") {
		t.Errorf("Cache-Status %q", cs)
	}

	w, res = e.do("GET", "/video", "Range", "bytes=1000000-3999999")
	if w.Code != 206 || !res.Hit || w.Body.Len() != 3000000 {
		t.Fatalf("third: %d %+v", w.Code, res)
	}
	if asked, _ := ro.take(); len(asked) != 0 {
		t.Fatalf("third asked %q", asked)
	}

	// A partial hit: chunk 1 is stored, chunk 2 is filled.
	w, res = e.do("GET", "/video", "Range", "bytes=3000000-5000000")
	if w.Code != 206 || w.Body.Len() != 2000001 || res.Hit || res.FillBytes != policy.ChunkSize {
		t.Fatalf("partial hit: %d %d %+v", w.Code, w.Body.Len(), res)
	}
	checkBody(t, w.Body.Bytes(), ro.body, 3000000)
	if asked, _ := ro.take(); len(asked) != 1 || asked[0] != chunkRange(2, size) {
		t.Fatalf("partial hit asked %q; want only chunk 2", asked)
	}
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=partial") {
		t.Errorf("partial hit Cache-Status %q", cs)
	}
}

// RFC 9110 14.1.2 and 14.6: a multiple-range request is answered from the chunks with
// multipart/byteranges; RFC 9110 15.5.17: an unsatisfiable range gets 416.
func TestRangeRFC9110MultipleRangesAnd416(t *testing.T) {
	const size = 3 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/m") // marks
	ro.take()
	w, _ := e.do("GET", "/m", "Range", "bytes=0-9,-10")
	mt, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.Code != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multiple ranges: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	for _, first := range []int64{0, size - 10} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if len(got) != 10 || p.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", first, first+9, size) {
			t.Fatalf("part %q %d bytes", p.Header.Get("Content-Range"), len(got))
		}
		checkBody(t, got, ro.body, first)
	}
	w, _ = e.do("GET", "/m", "Range", fmt.Sprintf("bytes=%d-", size))
	if w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Fatalf("unsatisfiable: %d %v", w.Code, w.Header())
	}
	// RFC 9110 13.1.2: a matching If-None-Match is a 304, without a fill.
	ro.take()
	w, _ = e.do("GET", "/m", "If-None-Match", `"v1"`)
	if w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
	// RFC 9110 13.1.5: an If-Range that does not match gets the whole object.
	w, _ = e.do("GET", "/m", "Range", "bytes=0-9", "If-Range", `"v0"`)
	if w.Code != 200 || w.Body.Len() != size {
		t.Fatalf("If-Range mismatch: %d %d", w.Code, w.Body.Len())
	}
	w, _ = e.do("HEAD", "/m")
	if w.Code != 200 || w.Header().Get("Content-Length") != fmt.Sprint(size) || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %v", w.Code, w.Header())
	}
}

// Chunk fills are coalesced per chunk: concurrent requests of one range make one
// request per chunk.
func TestRangeChunkFillsAreCoalesced(t *testing.T) {
	const size = 4_000_000 // two chunks
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/c")
	ro.take()
	gate := make(chan struct{})
	ro.mu.Lock()
	ro.gate = gate
	ro.mu.Unlock()
	const n = 8
	var joined sync.WaitGroup
	joined.Add(n * 2) // each reader joins chunk 0 and, ahead, chunk 1
	e.cache.chunkJoined = joined.Done
	var wg sync.WaitGroup
	bodies := make([][]byte, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "https://example.com/c", nil)
			w := httptest.NewRecorder()
			e.cache.Serve(w, r, e.route, e.fn)
			bodies[i] = w.Body.Bytes()
		}()
	}
	joined.Wait()
	e.cache.chunkJoined = nil
	close(gate)
	wg.Wait()
	for i, b := range bodies {
		if !bytes.Equal(b, ro.body) {
			t.Fatalf("client %d got %d bytes, not the object", i, len(b))
		}
	}
	asked, _ := ro.take()
	if len(asked) != 2 {
		t.Fatalf("%d concurrent requests asked %q; want one request per chunk", n, asked)
	}
}

// hashWriter is a ResponseWriter that keeps a digest of the body, not the body.
type hashWriter struct {
	h    http.Header
	code int
	sum  hash.Hash
	n    int64
}

func (w *hashWriter) Header() http.Header { return w.h }
func (w *hashWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
func (w *hashWriter) Write(b []byte) (int, error) {
	w.WriteHeader(200)
	w.sum.Write(b)
	w.n += int64(len(b))
	return len(b), nil
}

// An object larger than the cache streams through it in chunks: a 64 MiB object
// through a 16 MiB cache, twice, correct both times, with nothing stored larger than a
// chunk and the store within its budget.
func TestRange64MiBObjectThrough16MiBCache(t *testing.T) {
	const size = 64 << 20
	e, ro := newRangeEnv(t, size)
	e.cache = New("TEST-cache", 16<<20, e.clk.now)
	t.Cleanup(e.cache.Close)
	want := sha256.Sum256(ro.body)
	for round := range 2 {
		r := httptest.NewRequest("GET", "https://example.com/huge", nil)
		w := &hashWriter{h: http.Header{}, sum: sha256.New()}
		e.cache.Serve(w, r, e.route, e.fn)
		if w.code != 200 || w.n != size || !bytes.Equal(w.sum.Sum(nil), want[:]) {
			t.Fatalf("round %d: %d, %d bytes, digest differs: %v", round, w.code, w.n, !bytes.Equal(w.sum.Sum(nil), want[:]))
		}
	}
	if b := e.cache.store.Bytes(); b > 16<<20 {
		t.Fatalf("the store holds %d bytes over its 16 MiB budget", b)
	}
	for k, en := range e.cache.store.All() {
		if len(en.Body) > policy.ChunkSize {
			t.Fatalf("%q holds %d bytes, more than a chunk", k, len(en.Body))
		}
	}
	asked, _ := ro.take()
	if len(asked) < 1+32 {
		t.Fatalf("asked %d requests; want the first whole and 32 chunk fills", len(asked))
	}
}

// The mark is validated with a separate conditional request: a 304 keeps the chunks;
// a new representation (another ETag) replaces the mark and its chunks are filled anew.
func TestRangeValidationIsSeparate(t *testing.T) {
	const size = 3 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/v")
	e.do("GET", "/v") // fills chunks 0 and 1
	ro.take()
	e.clk.advance(2 * time.Hour)
	w, res := e.do("GET", "/v", "Range", "bytes=0-99")
	if w.Code != 206 || !res.Validated || res.Status != "revalidated" {
		t.Fatalf("validated: %d %+v", w.Code, res)
	}
	checkBody(t, w.Body.Bytes(), ro.body, 0)
	if asked, _ := ro.take(); len(asked) != 1 || asked[0] != "bytes=0-0" {
		t.Fatalf("validation asked %q; want one conditional request of byte 0", asked)
	}
	if e.o.last().Header.Get("If-None-Match") != `"v1"` {
		t.Fatalf("validation sent If-None-Match %q", e.o.last().Header.Get("If-None-Match"))
	}

	// A new representation.
	v2 := objectBytes(size, 2)
	ro.change(v2, `"v2"`)
	e.clk.advance(2 * time.Hour)
	w, _ = e.do("GET", "/v")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), v2) {
		t.Fatalf("after a change: %d, %d bytes, new object %v", w.Code, w.Body.Len(), bytes.Equal(w.Body.Bytes(), v2))
	}
	asked, _ := ro.take()
	if strings.Join(asked, " ") != "bytes=0-0 "+chunkRange(0, size)+" "+chunkRange(1, size) {
		t.Fatalf("after a change asked %q", asked)
	}
}

// A representation that changes without the mark knowing (a chunk fill gets another
// ETag) drops the mark; the request is served anew, with the new object.
func TestRangeRepresentationChangedUnderAChunkFill(t *testing.T) {
	const size = 3 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/x") // marks v1
	v2 := objectBytes(size, 3)
	ro.change(v2, `"v2"`)
	w, _ := e.do("GET", "/x")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), v2) {
		t.Fatalf("%d, %d bytes, the new object: %v", w.Code, w.Body.Len(), bytes.Equal(w.Body.Bytes(), v2))
	}
}

// A chunk fill that breaks mid-body cuts the client's response short (the client must
// not take a truncated body for the object), and nothing broken is stored.
func TestRangeBrokenChunkFillAbortsTheResponse(t *testing.T) {
	const size = 5 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/b")
	ro.mu.Lock()
	ro.fail = policy.ChunkSize // chunk 1 breaks
	ro.mu.Unlock()
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v; want the response aborted", p)
			}
		}()
		e.do("GET", "/b")
		t.Fatal("the response was not aborted")
	}()
	if e.cache.storedChunk("https://example.com/b", 1, `"v1"`, size) != nil {
		t.Fatal("a broken chunk was stored")
	}
	ro.mu.Lock()
	ro.fail = 0
	ro.mu.Unlock()
	w, _ := e.do("GET", "/b")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), ro.body) {
		t.Fatalf("after the break: %d %d", w.Code, w.Body.Len())
	}
}

// An origin that does not serve ranges (no ETag) has objects up to 10 MiB stored
// whole, and ranges served from them.
func TestRangeOriginWithoutRangeSupportStoresWhole(t *testing.T) {
	body := objectBytes(1536<<10, 4) // over 1 MiB, under the store's large-object size
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(body)
	})
	e.do("GET", "/w")
	w, res := e.do("GET", "/w", "Range", "bytes=100-199")
	if w.Code != 206 || !res.Hit || !bytes.Equal(w.Body.Bytes(), body[100:200]) {
		t.Fatalf("range of a whole stored object: %d %+v", w.Code, res)
	}
}

// A small object's first range response marks it (it is partial); later requests fill
// its one chunk and then hit.
func TestRangeSmallObjectFirstPartial(t *testing.T) {
	const size = 1000
	e, ro := newRangeEnv(t, size)
	w, _ := e.do("GET", "/s", "Range", "bytes=0-99")
	if w.Code != 206 || w.Body.Len() != 100 {
		t.Fatalf("first: %d", w.Code)
	}
	w, _ = e.do("GET", "/s")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), ro.body) {
		t.Fatalf("second: %d", w.Code)
	}
	w, res := e.do("GET", "/s", "Range", "bytes=-10")
	if w.Code != 206 || !res.Hit || !bytes.Equal(w.Body.Bytes(), ro.body[size-10:]) {
		t.Fatalf("third: %d %+v", w.Code, res)
	}
	if asked, _ := ro.take(); strings.Join(asked, " ") != "bytes=0-99 bytes=0-999" {
		t.Fatalf("asked %q", asked)
	}
}

// Invalidation removes a ranged object's mark and its chunks.
func TestRangeInvalidationRemovesChunks(t *testing.T) {
	const size = 5 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/i")
	e.do("GET", "/i")
	if n := e.cache.Invalidate(Rule{Revision: 10, Path: "/i"}); n != 4 {
		t.Fatalf("invalidation removed %d entries; want the mark and 3 chunks", n)
	}
	ro.take()
	e.do("GET", "/i")
	if asked, _ := ro.take(); len(asked) != 1 || asked[0] != "" {
		t.Fatalf("after invalidation asked %q; want a first request anew", asked)
	}
}

// withDisk replaces the env's cache with one whose store has a disk tier in dir.
func (e *env) withDisk(dir string) {
	e.t.Helper()
	c := New("TEST-cache", 16<<20, e.clk.now)
	d, err := storage.OpenDisk(dir, 1<<30)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Store().UseDisk(d)
	e.t.Cleanup(c.Close)
	e.cache = c
}

// The disk tier keeps a chunked object's mark and chunks across a restart; it is
// dropped when the store may have missed invalidations meanwhile.
func TestRangeDiskTierSurvivesARestart(t *testing.T) {
	const size = 5_000_000
	e, ro := newRangeEnv(t, size)
	dir := t.TempDir()
	e.withDisk(dir)
	e.cache.SetGeneration(5)
	e.do("GET", "/big")
	e.do("GET", "/big")
	ro.take()
	e.cache.Close()

	e.withDisk(dir) // the next run
	if why := e.cache.ResumeDisk(5, api.OperationRetention); why != "" {
		t.Fatalf("a store up to date was dropped: %s", why)
	}
	w, res := e.do("GET", "/big", "Range", "bytes=4000000-4999999")
	if w.Code != 206 || !res.Hit || !bytes.Equal(w.Body.Bytes(), ro.body[4000000:]) {
		t.Fatalf("after a restart: %d %+v", w.Code, res)
	}
	if asked, _ := ro.take(); len(asked) != 0 {
		t.Fatalf("after a restart asked %q", asked)
	}
	e.cache.Close()

	e.withDisk(dir)
	if why := e.cache.ResumeDisk(4, api.OperationRetention); !strings.Contains(why, "beyond") || e.cache.Store().Disk().Len() != 0 {
		t.Fatalf("a store from another etcd was kept: %q", why)
	}
	e.cache.Close()

	e.withDisk(dir)
	e.cache.SetGeneration(5)
	e.do("GET", "/big")
	e.cache.Close()
	e.clk.advance(api.OperationRetention + time.Hour)
	e.withDisk(dir)
	if why := e.cache.ResumeDisk(9, api.OperationRetention); why == "" || e.cache.Store().Disk().Len() != 0 {
		t.Fatalf("a store older than the rules kept was kept: %q", why)
	}
}

// A chunk fill is shared only by readers of one representation: a reader of an older
// mark does not join a fill made for a newer one (its bytes would mix two objects).
func TestRangeChunkFillsAreSharedPerRepresentation(t *testing.T) {
	const size = 3 << 20
	e, ro := newRangeEnv(t, size)
	e.do("GET", "/r") // marks v1
	gate := make(chan struct{})
	ro.mu.Lock()
	ro.gate = gate
	ro.mu.Unlock()
	defer close(gate)
	m1, _ := e.cache.store.Get("https://example.com/r")
	m2 := *m1
	m2.Header = m1.Header.Clone()
	m2.Header.Set("ETag", `"v2"`)
	r := httptest.NewRequest("GET", "https://example.com/r", nil)
	f2, started2 := e.cache.startChunk(r, e.route, e.fn, "https://example.com/r", &m2, 0)
	f1, started1 := e.cache.startChunk(r, e.route, e.fn, "https://example.com/r", m1, 0)
	if !started2 || !started1 || f1 == f2 {
		t.Fatalf("a v1 reader joined the v2 fill (started %v %v)", started2, started1)
	}
	again, started := e.cache.startChunk(r, e.route, e.fn, "https://example.com/r", m1, 0)
	if started || again != f1 {
		t.Fatal("a second v1 reader did not join the v1 fill")
	}
}

// A long response lets go of the chunk fills it has finished with: it holds at most
// the chunk it reads and the one filled ahead.
func TestRangeReaderDoesNotHoldFinishedChunks(t *testing.T) {
	const size = 12 * policy.ChunkSize
	e, _ := newRangeEnv(t, size)
	e.cache = New("TEST-cache", 1<<20, e.clk.now) // stores no chunk: every one is filled
	t.Cleanup(e.cache.Close)
	e.do("GET", "/long") // marks
	mark, _ := e.cache.store.Get("https://example.com/long")
	r := httptest.NewRequest("GET", "https://example.com/long", nil)
	rd := &chunkReader{c: e.cache, r: r, rt: e.route, origin: e.fn, full: "https://example.com/long", mark: mark, etag: `"v1"`, cur: -1, limit: size - 1}
	held := 0
	buf := make([]byte, 64<<10)
	for {
		_, err := rd.Read(buf)
		rd.mu.Lock()
		held = max(held, len(rd.started))
		rd.mu.Unlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rd.fillBytes(); held > 3 || n != size {
		t.Fatalf("held up to %d fills; filled %d of %d bytes", held, n, size)
	}
}

// A mark whose representation changed is dropped and the request served as a miss,
// also when the mark lives only on disk (it is read anew each time, so it is dropped by
// its ETag, not its address), without going round again.
func TestRangeChangedMarkOnDiskIsServedOnce(t *testing.T) {
	const size = 3 << 20
	e, ro := newRangeEnv(t, size)
	c := New("TEST-cache", 100, e.clk.now) // memory holds nothing
	d, err := storage.OpenDisk(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	c.Store().UseDisk(d)
	t.Cleanup(c.Close)
	e.cache = c
	e.do("GET", "/d") // marks v1, on disk
	v2 := objectBytes(size, 5)
	ro.change(v2, `"v2"`)
	ro.take()
	w, _ := e.do("GET", "/d", "Range", "bytes=0-10")
	if w.Code != 206 || !bytes.Equal(w.Body.Bytes(), v2[:11]) {
		t.Fatalf("%d %q", w.Code, w.Body.Bytes())
	}
	if asked, _ := ro.take(); len(asked) > 4 {
		t.Fatalf("asked the origin %d times: %q", len(asked), asked)
	}
}
