package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2TestServer is an HTTPS fast-path server (h1Server) on its own, with a handler and
// a hit the tests choose: "/hit" is answered from the reader as a cache hit of
// hitBody, everything else by the handler.
type h2TestServer struct {
	s       *h1Server
	addr    string
	pool    *x509.CertPool
	served  chan error
	logged  chan int64 // the written bytes of each hit logged
	hitBody []byte
}

func newH2TestServer(t *testing.T, handler http.Handler, hitBody []byte, adjust ...func(*h1Server)) *h2TestServer {
	t.Helper()
	certPEM, keyPEM, pool := selfSigned(t, "localhost")
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &h2TestServer{addr: ln.Addr().String(), pool: pool, served: make(chan error, 1), logged: make(chan int64, 64), hitBody: hitBody}
	ts.s = newTestH1Server(ln, handler, hitBody, ts.logged)
	ts.s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	for _, a := range adjust {
		a(ts.s)
	}
	go func() { ts.served <- ts.s.serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.s.shutdown(ctx)
		ts.s.handoff.Close()
		<-ts.served
	})
	return ts
}

// newTestH1Server is a fast-path server whose classify makes "/hit" a hit of hitBody.
func newTestH1Server(ln net.Listener, handler http.Handler, hitBody []byte, logged chan int64) *h1Server {
	block := encodeH2Block(http.Header{"Content-Type": {"application/octet-stream"}, "Content-Length": {strconv.Itoa(len(hitBody))},
		"Cache-Control": {"public, max-age=60"}})
	return &h1Server{ln: ln, idle: time.Hour, readHeader: 10 * time.Second, conns: map[*h1Conn]bool{},
		handler: handler, errLog: log.New(io.Discard, "", 0),
		classify: func(r *http.Request, h2 bool) (fastHit, fastVerdict, *routed) {
			if r.URL.Path != "/hit" || !h2 {
				return fastHit{}, handOff, nil
			}
			hit := fastHit{block: block, age: 3, cacheStatus: "test; hit"}
			if r.Method != http.MethodHead {
				hit.body = hitBody
			}
			return hit, writeHit, nil
		},
		logHit: func(_ *fastHit, _ *http.Request, written int64) {
			select {
			case logged <- written:
			default:
			}
		},
		handoff: newHandoffListener(ln.Addr())}
}

// client is Go's HTTP/2 client for the server.
func (ts *h2TestServer) client(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// h2Raw is a client that speaks frames, for what Go's client does not let a test do.
type h2Raw struct {
	t      *testing.T
	conn   *tls.Conn
	fr     *http2.Framer
	encBuf bytes.Buffer
	enc    *hpack.Encoder
}

func (ts *h2TestServer) raw(t *testing.T, settings ...http2.Setting) *h2Raw {
	t.Helper()
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: ts.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // a broken server fails the test, not hangs it
	c := &h2Raw{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	io.WriteString(conn, http2.ClientPreface)
	c.fr.WriteSettings(settings...)
	return c
}

func (c *h2Raw) get(id uint32, path string) {
	c.encBuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads frames until one satisfies keep (the server's SETTINGS, their ACK and
// WINDOW_UPDATEs skipped unless kept).
func (c *h2Raw) next(keep func(http2.Frame) bool) http2.Frame {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("reading frames: %v", err)
		}
		if keep(f) {
			return f
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			c.fr.WriteSettingsAck()
		}
	}
}

func isData(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok }

// TestH2FlowControl: a hit's body larger than the client's windows is sent as the
// client opens them, never beyond: first its initial window, then what a larger
// SETTINGS_INITIAL_WINDOW_SIZE adds to the open stream (RFC 9113 6.9.2), then what
// WINDOW_UPDATE frames give; the bytes arrive whole and in order.
func TestH2FlowControl(t *testing.T) {
	body := make([]byte, 100<<10)
	rand.Read(body)
	ts := newH2TestServer(t, http.NotFoundHandler(), body)
	c := ts.raw(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	c.get(1, "/hit")
	h := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
	if h.PseudoValue("status") != "200" || h.StreamEnded() {
		t.Fatalf("hit's headers: %v", h.Fields)
	}
	var got []byte
	read := func(until int) {
		for len(got) < until {
			d := c.next(isData).(*http2.DataFrame)
			got = append(got, d.Data()...)
			if d.StreamEnded() != (len(got) == len(body)) {
				t.Fatalf("END_STREAM %v after %d bytes", d.StreamEnded(), len(got))
			}
		}
	}
	// The server answers a PING after the reader has taken it; any DATA the window
	// did not allow would have been written before.
	pingBack := func() {
		c.fr.WritePing(false, [8]byte{1})
		c.next(func(f http2.Frame) bool {
			if d, ok := f.(*http2.DataFrame); ok {
				t.Fatalf("%d bytes beyond the window (had %d)", len(d.Data()), len(got))
			}
			p, ok := f.(*http2.PingFrame)
			return ok && p.IsAck()
		})
	}
	read(1000)
	pingBack()
	if len(got) != 1000 {
		t.Fatalf("%d bytes in a 1000-byte window", len(got))
	}
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 50000}) // +49,000 on the open stream
	read(50000)
	pingBack()
	if len(got) != 50000 {
		t.Fatalf("%d bytes in a 50,000-byte window", len(got))
	}
	// The connection's window (65,535, never raised) now holds the stream back.
	c.fr.WriteWindowUpdate(1, 1<<20)
	read(65535)
	pingBack()
	if len(got) != 65535 {
		t.Fatalf("%d bytes in the connection's 65,535-byte window", len(got))
	}
	c.fr.WriteWindowUpdate(0, 1<<20)
	read(len(body))
	if !bytes.Equal(got, body) {
		t.Fatal("the body arrived changed")
	}
	if n := <-ts.logged; n != int64(len(body)) {
		t.Errorf("logged %d bytes written", n)
	}
}

// TestH2GracefulShutdown: a server shutting down says GOAWAY with the last stream it
// took, answers that stream in full, and then closes the connection.
func TestH2GracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	}), nil)
	c := ts.raw(t)
	c.get(1, "/slow")
	<-entered
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.s.shutdown(ctx)
	}()
	g := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if g.LastStreamID != 1 || g.ErrCode != http2.ErrCodeNo {
		t.Fatalf("GOAWAY last stream %d, %v", g.LastStreamID, g.ErrCode)
	}
	c.get(3, "/too-late") // after GOAWAY: not processed
	close(release)
	d := c.next(isData).(*http2.DataFrame)
	if d.StreamID != 1 || string(d.Data()) != "finished" || !d.StreamEnded() {
		t.Fatalf("stream %d: %q end=%v", d.StreamID, d.Data(), d.StreamEnded())
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			break // closed once its last stream was answered
		}
		if f.Header().StreamID == 3 {
			t.Fatalf("stream 3, opened after GOAWAY, was answered: %v", f)
		}
	}
	<-stopped
}

// TestH2IdleTimeout: a connection with no open stream for the keep-alive timeout is
// told GOAWAY and closed.
func TestH2IdleTimeout(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"), func(s *h1Server) { s.idle = 100 * time.Millisecond })
	c := ts.raw(t)
	c.get(1, "/hit")
	c.next(isData)
	g := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Fatalf("GOAWAY %v, last stream %d", g.ErrCode, g.LastStreamID)
	}
	if _, err := c.fr.ReadFrame(); err == nil {
		t.Fatal("the connection stayed open after GOAWAY")
	}
}

// TestH2Handler: Go's HTTP/2 client against the general handler's streams: request
// bodies larger than both receive windows (each read gives window back), request and
// response trailers, a HEAD's declared length, a small body's computed length, a
// handler's panic resetting only its stream, and a hit beside them.
func TestH2Handler(t *testing.T) {
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Trailer", "X-Sum")
			fmt.Fprintf(w, "%d %s", n, r.Trailer.Get("X-Client-Trailer"))
			w.Header().Set("X-Sum", hex.EncodeToString(h.Sum(nil)))
		case "/head":
			w.Header().Set("Content-Length", "1234")
			w.WriteHeader(200)
		case "/panic":
			panic("a handler's bug")
		default:
			io.WriteString(w, "small")
		}
	}), []byte("a cached body"))
	client := ts.client(t)

	body := make([]byte, 3<<20) // three connection windows, twelve stream windows
	rand.Read(body)
	req, _ := http.NewRequest(http.MethodPost, "https://"+ts.addr+"/echo", io.MultiReader(bytes.NewReader(body)))
	req.Trailer = http.Header{"X-Client-Trailer": nil}
	req.ContentLength = -1
	reqBody := req.Body
	req.Body = &trailerSetter{ReadCloser: reqBody, set: func() { req.Trailer.Set("X-Client-Trailer", "sent-after") }}
	var resp *http.Response
	var got []byte
	uploaded := make(chan error, 1)
	go func() {
		var err error
		if resp, err = client.Do(req); err == nil {
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		uploaded <- err
	}()
	select {
	case err := <-uploaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upload stalled: the server gave no window back") // Go's client can hang there
	}
	sum := sha256.Sum256(body)
	if resp.ProtoMajor != 2 || string(got) != fmt.Sprintf("%d sent-after", len(body)) || resp.Trailer.Get("X-Sum") != hex.EncodeToString(sum[:]) {
		t.Fatalf("%s echo %q, trailer %v", resp.Proto, got, resp.Trailer)
	}

	resp, err := client.Head("https://" + ts.addr + "/head")
	if err != nil || resp.ContentLength != 1234 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = client.Get("https://" + ts.addr + "/small")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "small" || resp.ContentLength != 5 || resp.Header.Get("Date") == "" {
		t.Fatalf("small: %q, length %d, %v", got, resp.ContentLength, resp.Header)
	}

	if _, err := client.Get("https://" + ts.addr + "/panic"); err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Fatalf("a panicking handler's stream: %v", err)
	}
	resp, err = client.Get("https://" + ts.addr + "/hit")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "a cached body" || resp.Header.Get("Age") != "3" || resp.Header.Get("Cache-Status") != "test; hit" || resp.ContentLength != 13 {
		t.Fatalf("hit: %q %v", got, resp.Header)
	}
}

// trailerSetter sets the request's trailer when its body has been read.
type trailerSetter struct {
	io.ReadCloser
	set  func()
	once sync.Once
}

func (b *trailerSetter) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.set)
	}
	return n, err
}

// FuzzH2Frames: whatever a client sends after its preface, the server neither panics
// nor hangs: the connection ends once the client is gone.
func FuzzH2Frames(f *testing.F) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	headers := func(id uint32, end bool, fields ...string) {
		var block bytes.Buffer
		e := hpack.NewEncoder(&block)
		for i := 0; i+1 < len(fields); i += 2 {
			e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: end, EndHeaders: true})
	}
	seed := func(build func()) {
		buf.Reset()
		build()
		f.Add(bytes.Clone(buf.Bytes()))
	}
	get := []string{":method", "GET", ":scheme", "https", ":authority", "localhost", ":path", "/hit"}
	seed(func() { headers(1, true, get...) })
	seed(func() {
		headers(1, false, ":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/echo", "content-length", "5")
		fr.WriteData(1, false, []byte("hel"))
		fr.WriteData(1, true, []byte("lo"))
	})
	seed(func() {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		headers(1, true, get...)
		fr.WriteWindowUpdate(1, 10)
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{})
	})
	seed(func() {
		headers(3, false, ":method", "PUT", ":scheme", "https", ":authority", "localhost", ":path", "/echo")
		fr.WriteData(3, false, bytes.Repeat([]byte("x"), 1000))
		headers(3, true, "x-trailer", "v")
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	})
	f.Fuzz(func(t *testing.T, frames []byte) {
		ln := &neverListener{done: make(chan struct{})}
		s := newTestH1Server(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
		}), bytes.Repeat([]byte("b"), 70000), make(chan int64))
		server, client := net.Pipe()
		hc := &h1Conn{conn: server, rw: server, ctx: context.Background(), addr: "192.0.2.1:1234", accepted: time.Now()}
		served := make(chan struct{})
		go func() {
			defer close(served)
			br := readerPool.Get().(*bufio.Reader)
			defer readerPool.Put(br)
			s.serveH2(hc, br)
		}()
		go io.Copy(io.Discard, client)
		go func() {
			var settings bytes.Buffer
			http2.NewFramer(&settings, nil).WriteSettings()
			client.Write([]byte(http2.ClientPreface))
			client.Write(settings.Bytes())
			client.Write(frames)
			client.Close()
		}()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			var stacks bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Fatalf("the connection did not end after its client left:\n%s", stacks.String())
		}
		server.Close()
	})
}

// neverListener is a listener nothing connects to.
type neverListener struct{ done chan struct{} }

func (l *neverListener) Accept() (net.Conn, error) { <-l.done; return nil, net.ErrClosed }
func (l *neverListener) Close() error              { return nil }
func (l *neverListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestH2AnswerBeforeTheRequestEnds: a handler that answers without reading the whole
// request body ends its stream with RST_STREAM NO_ERROR (RFC 9113 8.1); the DATA and
// trailers the client had sent meanwhile are ignored, and the connection goes on.
func TestH2AnswerBeforeTheRequestEnds(t *testing.T) {
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "early")
	}), []byte("hit"))
	c := ts.raw(t)
	c.encBuf.Reset()
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/upload"}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.encBuf.Bytes(), EndHeaders: true})
	d := c.next(isData).(*http2.DataFrame)
	if string(d.Data()) != "early" || !d.StreamEnded() {
		t.Fatalf("answer %q end=%v", d.Data(), d.StreamEnded())
	}
	rst := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok }).(*http2.RSTStreamFrame)
	if rst.StreamID != 1 || rst.ErrCode != http2.ErrCodeNo {
		t.Fatalf("RST_STREAM %d %v", rst.StreamID, rst.ErrCode)
	}
	c.fr.WriteData(1, false, []byte("more of the body"))
	c.encBuf.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: "late"})
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true})
	c.get(3, "/hit")
	f := c.next(func(f http2.Frame) bool {
		switch f.(type) {
		case *http2.DataFrame, *http2.GoAwayFrame, *http2.RSTStreamFrame:
			return true
		}
		return false
	})
	if d, ok := f.(*http2.DataFrame); !ok || d.StreamID != 3 || string(d.Data()) != "hit" {
		t.Fatalf("after the late frames: %v", f)
	}
}

// writeFrames writes what build frames, and tail, in one write (one TLS record).
func (c *h2Raw) writeFrames(build func(fr *http2.Framer, enc func(fields ...string) []byte), tail ...byte) {
	c.t.Helper()
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	fr.AllowIllegalWrites = true
	build(fr, func(fields ...string) []byte {
		c.encBuf.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return bytes.Clone(c.encBuf.Bytes())
	})
	out.Write(tail)
	if _, err := c.conn.Write(out.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

func request(method, path string, more ...string) []string {
	return append([]string{":method", method, ":scheme", "https", ":authority", "localhost", ":path", path}, more...)
}

// TestH2HeaderTableSizeUpdateBeforeHit: after the client lowers
// SETTINGS_HEADER_TABLE_SIZE, the next header block starts with the size update
// (RFC 7541 4.2) even when it is a hit's pre-encoded block.
func TestH2HeaderTableSizeUpdateBeforeHit(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"))
	c := ts.raw(t, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	c.next(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	c.fr.ReadMetaHeaders = nil // the raw block
	c.get(1, "/hit")
	h := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.HeadersFrame); return ok }).(*http2.HeadersFrame)
	block := h.HeaderBlockFragment()
	if block[0]&0xe0 != 0x20 {
		t.Fatalf("the first block after SETTINGS_HEADER_TABLE_SIZE=0 starts with %#x, not a size update", block[0])
	}
	var status string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	if _, err := dec.Write(block); err != nil || status != "200" {
		t.Fatalf("the block decodes to status %q: %v", status, err)
	}
}

// TestH2RefusedHeadersOpenTheirStream: a request the Framer refuses (an upper-case
// field name) is reset, and the DATA the client sent after it is not taken for a frame
// on an idle stream (which would end the connection).
func TestH2RefusedHeadersOpenTheirStream(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"))
	c := ts.raw(t)
	c.writeFrames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request("POST", "/x", "X-Upper", "1")...), EndHeaders: true})
		fr.WriteData(1, true, []byte("body"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(request("GET", "/hit")...), EndStream: true, EndHeaders: true})
	})
	for {
		switch f := c.next(func(http2.Frame) bool { return true }).(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v after DATA on a stream the server reset", f.ErrCode)
		case *http2.DataFrame:
			if f.StreamID == 3 {
				return
			}
		}
	}
}

// TestH2PartialFrameDoesNotHoldAnswers: an answer is sent although part of the
// client's next frame is already read (the rest may be long in coming).
func TestH2PartialFrameDoesNotHoldAnswers(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("hit body"))
	c := ts.raw(t)
	// Settled first: the ACK of the server's SETTINGS must not follow the partial frame.
	c.next(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	var ping bytes.Buffer
	http2.NewFramer(&ping, nil).WritePing(false, [8]byte{9})
	c.writeFrames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request("GET", "/hit")...), EndStream: true, EndHeaders: true})
	}, ping.Bytes()[:5]...)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if d := c.next(isData).(*http2.DataFrame); d.StreamID != 1 || string(d.Data()) != "hit body" {
		t.Fatalf("stream %d: %q", d.StreamID, d.Data())
	}
	c.conn.Write(ping.Bytes()[5:])
	c.next(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() && p.Data[0] == 9 })
}

// TestH2ExpectContinue: a request that asks for 100 Continue gets it when the handler
// reads its body, before the client sends any, and not at all once the handler has
// answered (no 1xx after the final response).
func TestH2ExpectContinue(t *testing.T) {
	for _, answerFirst := range []bool{false, true} {
		ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if answerFirst {
				w.WriteHeader(http.StatusAccepted)
				w.(http.Flusher).Flush()
			}
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, n)
		}), nil)
		c := ts.raw(t)
		c.writeFrames(func(fr *http2.Framer, enc func(...string) []byte) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request("POST", "/up", "expect", "100-continue")...), EndHeaders: true})
		})
		want := map[bool]string{false: "100", true: "202"}[answerFirst]
		h := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
		if h.PseudoValue("status") != want || h.StreamEnded() {
			t.Fatalf("answer first %v: first HEADERS %s (end %v), want %s", answerFirst, h.PseudoValue("status"), h.StreamEnded(), want)
		}
		c.fr.WriteData(1, true, []byte("hello"))
		for done := false; !done; {
			switch f := c.next(func(http2.Frame) bool { return true }).(type) {
			case *http2.MetaHeadersFrame:
				if answerFirst || f.PseudoValue("status") != "200" {
					t.Fatalf("answer first %v: HEADERS %s after the first", answerFirst, f.PseudoValue("status"))
				}
			case *http2.DataFrame:
				if string(f.Data()) != "5" {
					t.Fatalf("answer %q", f.Data())
				}
				done = f.StreamEnded()
			}
		}
	}
}

// TestH2LargeHitDoesNotBlockOthers: a large hit's body goes out a batch at a time,
// and a small answer on another stream of the connection goes out before it ends.
func TestH2LargeHitDoesNotBlockOthers(t *testing.T) {
	body := make([]byte, 8<<20)
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small") }), body)
	c := ts.raw(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	c.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	c.get(1, "/hit")
	c.get(3, "/small")
	got := 0
	for {
		d := c.next(isData).(*http2.DataFrame)
		if d.StreamID == 1 {
			got += len(d.Data())
			continue
		}
		if got == len(body) {
			t.Errorf("the small answer waited for all %d bytes of the large one", got)
		}
		return
	}
}

// TestH2GracefulShutdownSendsTheWholeBody: a large response in flight at shutdown
// arrives whole although the client keeps sending frames while it reads (closing with
// unread bytes would reset the connection and lose the response's end).
func TestH2GracefulShutdownSendsTheWholeBody(t *testing.T) {
	const size = 8 << 20
	entered := make(chan struct{})
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		w.Write(make([]byte, size))
	}), nil)
	c := ts.raw(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	c.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	c.get(1, "/big")
	<-entered
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ts.s.shutdown(ctx)
	}()
	got := 0
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, size, err)
		}
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
			c.fr.WritePing(false, [8]byte{}) // as a client's WINDOW_UPDATEs would
			if d.StreamEnded() {
				break
			}
		}
	}
	if got != size {
		t.Fatalf("%d of %d bytes", got, size)
	}
	<-stopped
}

// TestH2ShutdownNotHeldByANonReader: a client that stops reading does not hold the
// listener's shutdown beyond its deadline.
func TestH2ShutdownNotHeldByANonReader(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), make([]byte, 64<<20))
	c := ts.raw(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	c.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	c.get(1, "/hit")
	c.next(isData) // then read no more: the body's writer blocks in the socket
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	stopped := make(chan struct{})
	go func() { ts.s.shutdown(ctx); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second): // the write timeout is 30 s
		t.Fatal("shutdown with a 1 s deadline waited on a client that does not read")
	}
}

// TestH2UnreadBodiesGiveWindowBack: request bodies a handler does not read give
// their connection window back when the stream ends; otherwise a connection whose
// handlers refuse uploads would stall once a window's worth had arrived.
func TestH2UnreadBodiesGiveWindowBack(t *testing.T) {
	release := make(chan struct{})
	ts := newH2TestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusForbidden)
	}), nil)
	c := ts.raw(t)
	var sent, credited int64
	chunk := make([]byte, 16<<10)
	for id := uint32(1); sent < 2<<20; id += 2 {
		c.writeFrames(func(fr *http2.Framer, enc func(...string) []byte) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: enc(request("POST", "/refused")...), EndHeaders: true})
		})
		for i := 0; i < 12; i++ { // 192 KiB: within the stream's window
			c.fr.WriteData(id, false, chunk)
		}
		sent += 12 * int64(len(chunk))
		c.fr.WritePing(false, [8]byte{byte(id)}) // answered once the reader has taken the DATA
		c.next(func(f http2.Frame) bool {
			if w, ok := f.(*http2.WindowUpdateFrame); ok && w.StreamID == 0 {
				credited += int64(w.Increment)
			}
			p, ok := f.(*http2.PingFrame)
			return ok && p.IsAck()
		})
		release <- struct{}{}
		c.next(func(f http2.Frame) bool {
			if w, ok := f.(*http2.WindowUpdateFrame); ok && w.StreamID == 0 {
				credited += int64(w.Increment)
			}
			r, ok := f.(*http2.RSTStreamFrame)
			return ok && r.StreamID == id
		})
	}
	// The server's first WINDOW_UPDATE opened its window to 1 MiB; what is given back
	// beyond that must come close to what was sent (less one batch of a quarter).
	if back := credited - (h2ConnWindow - 65535); back < sent-h2ConnWindow/4 {
		t.Fatalf("sent %d bytes no handler read, %d given back", sent, back)
	}
}

// TestH2PingsDoNotKeepAnIdleConnection: the idle timeout counts from the last
// stream, not the last frame.
func TestH2PingsDoNotKeepAnIdleConnection(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"), func(s *h1Server) { s.idle = 300 * time.Millisecond })
	c := ts.raw(t)
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	c.fr.WritePing(false, [8]byte{})
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY while pinging: %v", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return
		case *http2.PingFrame:
			c.fr.WritePing(false, [8]byte{}) // ping-pong, all along
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		}
	}
}

// TestH2WindowUpdateOnAnIdleStream: a WINDOW_UPDATE the Framer refuses (increment 0)
// on a stream never opened is a connection error that opens no stream: GOAWAY says
// no stream was processed, so the client may retry them all.
func TestH2WindowUpdateOnAnIdleStream(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"))
	c := ts.raw(t)
	c.writeFrames(func(fr *http2.Framer, _ func(...string) []byte) { fr.WriteWindowUpdate(101, 0) })
	g := c.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if g.ErrCode != http2.ErrCodeProtocol || g.LastStreamID != 0 {
		t.Fatalf("GOAWAY %v, last stream %d", g.ErrCode, g.LastStreamID)
	}
}

// TestH2SlowHeaderBlockIsCut: a request header block that does not arrive within the
// read-header timeout (a HEADERS frame whose CONTINUATION never comes) ends the
// connection, as a slow HTTP/1.1 header block does.
func TestH2SlowHeaderBlockIsCut(t *testing.T) {
	ts := newH2TestServer(t, http.NotFoundHandler(), []byte("x"), func(s *h1Server) { s.readHeader = 200 * time.Millisecond })
	c := ts.raw(t)
	c.next(func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	c.writeFrames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(request("GET", "/hit")...), EndStream: true})
	})
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // the idle timeout is an hour
	for {
		if _, err := c.fr.ReadFrame(); err != nil {
			if isTimeout(err) {
				t.Fatal("the connection waited for the rest of the header block")
			}
			return // closed
		}
	}
}
