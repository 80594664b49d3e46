package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fastHarness is a CDN-enabled backend behind the edge's plain HTTP listener, with
// /a (cacheable, with an ETag), /big (cacheable, 100 KiB) and /b (never cacheable).
type fastHarness struct {
	h       *harness
	addr    string
	fetches atomic.Int64
	get     func(path string) (*http.Response, string)
}

var bigBody = strings.Repeat("0123456789abcdef", 100<<10/16)

func newFastHarness(t *testing.T) *fastHarness {
	f := &fastHarness{h: newHarness(t)}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		switch r.URL.Path {
		case "/a":
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("ETag", `"1"`)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "aaaa")
		case "/big":
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("Content-Type", "application/octet-stream")
			io.WriteString(w, bigBody)
		default:
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "dynamic")
		}
	}))
	t.Cleanup(origin.Close)
	f.get = httpHarness(t, f.h, origin, map[string]any{
		"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}"},
		"logConfig":             map[string]any{"enable": true},
	}, map[string]any{"defaultService": "global/backendServices/web"})
	f.addr = f.h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	for _, p := range []string{"/a", "/big"} {
		if resp, _ := f.get(p); resp.StatusCode != 200 {
			t.Fatalf("warming %s: %d", p, resp.StatusCode)
		}
		// A client can have the whole body a moment before the fill is stored.
		req := httptest.NewRequest("GET", "http://lb.example.com"+p, nil)
		for deadline := time.Now().Add(10 * time.Second); !stored(f.h.edge.proxy.classify(req, "127.0.0.1:80", false)); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s was never stored", p)
			}
		}
	}
	return f
}

func (f *fastHarness) handoffs() int64 {
	f.h.edge.mu.Lock()
	defer f.h.edge.mu.Unlock()
	return f.h.edge.listeners["127.0.0.1:80"].fast.handoffs.Load()
}

func (f *fastHarness) fastHits() int64 {
	f.h.edge.mu.Lock()
	defer f.h.edge.mu.Unlock()
	if f.h.edge.listeners["127.0.0.1:80"].fast == nil {
		return 0
	}
	return f.h.edge.listeners["127.0.0.1:80"].fast.hits.Load()
}

// exchange writes raw requests on one connection and reads n responses.
func exchange(t *testing.T, addr, raw string, methods ...string) ([]*http.Response, []string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	var bodies []string
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("response %d: %v", len(resps)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(resps)+1, err)
		}
		resps, bodies = append(resps, resp), append(bodies, string(body))
	}
	return resps, bodies, c
}

// TestFastPathPipelinedHits: pipelined requests on one connection are answered in order
// by the fast path: a GET, a HEAD, a conditional GET (304) and a 100 KiB GET hit, a
// miss answered by the general handler on the same connection, and a hit after it.
func TestFastPathPipelinedHits(t *testing.T) {
	f := newFastHarness(t)
	before, fetches := f.fastHits(), f.fetches.Load()
	req := func(method, path, extra string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: lb.example.com\r\n" + extra + "\r\n"
	}
	raw := req("GET", "/a", "") + req("HEAD", "/a", "") + req("GET", "/a", "If-None-Match: \"1\"\r\n") +
		req("GET", "/big", "") + req("GET", "/b", "") + req("GET", "/a", "")
	resps, bodies, _ := exchange(t, f.addr, raw, "GET", "HEAD", "GET", "GET", "GET", "GET")
	check := func(i, code int, body, cache string) {
		t.Helper()
		r := resps[i]
		if r.StatusCode != code || bodies[i] != body || r.Header.Get("X-Cache-Status") != cache {
			t.Errorf("response %d: %d %q %v", i+1, r.StatusCode, bodies[i], r.Header)
		}
	}
	check(0, 200, "aaaa", "hit")
	check(1, 200, "", "hit")
	check(2, http.StatusNotModified, "", "hit")
	check(3, 200, bigBody, "hit")
	check(4, 200, "dynamic", "uncacheable")
	check(5, 200, "aaaa", "hit")
	if resps[0].Header.Get("Age") == "" || resps[0].ContentLength != 4 || resps[0].Header.Get("Date") == "" {
		t.Errorf("a fast hit lacks Age, Date or Content-Length: %v", resps[0].Header)
	}
	if resps[1].ContentLength != 4 {
		t.Errorf("HEAD hit: Content-Length %d", resps[1].ContentLength)
	}
	if resps[2].Header.Get("ETag") != `"1"` {
		t.Errorf("304 lacks the ETag: %v", resps[2].Header)
	}
	if n := f.fastHits() - before; n != 5 {
		t.Errorf("the fast path served %d hits, want the 4 before the miss and the one after it", n)
	}
	if n := f.handoffs(); n != 0 {
		t.Errorf("%d connections were handed to net/http; the miss is answered on the fast path too", n)
	}
	if n := f.fetches.Load() - fetches; n != 1 {
		t.Errorf("origin saw %d requests, want the one miss", n)
	}
	if logs := f.h.logs.String(); strings.Count(logs, `"statusDetails":"response_from_cache"`) < 5 {
		t.Errorf("fast hits are not in the request log:\n%s", logs)
	}
}

// TestFastPathConnectionClose: a hit asking to close gets Connection: close and the
// connection ends.
func TestFastPathConnectionClose(t *testing.T) {
	f := newFastHarness(t)
	before := f.fastHits()
	resps, _, c := exchange(t, f.addr, "GET /a HTTP/1.1\r\nHost: lb.example.com\r\nConnection: close\r\n\r\n", "GET")
	if !resps[0].Close || resps[0].StatusCode != 200 {
		t.Errorf("response: %d close=%v", resps[0].StatusCode, resps[0].Close)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after Connection: close the edge sent %d bytes, %v", n, err)
	}
	if f.fastHits()-before != 1 {
		t.Errorf("not served by the fast path")
	}
}

// TestFastPathLeavesTheRest: what the fast path does not take is net/http's to answer,
// exactly as before: HTTP/1.0, an absolute-form target, a body, a request without Host
// (400) and a header block over the fast path's buffer (served, as net/http allows a
// megabyte).
func TestFastPathLeavesTheRest(t *testing.T) {
	f := newFastHarness(t)
	before := f.fastHits()
	long := "X-Long: " + strings.Repeat("x", 10<<10) + "\r\n"
	cases := []struct {
		name, raw string
		code      int
	}{
		{"HTTP/1.0", "GET /a HTTP/1.0\r\nHost: lb.example.com\r\n\r\n", 200},
		{"absolute form", "GET http://lb.example.com/a HTTP/1.1\r\nHost: lb.example.com\r\n\r\n", 200},
		{"a body", "GET /a HTTP/1.1\r\nHost: lb.example.com\r\nContent-Length: 2\r\n\r\nhi", 200},
		{"no Host", "GET /a HTTP/1.1\r\n\r\n", 400},
		{"a long header", "GET /a HTTP/1.1\r\nHost: lb.example.com\r\n" + long + "\r\n", 200},
	}
	for _, tc := range cases {
		resps, _, _ := exchange(t, f.addr, tc.raw, "GET")
		if resps[0].StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, resps[0].StatusCode, tc.code)
		}
	}
	if n := f.fastHits() - before; n != 0 {
		t.Errorf("the fast path served %d of them", n)
	}

	// A hit for a GET with a body the cache does not need leaves the connection
	// usable (the body is drained in the handler: golang/go#68560), and a bare-LF
	// request after it is served as net/http would.
	resps, bodies, _ := exchange(t, f.addr, "GET /a HTTP/1.1\r\nHost: lb.example.com\r\nContent-Length: 2\r\n\r\nhi"+
		"GET /a HTTP/1.1\nHost: lb.example.com\n\n", "GET", "GET")
	for i, r := range resps {
		if r.StatusCode != 200 || bodies[i] != "aaaa" {
			t.Errorf("response %d on the connection: %d %q", i+1, r.StatusCode, bodies[i])
		}
	}
	if logs := f.h.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server panicked:\n%s", logs)
	}
}

// TestFastPathShutdown: shutting the listener down closes idle fast-path connections
// and the listener stops accepting.
func TestFastPathShutdown(t *testing.T) {
	f := newFastHarness(t)
	_, _, c := exchange(t, f.addr, "GET /a HTTP/1.1\r\nHost: lb.example.com\r\n\r\n", "GET")
	f.h.edge.mu.Lock()
	l := f.h.edge.listeners["127.0.0.1:80"]
	f.h.edge.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { l.fast.shutdown(ctx); close(done) }()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("an idle connection stayed open: %d %v", n, err)
	}
	<-done
	if c, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		var b bytes.Buffer
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: lb.example.com\r\n\r\n")
		b.ReadFrom(c)
		c.Close()
		if b.Len() > 0 {
			t.Errorf("a closed listener answered: %q", b.String())
		}
	}
}

// FuzzParseFast: the fast path's own parser makes, of any header block it takes, the
// request http.ReadRequest makes of it.
func FuzzParseFast(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a/b%20c?x=1&y=%2F HTTP/1.1\nHost: example.com:8080\nUser-Agent: x/1\n\n",
		"HEAD /x HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"1\"\r\nAccept: a\r\naccept: b\r\nConnection: keep-alive, close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\nx-lower-case: v  \t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "GET * HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		"GET /\x80 HTTP/1.1\r\nHost: \xff\r\n\r\n", "GET / HTTP/1.1\r\nX: \x7f\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseFast(data)
		if got == nil {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("parseFast took %q, http.ReadRequest refuses it: %v", data, err)
		}
		if rest, _ := io.ReadAll(want.Body); len(rest) != 0 {
			t.Fatalf("http.ReadRequest read a body of %q", data)
		}
		switch {
		case got.Method != want.Method || got.RequestURI != want.RequestURI || got.Proto != want.Proto ||
			got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor:
			t.Fatalf("request line of %q: %s %s %s, want %s %s %s", data, got.Method, got.RequestURI, got.Proto, want.Method, want.RequestURI, want.Proto)
		case got.URL.String() != want.URL.String() || got.URL.Path != want.URL.Path || got.URL.RawPath != want.URL.RawPath || got.URL.RawQuery != want.URL.RawQuery:
			t.Fatalf("URL of %q: %#v, want %#v", data, got.URL, want.URL)
		case got.Host != want.Host || got.Close != want.Close || got.ContentLength != want.ContentLength || len(want.TransferEncoding) != 0:
			t.Fatalf("%q: host %q close %v length %d, want %q %v %d", data, got.Host, got.Close, got.ContentLength, want.Host, want.Close, want.ContentLength)
		case fmt.Sprint(got.Header) != fmt.Sprint(want.Header):
			t.Fatalf("header of %q:\n%v\nwant\n%v", data, got.Header, want.Header)
		}
	})
}

// FuzzFastPathParse: the fast path's framing and parsing of untrusted bytes never
// panics, finds the first end of the header block, and takes only requests net/http's
// own parser reads the same way.
func FuzzFastPathParse(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a?b=c HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\r\n\r\n",
		"HEAD /x HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"1\"\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\r\n\r\n", "\n", "GET / HTTP/1.1\r\nHost: a\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), headerBufferSize)
		n, err := headerLength(br)
		if err != nil {
			return
		}
		block := data[:n]
		if !bytes.HasSuffix(block, []byte("\n\n")) && !bytes.HasSuffix(block, []byte("\n\r\n")) {
			t.Fatalf("block %q does not end a header", block)
		}
		if i := bytes.Index(block, []byte("\n\n")); i >= 0 && i+2 < n {
			t.Fatalf("an earlier end at %d in %q", i, block)
		}
		if i := bytes.Index(block, []byte("\n\r\n")); i >= 0 && i+3 < n {
			t.Fatalf("an earlier end at %d in %q", i, block)
		}
		req := parseRequest(block)
		if req == nil || !fastEligible(req) {
			return
		}
		ref, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("the fast path takes %q, net/http refuses it: %v", block, err)
		}
		if ref.Method != req.Method || ref.RequestURI != req.RequestURI || ref.Host != req.Host || len(ref.Header) != len(req.Header) {
			t.Fatalf("read differently: %+v vs %+v", req, ref)
		}
	})
}

// TestFastHitMatchesTheGeneralPath: a hit the fast path renders carries the same
// header fields and body as the same hit through net/http and the general handler
// (Age and Cache-Status aside, which change with time).
func TestFastHitMatchesTheGeneralPath(t *testing.T) {
	f := newFastHarness(t)
	before := f.fastHits()
	fast, fastBodies, _ := exchange(t, f.addr, "GET /a HTTP/1.1\r\nHost: lb.example.com\r\n\r\n", "GET")
	if f.fastHits()-before != 1 {
		t.Fatal("the hit was not served by the fast path")
	}
	general, generalBodies, _ := exchange(t, f.addr, "GET /a HTTP/1.0\r\nHost: lb.example.com\r\n\r\n", "GET")
	if f.fastHits()-before != 1 {
		t.Fatal("an HTTP/1.0 request was served by the fast path")
	}
	if fastBodies[0] != generalBodies[0] || fast[0].StatusCode != general[0].StatusCode {
		t.Errorf("fast %d %q, general %d %q", fast[0].StatusCode, fastBodies[0], general[0].StatusCode, generalBodies[0])
	}
	clean := func(h http.Header) http.Header {
		h = h.Clone()
		for _, k := range []string{"Age", "Cache-Status", "Connection"} {
			delete(h, k)
		}
		return h
	}
	if a, b := clean(fast[0].Header), clean(general[0].Header); !equalHeaders(a, b) {
		t.Errorf("headers differ:\nfast    %v\ngeneral %v", a, b)
	}
	if !strings.Contains(fast[0].Header.Get("Cache-Status"), "; hit; ttl=") {
		t.Errorf("Cache-Status %q", fast[0].Header.Get("Cache-Status"))
	}
	if fast[0].Header.Get("Age") == "" {
		t.Error("no Age on a fast hit")
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

// TestSlowHeaderSenderIsCut: a header block is due the read-header timeout after the
// connection's accept, however it trickles in: a client sending one byte at a time,
// or nothing at all, is cut then (not handed to net/http to wait again, not held for
// the keep-alive timeout), and nothing of its request is served.
func TestSlowHeaderSenderIsCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h1Server{ln: ln, idle: time.Hour, readHeader: 300 * time.Millisecond, conns: map[*h1Conn]bool{},
		handler: http.NotFoundHandler(), errLog: log.New(io.Discard, "", 0),
		classify: func(*http.Request, bool) (fastHit, fastVerdict, *routed) { return fastHit{}, handOff, nil },
		logHit:   func(*fastHit, *http.Request, int64) {}, handoff: newHandoffListener(ln.Addr())}
	served := make(chan error, 1)
	go func() { served <- s.serve() }()
	handed := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := s.handoff.Accept()
			if err != nil {
				return
			}
			handed <- c
		}
	}()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.shutdown(ctx)
		s.handoff.Close()
		<-served
	}()

	// cut reports how long the server kept a connection whose client does send.
	cut := func(send func(c net.Conn, stop <-chan struct{})) time.Duration {
		t.Helper()
		start := time.Now()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stop := make(chan struct{})
		defer close(stop)
		go send(c, stop)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("the server answered a request it never got whole: %d %v", n, err)
		}
		return time.Since(start)
	}
	trickle := func(c net.Conn, stop <-chan struct{}) {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + strings.Repeat("x", 400)) {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}
	silent := func(net.Conn, <-chan struct{}) {}
	for name, send := range map[string]func(net.Conn, <-chan struct{}){"a byte every 25 ms": trickle, "nothing": silent} {
		// The trickle lasts 10 s; the keep-alive timeout is an hour.
		if held := cut(send); held > 5*time.Second {
			t.Errorf("a client sending %s was held %v with a read-header timeout of 300ms", name, held)
		}
	}
	select {
	case c := <-handed:
		c.Close()
		t.Error("a header block that did not arrive in time was handed to net/http")
	default:
	}
}

// stored says whether the fast path found the request's response fresh in the cache.
func stored(_ fastHit, v fastVerdict, _ *routed) bool { return v != handOff }

// TestMissIsRoutedOnce: a plain-HTTP miss the fast path routed and handed to net/http
// is not routed again there (the routed value goes along with the connection); a
// fresh hit the general handler answers on the fast path is routed once too.
func TestMissIsRoutedOnce(t *testing.T) {
	f := newFastHarness(t)
	var routings atomic.Int64
	count := func() { routings.Add(1) }
	f.h.edge.proxy.routedHook.Store(&count)
	for _, path := range []string{"/b", "/b?again"} { // never cacheable: a miss each time
		before := routings.Load()
		conn, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: lb.example.com\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 200 || string(body) != "dynamic" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
		if n := routings.Load() - before; n != 1 {
			t.Errorf("%s was routed %d times, want once", path, n)
		}
	}
}

// TestFastPathOverTLS: an HTTPS listener's HTTP/1.1 connections take the fast path
// after its own handshake. A hit is written below net/http with the same headers
// (Alt-Svc included) and logged as HTTPS; a miss is handed to net/http on the TLS
// connection, and the request still carries its TLS state ({tls_version},
// X-Forwarded-Proto); an HTTP/2 client gets net/http's HTTP/2.
func TestFastPathOverTLS(t *testing.T) {
	h := newHarness(t)
	var seen atomic.Pointer[http.Header]
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header.Clone()
		seen.Store(&hdr)
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, "cached over TLS")
	}))
	defer origin.Close()
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	cert, key, pool := selfSigned(t, "tls.example.com")
	h.call("POST", "global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"})
	h.call("POST", "global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": mustAtoi(port)}}})
	h.call("POST", "global/backendServices", map[string]any{"name": "web", "enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
		"backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}, "customRequestHeaders": []string{"X-Client: tls={tls_version}"},
		"logConfig": map[string]any{"enable": true}})
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"})
	h.call("POST", "global/sslCertificates", map[string]any{"name": "c", "certificate": cert, "privateKey": key})
	h.call("POST", "global/targetHttpsProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/c"}})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "443", "target": "global/targetHttpsProxies/proxy"})
	addr := h.waitFor("the HTTPS listener", func(a map[string]string) bool { return a["127.0.0.1:443"] != "" })["127.0.0.1:443"]
	client := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "tls.example.com", RootCAs: pool}, ForceAttemptHTTP2: h2,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			}}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	h1 := client(false)
	fastHits := func() int64 {
		h.edge.mu.Lock()
		defer h.edge.mu.Unlock()
		return h.edge.listeners["127.0.0.1:443"].fast.hits.Load()
	}
	get := func(c *http.Client) *http.Response {
		t.Helper()
		resp, err := c.Get("https://tls.example.com/page")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "cached over TLS" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		return resp
	}

	miss := get(h1)
	if s := seen.Load(); s == nil || s.Get("X-Client") != "tls=TLSv1.3" || s.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("a miss handed to net/http lost its TLS state: the origin saw %v", s)
	}
	if !strings.Contains(miss.Header.Get("Cache-Status"), "fwd=") {
		t.Errorf("first request: %v, want a miss", miss.Header)
	}
	var hit *http.Response
	waitUntil(t, "a hit on the fast path", func() bool {
		before := fastHits()
		hit = get(client(false)) // a new connection: the fast path takes it from its first request
		return strings.Contains(hit.Header.Get("Cache-Status"), "; hit") && fastHits() > before
	})
	if hit.ProtoMajor != 1 || hit.Header.Get("Alt-Svc") == "" || hit.Header.Get("Age") == "" {
		t.Errorf("a TLS fast hit: %s %v", hit.Proto, hit.Header)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"requestUrl":"https://tls.example.com/page"`) || !strings.Contains(logs, `"statusDetails":"response_from_cache"`) {
		t.Errorf("the TLS hits are not logged as HTTPS:\n%s", logs)
	}
	// HTTP/2 hits are the fast path's too (h2.go), with the same head.
	before := fastHits()
	if resp := get(client(true)); resp.ProtoMajor != 2 || fastHits() != before+1 || resp.Header.Get("Alt-Svc") == "" ||
		resp.Header.Get("Age") == "" || !strings.Contains(resp.Header.Get("Cache-Status"), "; hit") || resp.ContentLength != int64(len("cached over TLS")) {
		t.Errorf("an HTTP/2 client got %s %v (fast hits %d → %d)", resp.Proto, resp.Header, before, fastHits())
	}
}

// BenchmarkParseRequest: a browser's GET, read by the fast path's parser and by
// http.ReadRequest.
func BenchmarkParseRequest(b *testing.B) {
	raw := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nReferer: https://www.example.com/\r\n" +
		"Cookie: a=1; b=2\r\n\r\n")
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if parseFast(raw) == nil {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("net/http", func(b *testing.B) {
		var rd bytes.Reader
		br := bufio.NewReaderSize(&rd, headerBufferSize) // reused, as parseRequest's pool does
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(raw)
			br.Reset(&rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}
