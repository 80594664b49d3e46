package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"meridian/api"
	"meridian/internal/observe"
	"meridian/internal/snapshot"
)

// h1Server serves HTTP/1.1 connections (plain, or over TLS after its own handshake)
// below net/http while every request on them is a fresh cache hit, and hands a
// connection to net/http (with the bytes it has read replayed) at its first request
// that is not, or at once when the handshake chose HTTP/2. A hit then costs one read
// and one write: net/http's per-request machinery (its background read, deadlines, response
// buffering and chunking) is what made Go's hit path slower than nginx's. Everything
// else (misses, bodies, upgrades, HTTP/1.0, anything unusual) stays with net/http,
// which keeps serving a connection once it has it.
type h1Server struct {
	addr    string // the listener's configured address (the snapshot's key)
	ln      net.Listener
	handler http.Handler
	// classify says what the fast path does with a request (routed and looked up once)
	// and prepares the hits it writes; logHit records one once written.
	classify func(r *http.Request, h2 bool) (fastHit, fastVerdict, *routed)
	logHit   func(hit *fastHit, r *http.Request, written int64)
	handoff  *handoffListener
	idle     time.Duration
	// readHeader bounds the arrival of a request's header block: from the accept for
	// a connection's first request (its TLS handshake included), from the first byte
	// for later ones; a block that does not arrive in time closes the connection
	readHeader time.Duration
	// clients bounds the connections of one client address (nil: no bound)
	clients *clientConns
	// unrecorded counts responses written but not yet logged (nil: not counted)
	unrecorded *atomic.Int64
	errLog     *log.Logger  // where a handler's panic is reported, as net/http does
	hits       atomic.Int64 // responses the fast path served, for tests
	handoffs   atomic.Int64 // connections handed to net/http, for tests
	date       httpDate     // the Date of responses without one
	// tlsConfig makes it an HTTPS listener's: it runs the handshake, keeps HTTP/1.1
	// connections and hands HTTP/2 ones to net/http; altSvcs is what its hits
	// advertise in Alt-Svc (HTTP/3), when set.
	tlsConfig *tls.Config
	altSvcs   *atomic.Pointer[string]

	mu      sync.Mutex
	conns   map[*h1Conn]bool // true while idle between requests
	closing bool
	wg      sync.WaitGroup
}

type h1Conn struct {
	conn net.Conn             // as accepted: what shutdown closes
	rw   net.Conn             // what requests are read from and answered on: conn, or its TLS
	tls  *tls.ConnectionState // the handshake's outcome on a TLS listener
	ctx  context.Context      // the values net/http would give the request's context
	addr string               // RemoteAddr
	// accepted is when the connection was accepted: its first request's header block
	// is due readHeader later
	accepted time.Time
	h2       *h2Conn // set (under the server's mu) once it serves HTTP/2
	yield    fairness
	readDue  time.Time // the idle deadline armIdle set, zero when another is set
}

// armIdle sets the deadline of the wait for a connection's next request, moving it at
// most once a second (a deadline change costs a timer update).
func (c *h1Conn) armIdle(idle time.Duration) {
	now := time.Now()
	if c.readDue.IsZero() || c.readDue.Sub(now) < idle-min(time.Second, idle/10) {
		c.readDue = now.Add(idle)
		c.rw.SetReadDeadline(c.readDue)
	}
}

// headerBufferSize bounds the request header block the fast path reads; a larger one
// is net/http's to answer (it allows MaxHeaderBytes).
const headerBufferSize = 8 << 10

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headerBufferSize) }}

// serve accepts connections until the listener closes.
func (s *h1Server) serve() error {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay) // like net/http: back off while out of file descriptors
				continue
			}
			return err
		}
		delay = 0
		if !s.clients.acquire(c.RemoteAddr()) {
			c.Close() // this address has as many connections open as it may
			continue
		}
		hc := &h1Conn{conn: c, rw: c, addr: c.RemoteAddr().String(), accepted: time.Now()}
		hc.ctx = context.WithValue(context.Background(), http.LocalAddrContextKey, c.LocalAddr())
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			s.clients.release(c.RemoteAddr())
			return nil
		}
		s.conns[hc] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(hc)
	}
}

// altSvc is the Alt-Svc value hits carry, or "".
func (s *h1Server) altSvc() string {
	if s.altSvcs == nil {
		return ""
	}
	if v := s.altSvcs.Load(); v != nil {
		return *v
	}
	return ""
}

// setIdle records whether a connection waits between requests; it reports false when
// the server is closing and the connection should end.
func (s *h1Server) setIdle(c *h1Conn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = idle
	return !s.closing
}

func (s *h1Server) serveConn(c *h1Conn) {
	defer s.wg.Done()
	br := readerPool.Get().(*bufio.Reader)
	handedOff := false
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			// Like net/http: a handler's panic ends its connection, not the process.
			buf := make([]byte, 64<<10)
			s.errLog.Printf("http: panic serving %s: %v\n%s", c.addr, err, buf[:runtime.Stack(buf, false)])
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		if !handedOff {
			c.rw.Close()
			s.clients.release(c.conn.RemoteAddr())
		}
		br.Reset(nil)
		readerPool.Put(br)
	}()
	// The handshake and the first request's header block are due readHeader after
	// the accept: a client that connects and then sends nothing, or sends slowly, is
	// not held for the keep-alive timeout.
	firstDue := c.accepted.Add(s.readHeader)
	c.conn.SetReadDeadline(firstDue)
	if s.tlsConfig != nil {
		tc := tls.Server(c.conn, s.tlsConfig)
		c.conn.SetWriteDeadline(firstDue) // the handshake's writes too, as net/http bounds them
		if err := tc.Handshake(); err != nil {
			if !errors.Is(err, io.EOF) {
				s.errLog.Printf("http: TLS handshake error from %s: %v", c.addr, err)
			}
			return
		}
		c.conn.SetWriteDeadline(time.Time{})
		st := tc.ConnectionState()
		c.rw, c.tls = tc, &st
		switch st.NegotiatedProtocol {
		case "", "http/1.1":
		case "h2":
			if s.setIdle(c, false) {
				s.serveH2(c, br)
			}
			return
		default:
			// An ACME server's acme-tls/1 check: net/http's, on the *tls.Conn it
			// expects.
			handedOff = s.handoff.give(tc)
			return
		}
	}
	c.ctx = context.WithValue(c.ctx, connKey{}, c.rw)
	br.Reset(c.rw)
	due := firstDue // when the header block must have arrived (zero: it was here at once)
	for first := true; ; first = false {
		if !s.setIdle(c, true) {
			return
		}
		if !first {
			c.yield.turn()
			if br.Buffered() == 0 {
				// Idle until a request starts; then its header block must arrive
				// within the read-header timeout.
				c.armIdle(s.idle)
				if _, err := br.Peek(1); err != nil {
					return
				}
				c.yield.waited()
			}
			due = time.Time{} // a block already here: due from a hand-off, if one comes
			if b, _ := br.Peek(br.Buffered()); !bytes.Contains(b, crlfcrlf[1:]) && !bytes.Contains(b, lflf) {
				due = time.Now().Add(s.readHeader)
				c.rw.SetReadDeadline(due) // the block is still arriving
				c.readDue = time.Time{}
			}
		}
		n, err := headerLength(br)
		if err != nil && !errors.Is(err, errNotFast) {
			return // the client closed, timed out or sent nothing we can frame
		}
		if !s.setIdle(c, false) {
			return
		}
		var req *http.Request
		if err == nil {
			raw, _ := br.Peek(n)
			req = parseRequest(raw)
		}
		if req == nil || !fastEligible(req) {
			handedOff = s.handOff(c, br, nil, due)
			return
		}
		req.RemoteAddr, req.TLS = c.addr, c.tls
		req = req.WithContext(c.ctx)
		hit, verdict, rt := s.classify(req, false)
		switch verdict {
		case writeHit:
			br.Discard(n)
			if s.unrecorded != nil {
				s.unrecorded.Add(1) // the hit reaches its client before it is logged
			}
			written, err := writeHitTo(c.rw, &hit, req.Close, s.altSvc())
			s.hits.Add(1)
			s.logHit(&hit, req, written)
			if s.unrecorded != nil {
				s.unrecorded.Add(-1)
			}
			if err != nil || req.Close {
				return
			}
			continue
		case handOff:
			if rt == nil {
				handedOff = s.handOff(c, br, rt, due)
				return
			}
			// A miss, or a GET or HEAD the cache does not answer: the general handler
			// answers it here too, so that the connection's next hits still take the
			// fast path (handed to net/http, it would stay there), watching for the
			// client to leave meanwhile as net/http does.
			br.Discard(n)
			if !s.serveWatched(c, br, req, rt) {
				return
			}
			continue
		}
		br.Discard(n)
		w := newH1Writer(c.rw, req, &s.date)
		if rt != nil {
			req = req.WithContext(withRouted(req.Context(), rt))
		}
		s.handler.ServeHTTP(w, req)
		s.hits.Add(1)
		if err := w.finish(); err != nil || w.closeAfter {
			return
		}
	}
}

// serveWatched answers a request with the general handler on the fast path's
// connection while a reader watches the connection: if the client closes it before
// the answer is done, the request's context is cancelled (an origin fetch for it
// stops; the request log says the client left). Bytes the watcher reads (a pipelined
// request) stay in br for the next turn. It reports whether the connection goes on.
func (s *h1Server) serveWatched(c *h1Conn, br *bufio.Reader, req *http.Request, rt *routed) bool {
	ctx, cancel := context.WithCancel(withRouted(req.Context(), rt))
	defer cancel()
	req = req.WithContext(ctx)
	c.rw.SetReadDeadline(time.Time{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if _, err := br.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cancel() // the client closed or reset the connection
		}
	}()
	// The watcher is stopped and waited for however the handler ends (a panic too:
	// br goes back to its pool after it), before the connection reads on.
	defer func() {
		c.rw.SetReadDeadline(aLongTimeAgo)
		c.readDue = time.Time{}
		<-watched
	}()
	w := newH1Writer(c.rw, req, &s.date)
	s.handler.ServeHTTP(w, req)
	err := w.finish()
	return err == nil && !w.closeAfter && ctx.Err() == nil
}

// aLongTimeAgo is a deadline in the past: it makes a pending read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// handOff gives the connection to net/http with what has been read but not served.
// The request's header block stays due when it was (net/http would give it its own
// timeout again), and the connection's place among its client's is given back when
// net/http, or a handler that took it over, closes it.
func (s *h1Server) handOff(c *h1Conn, br *bufio.Reader, rt *routed, due time.Time) bool {
	s.handoffs.Add(1)
	if due.IsZero() {
		due = time.Now().Add(s.readHeader)
	}
	buffered, _ := br.Peek(br.Buffered())
	c.rw.SetReadDeadline(time.Time{})
	rc := &replayConn{Conn: c.rw, buf: bytes.Clone(buffered), routed: rt, tls: c.tls, headerDue: due}
	rc.clampDeadline.Store(true)
	if s.clients != nil {
		addr := c.conn.RemoteAddr()
		rc.release = func() { s.clients.release(addr) }
	}
	return s.handoff.give(rc)
}

// shutdown stops accepting, closes idle connections and waits (bounded by ctx) for
// the rest to finish their current response.
func (s *h1Server) shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	var h2 []*h2Conn
	for c, idle := range s.conns {
		switch {
		case c.h2 != nil:
			h2 = append(h2, c.h2)
		case idle:
			c.conn.Close()
		}
	}
	s.mu.Unlock()
	s.ln.Close()
	// GOAWAY to each HTTP/2 connection (its open streams are answered, then it
	// closes), each on a goroutine of its own: one whose client does not read may
	// hold its writer up to the write timeout.
	var goAways sync.WaitGroup
	for _, c := range h2 {
		goAways.Go(c.shutdown)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.conn.Close()
		}
		s.mu.Unlock()
		<-done
	}
	goAways.Wait() // the connections are closed: no write blocks
}

var errNotFast = errors.New("not a request the fast path reads")

// headerLength returns the length of the request header block at the front of br
// (through its empty line, CRLF or bare LF), reading more as needed. errNotFast means
// the block does not fit the buffer.
func headerLength(br *bufio.Reader) (int, error) {
	scanned := 0
	for {
		if br.Buffered() == scanned {
			if scanned == br.Size() {
				return 0, errNotFast
			}
			if _, err := br.Peek(scanned + 1); err != nil {
				if br.Buffered() > 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
					return 0, errNotFast // a partial request, then EOF: net/http answers it
				}
				return 0, err // nothing, or a header block that did not arrive in time
			}
		}
		b, _ := br.Peek(br.Buffered())
		for i := max(scanned, 1); i < len(b); i++ {
			if b[i] != '\n' {
				continue
			}
			if b[i-1] == '\n' || b[i-1] == '\r' && i >= 2 && b[i-2] == '\n' {
				return i + 1, nil
			}
		}
		scanned = len(b)
	}
}

type requestParser struct {
	rd bytes.Reader
	br *bufio.Reader
}

var parserPool = sync.Pool{New: func() any {
	p := &requestParser{}
	p.br = bufio.NewReaderSize(&p.rd, headerBufferSize)
	return p
}}

// parseRequest parses a request header block with net/http's own parser.
func parseRequest(raw []byte) *http.Request {
	if req := parseFast(raw); req != nil {
		return req
	}
	p := parserPool.Get().(*requestParser)
	defer parserPool.Put(p)
	p.rd.Reset(raw)
	p.br.Reset(&p.rd)
	req, err := http.ReadRequest(p.br)
	if err != nil {
		return nil
	}
	return req
}

// fastEligible: a bodiless HTTP/1.1 GET or HEAD in origin form with a valid Host
// header and nothing that asks for more than a response (Expect, Upgrade). It also
// makes the checks net/http's server adds to http.ReadRequest's, so that the fast path
// never serves a request net/http would refuse.
func fastEligible(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	if r.URL.Host != "" || r.Host == "" || !httpguts.ValidHostHeader(r.Host) || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return false
	}
	for k, vs := range r.Header {
		switch k {
		case "Expect", "Upgrade", "Content-Length", "Transfer-Encoding":
			return false
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// replayConn replays bytes already read before reading the connection again.
type replayConn struct {
	net.Conn
	buf    []byte
	routed *routed // the first replayed request's, when the fast path routed it
	// tls is the handshake's outcome when Conn is a TLS connection the fast path
	// took: net/http, which sees no *tls.Conn, gives its requests no TLS state, and
	// proxy.handler restores it from the connection's context (tlsStateKey).
	tls *tls.ConnectionState
	// headerDue is when the replayed request's header block is due: net/http's first
	// read deadline (its header timeout) is clamped to it.
	headerDue     time.Time
	clampDeadline atomic.Bool
	// release runs once, when the connection closes.
	release func()
	closed  sync.Once
}

func (c *replayConn) SetReadDeadline(t time.Time) error {
	if c.clampDeadline.CompareAndSwap(true, false) && !c.headerDue.IsZero() && (t.IsZero() || t.After(c.headerDue)) {
		t = c.headerDue
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *replayConn) Close() error {
	err := c.Conn.Close()
	c.closed.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	return err
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the listener net/http serves handed-off connections from.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// h1Writer writes one HTTP/1.1 response on a connection: the header block and the
// body in one writev when the length is known, else chunked (or, for a small body
// finished without a flush, with a Content-Length computed at the end).
type h1Writer struct {
	writerState
	conn       net.Conn
	head       []byte // the rendered status line and headers, before framing
	pending    []byte // body bytes held until the framing is known
	sent       bool
	chunked    bool
	closeAfter bool
}

// writerState is what the fast paths' response writers (h1Writer, h2Writer) keep
// alike: the handler's header, status and declared length, and the first error.
type writerState struct {
	req     *http.Request
	date    *httpDate
	header  http.Header
	status  int
	length  int64 // the Content-Length the handler set, -1 when none
	written int64
	err     error
}

func (w *writerState) Header() http.Header { return w.header }

// bodyless reports whether the response has no body on the wire.
func (w *writerState) bodyless() bool {
	return w.req.Method == http.MethodHead || w.status == http.StatusNoContent || w.status == http.StatusNotModified
}

// informational checks a WriteHeader code and reports whether it is a 1xx (the
// caller sends it at once), else takes it as the status, with the declared length.
func (w *writerState) informational(code int) bool {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return true
	}
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			w.header.Del("Content-Length")
		}
	}
	return false
}

// admit counts a body write (the header going out first, at 200, if not yet
// written): it reports whether b goes on the wire, or the error to return.
func (w *writerState) admit(b []byte, writeHeader func(int)) (bool, error) {
	if w.status == 0 {
		writeHeader(http.StatusOK)
	}
	switch {
	case w.err != nil:
		return false, w.err
	case w.bodyless():
		return false, nil
	case w.length >= 0 && w.written+int64(len(b)) > w.length:
		return false, http.ErrContentLength
	}
	w.written += int64(len(b))
	return true, nil
}

// maxPending is how much body is held to compute a Content-Length before switching to
// chunked encoding.
const maxPending = 16 << 10

func newH1Writer(conn net.Conn, req *http.Request, date *httpDate) *h1Writer {
	return &h1Writer{writerState: writerState{req: req, date: date, header: http.Header{}, length: -1}, conn: conn, closeAfter: req.Close}
}

func (w *h1Writer) WriteHeader(code int) {
	if w.status != 0 || w.err != nil {
		return
	}
	if w.informational(code) {
		// An informational response goes out at once, with the header as it is now.
		if code == http.StatusSwitchingProtocols {
			return
		}
		b := appendStatusLine(nil, code)
		b = appendHeader(b, w.header, nil)
		w.writeOut(append(b, '\r', '\n'))
		return
	}
	if strings.EqualFold(w.header.Get("Connection"), "close") {
		w.closeAfter = true
	}
	w.head = appendStatusLine(make([]byte, 0, 512), code)
	w.head = appendHeader(w.head, w.header, skipFraming)
	if _, ok := w.header["Date"]; !ok {
		w.head = append(w.head, "Date: "...)
		w.head = append(w.head, w.date.now()...)
		w.head = append(w.head, '\r', '\n')
	}
}

func (w *h1Writer) Write(b []byte) (int, error) {
	if send, err := w.admit(b, w.WriteHeader); !send {
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
	switch {
	case w.sent && w.chunked:
		w.writeOut(strconv.AppendInt(nil, int64(len(b)), 16), crlf, b, crlf)
	case w.sent:
		w.writeOut(b)
	case w.length >= 0:
		w.sendHead(b)
	case len(w.pending)+len(b) <= maxPending:
		w.pending = append(w.pending, b...)
	default:
		w.sendHead(nil)
		w.writeOut(strconv.AppendInt(nil, int64(len(b)), 16), crlf, b, crlf)
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(b), nil
}

var crlf = []byte("\r\n")

// The ends of a header block: an empty line after CRLF or bare LF.
var crlfcrlf, lflf = []byte("\r\n\r\n"), []byte("\n\n")

// sendHead writes the header block with its framing, then what body is pending and b.
func (w *h1Writer) sendHead(b []byte) {
	h := w.head
	switch {
	case w.length >= 0 && w.status != http.StatusNoContent:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, w.length, 10)
		h = append(h, '\r', '\n')
	case w.bodyless():
	default:
		w.chunked = true
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.closeAfter {
		h = append(h, "Connection: close\r\n"...)
	}
	h = append(h, '\r', '\n')
	w.sent = true
	if w.chunked && len(w.pending) > 0 {
		w.writeOut(h, strconv.AppendInt(nil, int64(len(w.pending)), 16), crlf, w.pending, crlf)
	} else {
		w.writeOut(h, w.pending, b)
	}
	w.pending = nil
}

// smallWrite is the size up to which a response's parts are copied into one buffer
// and written with one write(2).
const smallWrite = 32 << 10

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, smallWrite); return &b }}

func (w *h1Writer) writeOut(parts ...[]byte) {
	if w.err != nil {
		return
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	var err error
	if total <= smallWrite {
		// One copy and a write(2) cost less than writev(2) with its iovecs.
		buf := writeBufs.Get().(*[]byte)
		b := (*buf)[:0]
		for _, p := range parts {
			b = append(b, p...)
		}
		_, err = w.conn.Write(b)
		*buf = b
		writeBufs.Put(buf)
	} else {
		bufs := net.Buffers(parts)
		_, err = bufs.WriteTo(w.conn)
	}
	if err != nil {
		w.err = err
		w.closeAfter = true
	}
}

// FlushError sends what is held: the header block and pending body, chunked when the
// length is not known.
func (w *h1Writer) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.sendHead(nil)
	}
	return w.err
}

// finish ends the response: a body held whole gets its Content-Length, a chunked one
// its last chunk; a body shorter than its Content-Length means the connection closes.
func (w *h1Writer) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		if w.length < 0 && !w.bodyless() {
			w.length = int64(len(w.pending))
		}
		w.sendHead(nil)
	} else if w.chunked {
		w.writeOut([]byte("0\r\n\r\n"))
	}
	if w.length >= 0 && w.written < w.length && !w.bodyless() {
		w.closeAfter = true
	}
	return w.err
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	return append(b, '\r', '\n')
}

var skipFraming = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// appendHeader renders header fields as net/http would: invalid names skipped, line
// breaks in values turned into spaces.
func appendHeader(b []byte, h http.Header, skip map[string]bool) []byte {
	for k, vs := range h {
		if skip[k] || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ':', ' ')
			b = append(b, cleanFieldValue(v)...)
			b = append(b, '\r', '\n')
		}
	}
	return b
}

// cleanFieldValue is a field value as net/http would send it: line breaks turned
// into spaces, surrounding space trimmed.
func cleanFieldValue(v string) string {
	if strings.ContainsAny(v, "\r\n\x00") {
		v = strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(v)
	}
	return strings.TrimSpace(v)
}

// httpDate is the current time in HTTP's format, formatted once a second.
type httpDate struct{ last atomic.Pointer[dateString] }

func (d *httpDate) now() string {
	now := time.Now()
	sec := now.Unix()
	if last := d.last.Load(); last != nil && last.sec == sec {
		return last.s
	}
	last := &dateString{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	d.last.Store(last)
	return last.s
}

type dateString struct {
	sec int64
	s   string
}

// writeHitTo writes a prepared hit: with its body in one write when small, else with
// writev; it returns the body bytes written.
func writeHitTo(conn net.Conn, hit *fastHit, closeAfter bool, altSvc string) (int64, error) {
	buf := writeBufs.Get().(*[]byte)
	defer writeBufs.Put(buf)
	b := appendHit((*buf)[:0], hit, closeAfter, altSvc)
	var err error
	if len(b)+len(hit.body) <= smallWrite {
		b = append(b, hit.body...)
		_, err = conn.Write(b)
	} else {
		bufs := net.Buffers{b, hit.body}
		_, err = bufs.WriteTo(conn)
	}
	*buf = b[:0]
	if err != nil {
		return 0, err
	}
	return int64(len(hit.body)), nil
}

// The fast path's hits: a plain GET or HEAD that the cache holds fresh is
// answered from a header block rendered once per stored response and route, with only
// Age and Cache-Status made per hit: the same response serveCached gives, without the
// general path's per-request work.

// hitKey is what a rendered header block depends on besides the stored response.
type hitKey struct {
	snap    *snapshot.Snapshot
	service string
	actions [3]*api.HttpHeaderAction
}

// fastHit is a hit ready to write.
type fastHit struct {
	block       []byte // the status line and header fields up to Age and Cache-Status (HTTP/2: HPACK-encoded)
	body        []byte // nil for HEAD
	age         int64  // seconds
	cacheStatus string
	// where it was routed, for its request log entry (made once it is written)
	l      *snapshot.Listener
	svc    *snapshot.BackendService
	start  time.Time
	policy policyVerdict
}

// fastVerdict is what the fast path does with a request.
type fastVerdict int

const (
	handOff   fastVerdict = iota // to net/http: a miss, or anything the fast path does not take
	writeHit                     // the prepared hit
	serveHere                    // a fresh hit the general handler answers, on the fast path's connection
)

// classify routes a request on the fast path once and looks it up in the cache once:
// a plain GET or HEAD the cache holds fresh on a CDN-enabled route is prepared as a
// hit; another fresh hit goes to the general handler without leaving the fast path;
// everything else is handed to net/http.
func (p *proxy) classify(r *http.Request, addr string, h2 bool) (fastHit, fastVerdict, *routed) {
	start := time.Now()
	if p.edge.cache == nil {
		return fastHit{}, handOff, nil
	}
	rt, ok := p.route(r, addr)
	if !ok {
		return fastHit{}, handOff, nil
	}
	snap, l, res, scheme := rt.snap, rt.l, rt.res, rt.scheme
	if res.Redirect != nil || len(res.Weighted) > 0 {
		return fastHit{}, handOff, rt.ref()
	}
	svc := snap.Services[res.Service]
	if svc == nil || !svc.Resource.EnableCDN || len(svc.Resource.SignedURLKeys) > 0 {
		return fastHit{}, handOff, rt.ref()
	}
	if svc.Armor != nil {
		// The security policy decides before the cache is asked; a refusal is
		// answered here, by the general handler, on this connection.
		rt.policy = p.checkPolicy(svc, r, scheme)
		if rt.policy.decision.Blocked() {
			return fastHit{}, serveHere, rt.ref()
		}
	}
	route := p.cdnRoute(r, svc, &res, scheme)
	e, age, plain, ok := p.edge.cache.FreshLookup(r, route)
	switch {
	case !ok:
		return fastHit{}, handOff, rt.ref()
	case !plain || len(res.HeaderActions) > len(hitKey{}.actions) || !cdnVariablesOnly(svc.Resource.CustomResponseHeaders):
		return fastHit{}, serveHere, rt.ref()
	}
	key := hitKey{snap: snap, service: res.Service}
	copy(key.actions[:], res.HeaderActions)
	block, h2Block := e.Memo.LoadPair(key)
	if block == nil || h2 && h2Block == nil {
		// Rendered once per stored response and route; the HTTP/2 form when an
		// HTTP/2 client first asks for it.
		h := p.edge.cache.HitHeader(e, route)
		if h == nil {
			return fastHit{}, serveHere, rt.ref()
		}
		if block == nil {
			block = appendHeader(appendStatusLine(make([]byte, 0, 512), http.StatusOK), h, hitSkip)
		}
		if h2 {
			h2Block = encodeH2Block(h)
		}
		e.Memo.StorePair(key, block, h2Block)
	}
	if h2 {
		block = h2Block // HPACK-encoded (h2.go)
	}
	hit := fastHit{block: block, age: int64(age / time.Second), cacheStatus: p.edge.cache.HitStatus(e, age), start: start}
	if r.Method != http.MethodHead {
		hit.body = e.Body
	}
	hit.l, hit.svc, hit.policy = l, svc, rt.policy
	return hit, writeHit, nil
}

// hitSkip leaves out of a rendered block what the connection decides.
var hitSkip = map[string]bool{"Transfer-Encoding": true, "Connection": true}

// logHit records a hit the fast path wrote, as the general path records one.
func (p *proxy) logHit(hit *fastHit, r *http.Request, written int64) {
	var entry observe.Entry
	setListener(&entry, hit.l)
	entry.BackendService = api.LastSegment(hit.svc.Path)
	entry.CacheLookup, entry.CacheHit, entry.CacheID, entry.CacheStatus = true, true, p.edge.cache.Name(), "hit"
	entry.Status, entry.ResponseSize, entry.StatusDetails = http.StatusOK, written, "response_from_cache"
	logPolicy(&entry, &hit.policy.decision)
	p.record(&entry, hit.svc.Log, r, hit.start, 0)
}

// cdnVariablesOnly reports whether custom response headers use no variable but the
// CDN's ({cdn_cache_status}, {cdn_cache_id}), so that their value is the same for
// every hit of a stored response.
func cdnVariablesOnly(custom []string) bool {
	for _, line := range custom {
		v := line
		for {
			open := strings.IndexByte(v, '{')
			if open < 0 {
				break
			}
			end := strings.IndexByte(v[open:], '}')
			if end < 0 {
				break
			}
			switch v[open+1 : open+end] {
			case "cdn_cache_status", "cdn_cache_id":
			default:
				return false
			}
			v = v[open+end+1:]
		}
	}
	return true
}

// appendHit renders a hit's response head: the block, Age, Cache-Status, and
// Connection: close when the connection ends after it.
func appendHit(b []byte, hit *fastHit, closeAfter bool, altSvc string) []byte {
	b = append(b, hit.block...)
	if altSvc != "" {
		b = append(b, "Alt-Svc: "...)
		b = append(b, altSvc...)
		b = append(b, '\r', '\n')
	}
	b = append(b, "Age: "...)
	b = strconv.AppendInt(b, hit.age, 10)
	b = append(b, "\r\nCache-Status: "...)
	b = append(b, hit.cacheStatus...)
	b = append(b, '\r', '\n')
	if closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, '\r', '\n')
}
