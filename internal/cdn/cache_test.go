package cdn

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/api"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// origin is an httptest server that counts what reaches it; handle decides each answer.
type origin struct {
	srv     *httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	handle  http.HandlerFunc
	lastReq *http.Request
}

func newOrigin(t *testing.T, clk *clock, h http.HandlerFunc) *origin {
	o := &origin{handle: h}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		w.Header().Set("Date", clk.now().Format(http.TimeFormat)) // the origin shares the test's clock
		o.mu.Lock()
		o.lastReq = r.Clone(r.Context())
		handle := o.handle
		o.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) set(h http.HandlerFunc) {
	o.mu.Lock()
	o.handle = h
	o.mu.Unlock()
}

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastReq
}

// env is a cache in front of an origin, with a fake clock.
type env struct {
	t     *testing.T
	cache *Cache
	clk   *clock
	o     *origin
	route Route
	fn    Origin
}

func newEnv(t *testing.T, p *api.CdnPolicy, h http.HandlerFunc) *env {
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	c := New("TEST-cache", 64<<20, clk.now)
	t.Cleanup(c.Close)
	o := newOrigin(t, clk, h)
	u, _ := url.Parse(o.srv.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	if p == nil {
		p = &api.CdnPolicy{CacheMode: api.UseOriginHeaders}
	}
	return &env{t: t, cache: c, clk: clk, o: o, fn: rp.ServeHTTP,
		route: Route{Policy: p, Scheme: "https", Timeout: 10 * time.Second, Decorate: func(h http.Header, s string) { h.Set("X-Cache", s) }}}
}

// do sends one request through the cache and returns the recorded response and result.
func (e *env) do(method, target string, hdr ...string) (*httptest.ResponseRecorder, Result) {
	e.t.Helper()
	r := httptest.NewRequest(method, "https://example.com"+target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	res := e.cache.Serve(w, r, e.route, e.fn)
	return w, res
}

func maxAge(n int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", n))
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}
}

func TestMissThenHitWithAge(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "hello"))
	w, res := e.do("GET", "/a")
	if w.Code != 200 || w.Body.String() != "hello" || res.Hit || !res.Lookup || res.FillBytes != 5 {
		t.Fatalf("miss: %d %q %+v", w.Code, w.Body, res)
	}
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") || w.Header().Get("X-Cache") != "miss" {
		t.Errorf("miss headers: %v", w.Header())
	}
	e.clk.advance(10 * time.Second)
	w, res = e.do("GET", "/a")
	if w.Code != 200 || w.Body.String() != "hello" || !res.Hit || res.Detail != "response_from_cache" {
		t.Fatalf("hit: %d %q %+v", w.Code, w.Body, res)
	}
	if w.Header().Get("Age") != "10" || !strings.HasPrefix(w.Header().Get("Cache-Status"), "TEST-cache; hit") || w.Header().Get("X-Cache") != "hit" {
		t.Errorf("hit headers: %v", w.Header())
	}
	if n := e.o.hits.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
}

// RFC 9111 4.3.1 and 4.3.4: an expired entry is validated with its stored validators;
// a 304 refreshes the stored headers and the stored body is served.
func TestRFC9111_4_3_4_ValidationWith304(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "body-v1"))
	e.do("GET", "/a")
	e.clk.advance(61 * time.Second)
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != `"v1"` {
			t.Errorf("validation sent If-None-Match %q", r.Header.Get("If-None-Match"))
		}
		w.Header().Set("Cache-Control", "max-age=120")
		w.Header().Set("X-Refreshed", "yes")
		w.WriteHeader(http.StatusNotModified)
	})
	w, res := e.do("GET", "/a")
	if w.Code != 200 || w.Body.String() != "body-v1" || !res.Validated || res.Detail != "response_from_cache_validated" {
		t.Fatalf("validated: %d %q %+v", w.Code, w.Body, res)
	}
	if w.Header().Get("X-Refreshed") != "yes" || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=304") {
		t.Errorf("validated headers: %v", w.Header())
	}
	// The refreshed entry is fresh for its new lifetime.
	e.clk.advance(100 * time.Second)
	w, res = e.do("GET", "/a")
	if !res.Hit || w.Header().Get("X-Refreshed") != "yes" {
		t.Errorf("after validation: %+v %v", res, w.Header())
	}
	if n := e.o.hits.Load(); n != 2 {
		t.Errorf("origin saw %d requests, want 2", n)
	}
}

// N concurrent misses of one key make one origin request; all N get the body.
func TestCoalescedMisses(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(200)
		io.WriteString(w, "part1-")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "part2")
	})
	const n = 20
	var joined sync.WaitGroup
	joined.Add(n)
	e.cache.joined = joined.Done
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, _ := e.do("GET", "/big")
			bodies <- w.Body.String()
		}()
	}
	// Every client is on the one fill, which cannot finish before release: all of
	// them stream the same response.
	joined.Wait()
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "part1-part2" {
			t.Errorf("a coalesced client got %q", b)
		}
	}
	if h := e.o.hits.Load(); h != 1 {
		t.Errorf("%d concurrent misses made %d origin requests, want 1", n, h)
	}
}

// RFC 9111 4.3.2: a client's conditional request is answered from the cache.
func TestRFC9111_4_3_2_ClientConditionalFromCache(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "x"))
	e.do("GET", "/a")
	w, res := e.do("GET", "/a", "If-None-Match", `"v1"`)
	if w.Code != http.StatusNotModified || !res.Hit {
		t.Errorf("If-None-Match: %d %+v", w.Code, res)
	}
	if e.o.hits.Load() != 1 {
		t.Error("the conditional request reached the origin")
	}
}

// A HEAD is answered from a stored GET.
func TestHEADFromStoredGET(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "hello"))
	e.do("GET", "/a")
	w, res := e.do("HEAD", "/a")
	if w.Code != 200 || w.Body.Len() != 0 || !res.Hit || w.Header().Get("Content-Length") != "5" {
		t.Errorf("HEAD: %d %q %+v %v", w.Code, w.Body, res, w.Header())
	}
}

// RFC 9111 4.1: Vary selects a variant by the request's headers.
func TestRFC9111_4_1_VarySecondaryKey(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		io.WriteString(w, "enc="+r.Header.Get("Accept-Encoding"))
	})
	a, _ := e.do("GET", "/v", "Accept-Encoding", "gzip")
	b, resB := e.do("GET", "/v", "Accept-Encoding", "br")
	c, resC := e.do("GET", "/v", "Accept-Encoding", "gzip")
	if a.Body.String() != "enc=gzip" || b.Body.String() != "enc=br" || resB.Hit || c.Body.String() != "enc=gzip" || !resC.Hit {
		t.Errorf("variants: %q %q(%+v) %q(%+v)", a.Body, b.Body, resB, c.Body, resC)
	}
}

// RFC 9111 4.4: a successful unsafe request invalidates the stored response of its URI.
func TestRFC9111_4_4_UnsafeMethodInvalidates(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "x"))
	e.do("GET", "/a")
	e.do("GET", "/b")
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			w.Header().Set("Location", "/b")
			w.WriteHeader(201)
			return
		}
		maxAge(60, "y")(w, r)
	})
	if w, res := e.do("POST", "/a"); w.Code != 201 || res.Hit {
		t.Fatalf("POST: %d %+v", w.Code, res)
	}
	if w, res := e.do("GET", "/a"); res.Hit || w.Body.String() != "y" {
		t.Errorf("after POST the URI is still cached: %+v", res)
	}
	if _, res := e.do("GET", "/b"); res.Hit {
		t.Errorf("after POST with Location: /b, /b is still cached")
	}
}

// A response that sets a cookie is neither stored nor shared with coalesced requests.
func TestSetCookieNotStoredNorShared(t *testing.T) {
	var n atomic.Int64
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Set-Cookie", fmt.Sprintf("session=%d", n.Add(1)))
		io.WriteString(w, "personal")
	})
	a, resA := e.do("GET", "/me")
	b, resB := e.do("GET", "/me")
	if resA.Hit || resB.Hit || a.Header().Get("Set-Cookie") == b.Header().Get("Set-Cookie") || resA.Status != "uncacheable" {
		t.Errorf("Set-Cookie: %+v %+v %v %v", resA, resB, a.Header(), b.Header())
	}
}

// Cloud CDN's serveWhileStale: a stale entry is served while one background
// validation runs, and the validation's response replaces it.
func TestServeWhileStaleRevalidatesOnce(t *testing.T) {
	sws := int64(86400)
	e := newEnv(t, &api.CdnPolicy{CacheMode: api.CacheAllStatic, ServeWhileStale: &sws}, maxAge(10, "old"))
	e.do("GET", "/a")
	e.clk.advance(20 * time.Second)
	release := make(chan struct{})
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		<-release // the validation is under way while the stale entry is served
		maxAge(10, "new")(w, r)
	})
	for range 3 {
		w, res := e.do("GET", "/a")
		if w.Body.String() != "old" || !res.Hit || res.Status != "stale" {
			t.Fatalf("stale serve: %q %+v", w.Body, res)
		}
	}
	close(release)
	e.cache.wg.Wait() // the background validation
	if w, res := e.do("GET", "/a"); w.Body.String() != "new" || !res.Hit {
		t.Fatalf("after the background validation: %q %+v", w.Body, res)
	}
	if h := e.o.hits.Load(); h != 2 {
		t.Errorf("origin saw %d requests, want 2 (one fill, one background validation)", h)
	}
}

// RFC 9111 4.2.4 and RFC 5861: with USE_ORIGIN_HEADERS a stale response is served
// only as far as the origin's stale-while-revalidate allows (serveWhileStale bounds
// it); without it, a stale response is validated before it is served.
func TestRFC9111_4_2_4_StaleOnlyWhenOriginAllows(t *testing.T) {
	sws := int64(86400)
	e := newEnv(t, &api.CdnPolicy{CacheMode: api.UseOriginHeaders, ServeWhileStale: &sws}, maxAge(10, "old"))
	e.do("GET", "/a")
	e.clk.advance(20 * time.Second)
	e.o.set(maxAge(10, "new"))
	if w, res := e.do("GET", "/a"); w.Body.String() != "new" || res.Hit {
		t.Fatalf("stale served without the origin's leave: %q %+v", w.Body, res)
	}

	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=30")
		io.WriteString(w, "swr")
	})
	e.do("GET", "/b")
	e.clk.advance(20 * time.Second) // 10 s stale: within stale-while-revalidate
	if w, res := e.do("GET", "/b"); w.Body.String() != "swr" || res.Status != "stale" {
		t.Fatalf("within stale-while-revalidate: %q %+v", w.Body, res)
	}
	e.cache.wg.Wait()
	e.clk.advance(45 * time.Second) // 35 s past the refreshed entry's lifetime
	before := e.o.hits.Load()
	if _, res := e.do("GET", "/b"); res.Hit {
		t.Fatalf("served beyond stale-while-revalidate: %+v", res)
	}
	if e.o.hits.Load() != before+1 {
		t.Error("no origin request for an entry stale beyond stale-while-revalidate")
	}
}

// Cloud CDN's serveWhileStale also covers errors: when the validation of a stale
// entry fails, the stale entry is served (unless must-revalidate forbids it).
func TestServeWhileStaleOnOriginError(t *testing.T) {
	sws := int64(86400)
	e := newEnv(t, &api.CdnPolicy{CacheMode: api.UseOriginHeaders, ServeWhileStale: &sws}, maxAge(10, "kept"))
	e.do("GET", "/a")
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, must-revalidate")
		io.WriteString(w, "strict")
	})
	e.do("GET", "/strict")
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, no-cache, max-age=3600")
		w.Header().Set("ETag", `"nc"`)
		io.WriteString(w, "no-cache")
	})
	e.do("GET", "/nocache")
	e.clk.advance(20 * time.Second)
	e.o.set(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	w, res := e.do("GET", "/a")
	if w.Code != 200 || w.Body.String() != "kept" || res.Status != "stale" || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=503") {
		t.Fatalf("stale on error: %d %q %+v %v", w.Code, w.Body, res, w.Header())
	}
	if w, _ := e.do("GET", "/strict"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("must-revalidate entry served stale on error: %d %q", w.Code, w.Body)
	}
	if w, _ := e.do("GET", "/nocache"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no-cache entry served without validation on error: %d %q", w.Code, w.Body)
	}
	e.clk.advance(48 * time.Hour)
	if w, _ := e.do("GET", "/a"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("served stale beyond serveWhileStale: %d", w.Code)
	}
}

// RFC 9110 6.6.1: a response without Date is stored with the time it arrived, so a
// later hit carries that Date and an Age that adds up.
func TestRFC9110_6_6_1_DateAddedWhenStored(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "x"))
	e.o.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // net/http adds none
		maxAge(60, "x")(w, r)
	})
	e.do("GET", "/a")
	e.clk.advance(30 * time.Second)
	w, res := e.do("GET", "/a")
	if !res.Hit || w.Header().Get("Date") != "Mon, 23 Nov 2026 12:00:00 GMT" || w.Header().Get("Age") != "30" {
		t.Errorf("hit: %+v Date %q Age %q", res, w.Header().Get("Date"), w.Header().Get("Age"))
	}
}

// RFC 9111 3: a 103 Early Hints response is relayed to the client that caused the
// fill, and only the final response is stored.
func TestRFC9111_3_InterimResponsesRelayedNotStored(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		maxAge(60, "final")(w, r)
	})
	var hints []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.cache.Serve(w, r, e.route, e.fn) }))
	defer srv.Close()
	get := func() (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/a", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if h.Get("Link") == "" {
				t.Errorf("the %d lacks its Link", code)
			}
			hints = append(hints, code)
			return nil
		}}))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	if resp, body := get(); body != "final" || len(hints) != 1 || hints[0] != 103 || resp.Header.Get("Link") != "" {
		t.Fatalf("miss: %q, interim %v, final Link %q", body, hints, resp.Header.Get("Link"))
	}
	if resp, body := get(); body != "final" || len(hints) != 1 || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") || resp.Header.Get("Link") != "" {
		t.Fatalf("hit: %q, interim %v, %v", body, hints, resp.Header)
	}
}

// RFC 9111 4.3.2: If-Modified-Since against a stored response without Last-Modified
// is evaluated against its Date.
func TestRFC9111_4_3_2_IfModifiedSinceUsesDate(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "x")
	})
	e.do("GET", "/a")
	if w, _ := e.do("GET", "/a", "If-Modified-Since", "Mon, 23 Nov 2026 12:00:00 GMT"); w.Code != http.StatusNotModified {
		t.Errorf("IMS at Date: %d", w.Code)
	}
	if w, _ := e.do("GET", "/a", "If-Modified-Since", "Mon, 23 Nov 2026 11:59:59 GMT"); w.Code != 200 || w.Body.String() != "x" {
		t.Errorf("IMS before Date: %d", w.Code)
	}
}

// TestMissAfterAFillEndsIsAHit: a request that looked before another request's fill
// stored its response, and asks for a fill after that fill ended, is answered from the
// stored response, not by a second origin request (the second look inside the table of
// fills).
func TestMissAfterAFillEndsIsAHit(t *testing.T) {
	e := newEnv(t, nil, maxAge(60, "once"))
	looked, filled := make(chan struct{}), make(chan struct{})
	e.cache.missed = func() {
		e.cache.missed = nil // only the first request waits
		close(looked)
		<-filled
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		w, _ := e.do("GET", "/a") // looks, misses, then waits for the other fill to end
		done <- w
	}()
	<-looked
	if w, _ := e.do("GET", "/a"); w.Body.String() != "once" {
		t.Fatalf("the second request got %q", w.Body.String())
	}
	close(filled)
	w := <-done
	if w.Body.String() != "once" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Errorf("the first request: %q, Cache-Status %q", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	if h := e.o.hits.Load(); h != 1 {
		t.Errorf("%d origin requests, want 1", h)
	}
}
