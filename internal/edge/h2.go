package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (RFC 9113) on an HTTPS listener's connections, below net/http. net/http's
// HTTP/2 server runs every stream's handler on a goroutine of its own and writes every
// response's HEADERS frame from yet another (its frame scheduler and serve loop between
// them): a 1 KiB hit cost twice nginx's CPU. Here a connection's frames are read by one
// goroutine that answers a fresh plain hit itself, from a header block HPACK-encoded
// once per stored response, and writes it into the connection's buffer, sent when there
// is nothing more to read (several streams' responses in one TLS record and one write).
// Every other request (a miss, a body, anything unusual) runs the general handler on a
// goroutine of its own, writing through h2Writer. Frames are parsed and HPACK decoded by
// x/net/http2's Framer; this file keeps the connection's and streams' states, flow
// control and the request's checks.

const (
	h2MaxStreams    = 100       // SETTINGS_MAX_CONCURRENT_STREAMS, as Google's front end
	h2StreamWindow  = 256 << 10 // each stream's receive window (request bodies)
	h2ConnWindow    = 1 << 20   // the connection's receive window
	h2MaxHeaderList = 64 << 10  // SETTINGS_MAX_HEADER_LIST_SIZE, as MaxHeaderBytes
	h2WriteBuffer   = 16 << 10  // one TLS record
	h2WriteTimeout  = 30 * time.Second
	// h2BodyBuffer is what a response writer holds before sending DATA (and what lets
	// a small response carry a Content-Length)
	h2BodyBuffer = 16 << 10
	// h2InlineBody bounds the hit bodies the reader writes itself, and what a writer
	// sends before it lets others write
	h2InlineBody = 64 << 10
)

// h2Conn is one HTTP/2 connection.
type h2Conn struct {
	s   *h1Server
	hc  *h1Conn
	br  *bufio.Reader
	fr  *http2.Framer
	ctx context.Context

	idleTimeout time.Duration
	yield       fairness
	nextType    http2.FrameType // the type of the frame ReadFrame reads (or last read)

	// Everything written, and the state writers share, under wmu.
	wmu        sync.Mutex
	wcond      sync.Cond // a window grew, a stream closed, the connection failed
	bw         *bufio.Writer
	enc        *hpack.Encoder
	encBuf     bytes.Buffer
	werr       error
	sendWindow int64 // the connection's send window
	peerWindow int64 // SETTINGS_INITIAL_WINDOW_SIZE of the client
	peerFrame  int   // SETTINGS_MAX_FRAME_SIZE of the client
	streams    map[uint32]*h2Stream
	handlers   int    // handler goroutines running
	readerIdle bool   // the reader waits for bytes (writers flush themselves)
	lastStream uint32 // the highest stream the client opened (written by the reader)
	recvWindow int64  // what the client may still send on the connection
	recvCredit int64  // connection window consumed and not yet given back
	goAwaySent bool
	// encTable is the HPACK table size the client allows (4096 until it says less);
	// tableUpdate, that the encoder owes the client a size update
	encTable    uint32
	tableUpdate bool
	// reset are the last streams this end reset: frames the client sent before it
	// learned are ignored (RFC 9113 5.1), not taken for a protocol error
	reset     [32]uint32
	resetNext int
	writeDue  time.Time
}

// h2Stream is a stream the general handler answers, or a hit waiting for window.
type h2Stream struct {
	c  *h2Conn
	id uint32
	// under c.wmu
	sendWindow int64
	recvWindow int64 // what the client may still send
	recvCredit int64 // window read by the handler and not yet given back
	remoteDone bool  // END_STREAM received
	answered   bool  // the final response's HEADERS are out
	closed     bool  // reset, or answered and done both ways
	// the reader's
	declared int64 // the request's Content-Length, -1 when none
	received int64
	body     *h2Body
	cancel   context.CancelFunc
}

var errStreamClosed = errors.New("http2: stream closed")

// serveH2 serves an HTTP/2 connection whose handshake chose h2; it returns when the
// connection ends.
func (s *h1Server) serveH2(hc *h1Conn, br *bufio.Reader) {
	c := &h2Conn{s: s, hc: hc, br: br, idleTimeout: s.idle, sendWindow: 65535, peerWindow: 65535, peerFrame: 16384,
		recvWindow: h2ConnWindow, encTable: 4096, streams: map[uint32]*h2Stream{}}
	c.wcond.L = &c.wmu
	c.bw = bufio.NewWriterSize(h2Out{c}, h2WriteBuffer)
	c.enc = hpack.NewEncoder(&c.encBuf)
	br.Reset(hc.rw)
	c.fr = http2.NewFramer(c.bw, br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = h2MaxHeaderList
	c.fr.SetMaxReadFrameSize(16384) // SETTINGS_MAX_FRAME_SIZE left at its default
	c.ctx = context.WithValue(hc.ctx, connKey{}, hc.rw)
	defer func() {
		c.wmu.Lock()
		c.fail(net.ErrClosed)
		open := make([]*h2Stream, 0, len(c.streams))
		for _, st := range c.streams {
			open = append(open, st)
		}
		c.wmu.Unlock()
		for _, st := range open {
			c.closeStream(st, false, 0)
		}
	}()

	// The server's preface goes out at once; the client's must arrive by the header
	// deadline serveConn set.
	c.wmu.Lock()
	c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: h2MaxStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList})
	c.fr.WriteWindowUpdate(0, h2ConnWindow-65535)
	c.flushLocked()
	c.wmu.Unlock()
	// From here shutdown can say GOAWAY to it.
	s.mu.Lock()
	closing := s.closing
	hc.h2 = c
	s.mu.Unlock()
	if closing {
		return
	}
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		return
	}
	f, err := c.fr.ReadFrame()
	if sf, ok := f.(*http2.SettingsFrame); err != nil || !ok || sf.IsAck() {
		c.goAway(http2.ErrCodeProtocol)
		return
	} else if err := c.settings(sf); err != nil {
		c.goAway(connErrorCode(err))
		return
	}
	hc.rw.SetReadDeadline(time.Time{})
	defer c.linger()
	for {
		f, err := c.readFrame()
		if err != nil {
			var se http2.StreamError
			switch {
			case errors.As(err, &se):
				c.wmu.Lock()
				idle := se.StreamID > c.lastStream
				if idle && c.nextType == http2.FrameHeaders && se.StreamID%2 == 1 {
					c.lastStream, idle = se.StreamID, false // a HEADERS frame the Framer refused opened it
				}
				c.wmu.Unlock()
				if idle {
					c.goAway(http2.ErrCodeProtocol) // another frame on an idle stream (RFC 9113 5.1)
					return
				}
				c.resetStream(se.StreamID, se.Code)
				continue
			case errors.Is(err, http2.ErrFrameTooLarge):
				c.goAway(http2.ErrCodeFrameSize)
			case isConnError(err):
				c.goAway(connErrorCode(err))
			case isTimeout(err) && !c.shuttingDown():
				c.goAway(http2.ErrCodeNo) // idle for the keep-alive timeout
			}
			return
		}
		if err := c.process(f); err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code)
				continue
			}
			c.goAway(connErrorCode(err))
			return
		}
	}
}

func isConnError(err error) bool {
	var ce http2.ConnectionError
	return errors.As(err, &ce)
}

func connErrorCode(err error) http2.ErrCode {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return http2.ErrCode(ce)
	}
	return http2.ErrCodeProtocol
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readFrame reads the next frame. Before waiting for bytes it sends what is
// buffered and, with no stream open, arms the idle timeout.
func (c *h2Conn) readFrame() (http2.Frame, error) {
	c.yield.turn()
	if c.frameBuffered() {
		return c.fr.ReadFrame()
	}
	c.wmu.Lock()
	c.readerIdle = true
	c.flushLocked()
	idle, closing := len(c.streams) == 0, c.goAwaySent
	if closing && idle {
		c.wmu.Unlock()
		return nil, net.ErrClosed
	}
	// The idle timeout runs from the last stream's end (or the last hit), not from
	// the last frame: PINGs do not keep a connection.
	if !idle || c.hc.readDue.IsZero() {
		c.armIdleLocked(idle)
	}
	c.wmu.Unlock()
	h, err := c.br.Peek(9) // waits for the next frame's header
	c.yield.waited()
	c.wmu.Lock()
	c.readerIdle = false
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	c.nextType = http2.FrameType(h[3])
	if c.nextType != http2.FrameHeaders || c.frameBuffered() {
		return c.fr.ReadFrame()
	}
	// A request's header block still arriving (its HEADERS frame, CONTINUATIONs)
	// must arrive within the read-header timeout, as an HTTP/1.1 one must.
	c.wmu.Lock()
	c.hc.readDue = time.Time{} // the idle deadline is set again when next due
	c.hc.rw.SetReadDeadline(time.Now().Add(c.s.readHeader))
	c.wmu.Unlock()
	f, err := c.fr.ReadFrame()
	c.wmu.Lock()
	if c.hc.readDue.IsZero() {
		c.hc.rw.SetReadDeadline(time.Time{})
	}
	c.wmu.Unlock()
	return f, err
}

// frameBuffered reports whether a whole frame is in the read buffer (reading it
// cannot wait for the client).
func (c *h2Conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(9)
	c.nextType = http2.FrameType(h[3])
	if c.nextType == http2.FrameHeaders && http2.Flags(h[4])&http2.FlagHeadersEndHeaders == 0 {
		return false // the Framer reads its CONTINUATION frames too
	}
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

// linger ends a connection that said GOAWAY: what is buffered goes out, then TLS's
// close_notify and TCP's FIN, and what the client still sends is read and dropped
// for up to a second. Closing with unread bytes would reset the connection, and the
// client's kernel would drop the end of a response it has not read yet.
func (c *h2Conn) linger() {
	c.wmu.Lock()
	c.flushLocked()
	said, failed := c.goAwaySent, c.werr != nil
	c.wmu.Unlock()
	if !said || failed {
		return
	}
	c.hc.rw.SetWriteDeadline(time.Now().Add(time.Second))
	if tc, ok := c.hc.rw.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	if hc, ok := c.hc.conn.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	c.hc.rw.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, c.hc.rw)
}

// armIdleLocked sets the read deadline that ends an idle connection (h1Conn.armIdle),
// or clears it while streams are open.
func (c *h2Conn) armIdleLocked(idle bool) {
	if idle {
		c.hc.armIdle(c.idleTimeout)
	} else if !c.hc.readDue.IsZero() {
		c.hc.readDue = time.Time{}
		c.hc.rw.SetReadDeadline(time.Time{})
	}
}

func (c *h2Conn) shuttingDown() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.goAwaySent
}

// process handles one frame from the client.
func (c *h2Conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return c.headers(f)
	case *http2.DataFrame:
		return c.data(f)
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if err := c.settings(f); err != nil {
			return err
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			c.wmu.Lock()
			c.fr.WritePing(true, f.Data)
			c.wmu.Unlock()
		}
	case *http2.WindowUpdateFrame:
		return c.windowUpdate(f)
	case *http2.RSTStreamFrame:
		if f.StreamID > c.lastStream {
			return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream
		}
		c.wmu.Lock()
		st := c.streams[f.StreamID]
		c.wmu.Unlock()
		if st != nil {
			c.closeStream(st, false, 0)
		}
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
		}
	case *http2.GoAwayFrame:
		// The client will open no more streams; the open ones are answered.
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // a client cannot push
	}
	return nil // unknown frame types are ignored (RFC 9113 5.5)
}

// settings applies the client's SETTINGS and acknowledges them.
func (c *h2Conn) settings(f *http2.SettingsFrame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingInitialWindowSize:
			// Every open stream's window moves by the difference (RFC 9113 6.9.2).
			delta := int64(s.Val) - c.peerWindow
			c.peerWindow = int64(s.Val)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > 1<<31-1 {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.wcond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.peerFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			if s.Val < c.encTable {
				// The encoder starts its next block with the size update; a hit's
				// block, encoded beforehand, needs it added (hitPrefixLocked).
				c.tableUpdate = true
			}
			c.encTable = min(c.encTable, s.Val)
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.fr.WriteSettingsAck()
	return nil
}

func (c *h2Conn) windowUpdate(f *http2.WindowUpdateFrame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if f.StreamID == 0 {
		c.sendWindow += int64(f.Increment)
		if c.sendWindow > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.wcond.Broadcast()
		return nil
	}
	if f.StreamID > c.lastStream {
		return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream
	}
	st := c.streams[f.StreamID]
	if st == nil {
		return nil // a closed stream: frames in flight are ignored
	}
	st.sendWindow += int64(f.Increment)
	if st.sendWindow > 1<<31-1 {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl}
	}
	c.wcond.Broadcast()
	return nil
}

// data takes a DATA frame: the request body of an open stream.
func (c *h2Conn) data(f *http2.DataFrame) error {
	id, n := f.StreamID, int64(f.Length)
	if id > c.lastStream {
		return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream
	}
	c.wmu.Lock()
	if n > c.recvWindow {
		c.wmu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= n
	st := c.streams[id]
	var err error
	switch {
	case st == nil && c.wasResetLocked(id):
		c.wmu.Unlock()
		c.giveBack(nil, n, 0) // sent before the client saw our RST_STREAM
		return nil
	case st == nil || st.remoteDone || st.body == nil:
		err = http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	case n > st.recvWindow:
		err = http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	default:
		st.recvWindow -= n
		st.received += int64(len(f.Data()))
		if st.declared >= 0 && (st.received > st.declared || f.StreamEnded() && st.received != st.declared) {
			err = http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol} // RFC 9113 8.1.1
		} else if f.StreamEnded() {
			st.remoteDone = true
		}
	}
	c.wmu.Unlock()
	// The windows count every DATA frame, padding included: what no stream keeps, and
	// the padding, is given back at once, the rest as the handler reads it.
	if err != nil {
		c.giveBack(nil, n, 0)
		return err
	}
	pad := n - int64(len(f.Data()))
	if !st.body.put(f.Data(), f.StreamEnded()) {
		pad = n // the handler closed the body: nothing is kept
	}
	c.giveBack(st, pad, pad)
	return nil
}

// giveBack credits bytes of the connection's receive window (conn) and of st's
// (stream, when st is not nil) back to the client, in WINDOW_UPDATE frames once a
// quarter of a window has gathered.
func (c *h2Conn) giveBack(st *h2Stream, conn, stream int64) {
	if conn <= 0 && stream <= 0 {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.recvCredit += conn
	if c.recvCredit >= h2ConnWindow/4 {
		c.fr.WriteWindowUpdate(0, uint32(c.recvCredit))
		c.recvWindow += c.recvCredit
		c.recvCredit = 0
		c.flushIfIdleLocked()
	}
	if st == nil || st.closed || st.remoteDone {
		return
	}
	st.recvCredit += stream
	if st.recvCredit >= h2StreamWindow/4 {
		c.fr.WriteWindowUpdate(st.id, uint32(st.recvCredit))
		st.recvWindow += st.recvCredit
		st.recvCredit = 0
		c.flushIfIdleLocked()
	}
}

// headers takes a HEADERS frame (with its CONTINUATIONs): a new request, or the
// trailers of an open one.
func (c *h2Conn) headers(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if id <= c.lastStream {
		c.wmu.Lock()
		st, ignore := c.streams[id], c.wasResetLocked(id)
		c.wmu.Unlock()
		switch {
		case st != nil:
			return c.trailers(st, f)
		case ignore:
			return nil // trailers sent before the client saw our RST_STREAM
		}
		return http2.ConnectionError(http2.ErrCodeStreamClosed)
	}
	c.wmu.Lock()
	c.lastStream = id
	goingAway, full := c.goAwaySent, len(c.streams) >= h2MaxStreams || c.handlers >= h2MaxStreams
	c.wmu.Unlock()
	if f.HasPriority() && f.Priority.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if goingAway {
		return nil // after GOAWAY: not processed, the client may retry it elsewhere
	}
	if full {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if f.Truncated {
		c.answerAtOnce(id, http.StatusRequestHeaderFieldsTooLarge, f.StreamEnded())
		return nil
	}
	req, declared, err := c.request(f)
	if err != nil {
		return err
	}
	var rt *routed
	if f.StreamEnded() && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		hit, verdict, r := c.s.classify(req, true)
		if verdict == writeHit {
			c.writeHit(id, req, &hit)
			return nil
		}
		rt = r
	}
	st := &h2Stream{c: c, id: id, recvWindow: h2StreamWindow, declared: declared, remoteDone: f.StreamEnded()}
	if !f.StreamEnded() {
		st.body = &h2Body{st: st, req: req, continueOwed: strings.EqualFold(req.Header.Get("Expect"), "100-continue")}
		st.body.cond.L = &st.body.mu
		req.Body = st.body
	}
	ctx, cancel := context.WithCancel(req.Context())
	if rt != nil {
		ctx = withRouted(ctx, rt)
	}
	st.cancel = cancel
	req = req.WithContext(ctx)
	c.wmu.Lock()
	st.sendWindow = c.peerWindow
	c.streams[id] = st
	c.handlers++
	c.armIdleLocked(false) // not idle while a stream is open
	c.wmu.Unlock()
	go c.runHandler(st, req)
	return nil
}

// trailers ends an open stream's request with its trailer fields.
func (c *h2Conn) trailers(st *h2Stream, f *http2.MetaHeadersFrame) error {
	c.wmu.Lock()
	done := st.remoteDone
	c.wmu.Unlock()
	if done {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeStreamClosed}
	}
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	if st.declared >= 0 && st.received != st.declared {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	var trailer http.Header
	for _, hf := range f.RegularFields() {
		if trailer == nil {
			trailer = http.Header{}
		}
		trailer.Add(http.CanonicalHeaderKey(hf.Name), hf.Value)
	}
	c.wmu.Lock()
	st.remoteDone = true
	c.wmu.Unlock()
	if st.body != nil {
		st.body.end(trailer)
	}
	return nil
}

// request makes the http.Request of a HEADERS frame, checking it as RFC 9113 8.3.1
// requires; a malformed one is a stream error.
func (c *h2Conn) request(f *http2.MetaHeadersFrame) (*http.Request, int64, error) {
	malformed := http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol}
	var method, scheme, path, authority string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":path":
			path = hf.Value
		case ":authority":
			authority = hf.Value
		default: // :status, or :protocol (extended CONNECT is not offered)
			return nil, 0, malformed
		}
	}
	if !httpguts.ValidHeaderFieldName(method) { // a token, as a field name is
		return nil, 0, malformed
	}
	if method == http.MethodConnect {
		if scheme != "" || path != "" || authority == "" {
			return nil, 0, malformed
		}
	} else if scheme == "" || path == "" {
		return nil, 0, malformed
	}
	header := make(http.Header, len(f.Fields))
	declared := int64(-1)
	var cookies []string
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, 0, malformed // connection-specific (RFC 9113 8.2.2)
		case "te":
			if hf.Value != "trailers" {
				return nil, 0, malformed
			}
		case "content-length":
			n, err := strconv.ParseInt(hf.Value, 10, 64)
			if err != nil || strings.TrimLeft(hf.Value, "0123456789") != "" || declared >= 0 && n != declared {
				return nil, 0, malformed
			}
			declared = n
		case "cookie":
			cookies = append(cookies, hf.Value)
			continue
		}
		k := canonicalH2Key(hf.Name)
		header[k] = append(header[k], hf.Value)
	}
	if len(cookies) > 0 {
		header["Cookie"] = []string{strings.Join(cookies, "; ")} // RFC 9113 8.2.3
	}
	if declared > 0 && f.StreamEnded() {
		return nil, 0, malformed
	}
	host := authority
	if host == "" {
		host = header.Get("Host")
	}
	delete(header, "Host") // as net/http: the request's Host holds it
	if !httpguts.ValidHostHeader(host) {
		return nil, 0, malformed
	}
	var u *url.URL
	if method == http.MethodConnect {
		u = &url.URL{Host: authority}
		path = authority
	} else {
		var err error
		if path == "*" && method == http.MethodOptions {
			u = &url.URL{Path: "*"}
		} else if path[0] != '/' {
			return nil, 0, malformed
		} else if u, err = url.ParseRequestURI(path); err != nil {
			return nil, 0, malformed
		}
	}
	req := &http.Request{Method: method, URL: u, Proto: "HTTP/2.0", ProtoMajor: 2, Header: header, Host: host,
		RequestURI: path, RemoteAddr: c.hc.addr, TLS: c.hc.tls, Body: http.NoBody}
	switch {
	case f.StreamEnded():
		req.ContentLength = 0
	case declared >= 0:
		req.ContentLength = declared
	default:
		req.ContentLength = -1
	}
	if vs := header["Trailer"]; len(vs) > 0 {
		req.Trailer = http.Header{}
		for _, v := range vs {
			for _, k := range strings.Split(v, ",") {
				if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
					req.Trailer[k] = nil
				}
			}
		}
	}
	return req.WithContext(c.ctx), declared, nil
}

// canonicalH2Key is a lower-case field name's canonical form, without allocating
// for the common ones.
func canonicalH2Key(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(name)
}

var commonCanonical, commonLower = func() (map[string]string, map[string]string) {
	canon, lower := map[string]string{}, map[string]string{}
	for _, k := range []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Age", "Alt-Svc", "Authorization", "Cache-Control", "Cache-Status", "Cdn-Cache-Control", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range", "Content-Type",
		"Cookie", "Date", "Etag", "Expect", "Expires", "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match",
		"If-Range", "If-Unmodified-Since", "Last-Modified", "Link", "Location", "Max-Forwards", "Origin", "Pragma",
		"Priority", "Proxy-Authenticate", "Proxy-Authorization", "Range", "Referer", "Refresh", "Retry-After",
		"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-User", "Server", "Set-Cookie", "Strict-Transport-Security", "Te", "Trailer", "Upgrade-Insecure-Requests",
		"User-Agent", "Vary", "Via", "Www-Authenticate", "X-Cloud-Trace-Context", "X-Content-Type-Options",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Frame-Options", "X-Request-Id", "Traceparent"} {
		canon[strings.ToLower(k)] = k
		lower[k] = strings.ToLower(k)
	}
	return canon, lower
}()

// lowerH2Key is a canonical field name's lower-case (wire) form.
func lowerH2Key(k string) string {
	if l, ok := commonLower[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// h2ConnectionSpecific are response fields HTTP/2 does not carry (RFC 9113 8.2.2).
var h2ConnectionSpecific = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Transfer-Encoding": true, "Upgrade": true}

// answerAtOnce writes a response of only a status (431 for a header list too large).
func (c *h2Conn) answerAtOnce(id uint32, status int, requestEnded bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.encBuf.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "0"})
	c.writeBlockLocked(id, c.encBuf.Bytes(), true)
	if !requestEnded {
		c.writeResetLocked(id, http2.ErrCodeNo)
	}
}

// writeHit answers a fresh plain hit from the reader: its pre-encoded block, Age and
// Cache-Status, and its body when it is small (h2InlineBody) and the flow-control
// windows hold it; else the body is sent by a goroutine of its own, a batch at a
// time, as the client opens its windows.
func (c *h2Conn) writeHit(id uint32, req *http.Request, hit *fastHit) {
	if c.s.unrecorded != nil {
		c.s.unrecorded.Add(1)
	}
	buf := writeBufs.Get().(*[]byte)
	b := appendH2Hit((*buf)[:0], hit, c.s.altSvc())
	body := hit.body
	c.wmu.Lock()
	if c.tableUpdate {
		// The block starts with :status 200 (0x88); the encoder writes that field
		// after the size update it owes.
		c.encBuf.Reset()
		c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		c.tableUpdate = false
		b = append(append(b[:0:0], c.encBuf.Bytes()...), b[1:]...)
	}
	c.writeBlockLocked(id, b, len(body) == 0)
	*buf = b[:0]
	writeBufs.Put(buf)
	if len(c.streams) == 0 {
		c.armIdleLocked(true) // a hit is a stream opened and closed: the idle time starts again
	}
	n := int64(len(body))
	// A large body is sent from a goroutine of its own, a frame batch at a time,
	// so that the reader goes on with the client's other frames meanwhile.
	if n == 0 || n <= h2InlineBody && n <= c.sendWindow && n <= c.peerWindow {
		if n > 0 {
			c.writeDataLocked(id, body, true)
			c.sendWindow -= n
		}
		err := c.werr
		c.wmu.Unlock()
		c.s.hits.Add(1)
		if err != nil {
			n = 0
		}
		c.s.logHit(hit, req, n)
		if c.s.unrecorded != nil {
			c.s.unrecorded.Add(-1)
		}
		return
	}
	// The body waits for window: a stream of its own, open until it is sent.
	st := &h2Stream{c: c, id: id, sendWindow: c.peerWindow, remoteDone: true, declared: -1}
	c.streams[id] = st
	c.handlers++
	c.wmu.Unlock()
	go func() {
		err := c.writeData(st, body, true)
		c.finishHandler(st)
		c.s.hits.Add(1)
		written := int64(len(body))
		if err != nil {
			written = 0
		}
		c.s.logHit(hit, req, written)
		if c.s.unrecorded != nil {
			c.s.unrecorded.Add(-1)
		}
	}()
}

// appendH2Hit is a hit's HEADERS block: the pre-encoded fields, then Alt-Svc, Age
// and Cache-Status as literals that leave the HPACK dynamic table alone.
func appendH2Hit(b []byte, hit *fastHit, altSvc string) []byte {
	b = append(b, hit.block...)
	if altSvc != "" {
		b = appendHpackLiteral(b, "alt-svc", altSvc)
	}
	var age [20]byte
	b = appendHpackLiteral(b, "age", string(strconv.AppendInt(age[:0], hit.age, 10)))
	return appendHpackLiteral(b, "cache-status", hit.cacheStatus)
}

// appendHpackLiteral appends a field as a literal without indexing with a literal
// name (RFC 7541 6.2.2), neither Huffman-coded.
func appendHpackLiteral(b []byte, name, value string) []byte {
	b = append(b, 0)
	b = appendHpackInt(b, 7, uint64(len(name)))
	b = append(b, name...)
	b = appendHpackInt(b, 7, uint64(len(value)))
	return append(b, value...)
}

// appendHpackInt appends i with an n-bit prefix (RFC 7541 5.1) into a new byte whose
// high bits are zero.
func appendHpackInt(b []byte, n uint, i uint64) []byte {
	limit := uint64(1)<<n - 1
	if i < limit {
		return append(b, byte(i))
	}
	b = append(b, byte(limit))
	i -= limit
	for i >= 128 {
		b = append(b, byte(i&0x7f|0x80))
		i >>= 7
	}
	return append(b, byte(i))
}

// encodeH2Block HPACK-encodes a stored response's header fields for its hits, with
// :status 200 first, using only the static table (never indexed literals), so that
// the same bytes serve every connection whatever its dynamic table holds.
func encodeH2Block(h http.Header) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	for k, vs := range h {
		if h2ConnectionSpecific[k] || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		name := lowerH2Key(k)
		for _, v := range vs {
			enc.WriteField(hpack.HeaderField{Name: name, Value: cleanFieldValue(v), Sensitive: true})
		}
	}
	return bytes.Clone(buf.Bytes())
}

// writeBlockLocked writes a header block as HEADERS and CONTINUATION frames.
func (c *h2Conn) writeBlockLocked(id uint32, block []byte, endStream bool) {
	first := true
	for first || len(block) > 0 {
		n := min(len(block), c.peerFrame)
		frag, end := block[:n], n == len(block)
		block = block[n:]
		if first {
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: endStream, EndHeaders: end})
			first = false
		} else {
			c.fr.WriteContinuation(id, end, frag)
		}
	}
	if err := c.bwErr(); err != nil {
		c.fail(err)
	}
}

// writeDataLocked writes p as DATA frames of at most the client's frame size; the
// caller has checked the windows.
func (c *h2Conn) writeDataLocked(id uint32, p []byte, endStream bool) {
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), c.peerFrame)
		var flags byte
		if endStream && n == len(p) {
			flags = byte(http2.FlagDataEndStream)
		}
		hdr := [9]byte{byte(n >> 16), byte(n >> 8), byte(n), byte(http2.FrameData), flags,
			byte(id >> 24 & 0x7f), byte(id >> 16), byte(id >> 8), byte(id)}
		c.bw.Write(hdr[:])
		c.bw.Write(p[:n])
		p = p[n:]
	}
	if err := c.bwErr(); err != nil {
		c.fail(err)
	}
}

// bwErr is the buffered writer's error: a failed write to the connection.
func (c *h2Conn) bwErr() error {
	if c.werr != nil {
		return c.werr
	}
	// bufio.Writer keeps its first error and returns it from every later call.
	if _, err := c.bw.Write(nil); err != nil {
		return err
	}
	return nil
}

// writeData sends p on st as the windows allow, waiting for them to open, and at
// most h2InlineBody at a time before it lets other writers (and the reader) in. A
// stream whose windows stay shut for h2WriteTimeout is reset.
func (c *h2Conn) writeData(st *h2Stream, p []byte, endStream bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var stalled *time.Timer
	var stalledAt time.Time
	defer func() {
		if stalled != nil {
			stalled.Stop()
		}
	}()
	for {
		switch {
		case c.werr != nil:
			return c.werr
		case st.closed:
			return errStreamClosed
		}
		if len(p) == 0 {
			if endStream {
				c.writeDataLocked(st.id, nil, true)
			}
			return c.werr
		}
		n := min(int64(len(p)), c.sendWindow, st.sendWindow, h2InlineBody)
		if n <= 0 {
			c.flushLocked() // what the client has not seen cannot open its windows
			now := time.Now()
			switch {
			case stalledAt.IsZero():
				stalledAt = now
				stalled = time.AfterFunc(h2WriteTimeout, func() {
					c.wmu.Lock()
					c.wcond.Broadcast()
					c.wmu.Unlock()
				})
			case now.Sub(stalledAt) >= h2WriteTimeout:
				c.wmu.Unlock()
				c.closeStream(st, true, http2.ErrCodeCancel) // a client that opens no window
				c.wmu.Lock()
				return errStreamClosed
			}
			c.wcond.Wait()
			continue
		}
		stalledAt = time.Time{}
		if stalled != nil {
			stalled.Stop()
			stalled = nil
		}
		c.writeDataLocked(st.id, p[:n], endStream && n == int64(len(p)))
		c.sendWindow -= n
		st.sendWindow -= n
		p = p[n:]
		if len(p) == 0 {
			return c.werr
		}
		c.wmu.Unlock()
		runtime.Gosched() // the other writers and the reader, before the next batch
		c.wmu.Lock()
	}
}

// h2Out is what the connection's buffer writes to (under wmu): the connection, each
// write bounded in time (a client that does not read is cut after h2WriteTimeout; the
// deadline is moved at most once a second).
type h2Out struct{ c *h2Conn }

func (o h2Out) Write(p []byte) (int, error) {
	c := o.c
	now := time.Now()
	if c.writeDue.Sub(now) < h2WriteTimeout-time.Second {
		c.writeDue = now.Add(h2WriteTimeout)
		c.hc.rw.SetWriteDeadline(c.writeDue)
	}
	return c.hc.rw.Write(p)
}

// flushLocked sends what is buffered.
func (c *h2Conn) flushLocked() {
	if c.werr != nil || c.bw.Buffered() == 0 {
		return
	}
	if err := c.bw.Flush(); err != nil {
		c.fail(err)
	}
}

// flushIfIdleLocked sends what is buffered unless the reader will (it flushes
// before it waits for bytes).
func (c *h2Conn) flushIfIdleLocked() {
	if c.readerIdle {
		c.flushLocked()
	}
}

// fail records the connection's first write error and wakes every waiting writer.
func (c *h2Conn) fail(err error) {
	if c.werr == nil {
		c.werr = err
		c.hc.conn.Close() // the reader stops too
	}
	c.wcond.Broadcast()
}

// resetStream sends RST_STREAM and closes the stream.
func (c *h2Conn) resetStream(id uint32, code http2.ErrCode) {
	c.wmu.Lock()
	c.writeResetLocked(id, code)
	st := c.streams[id]
	c.wmu.Unlock()
	if st != nil {
		c.closeStream(st, false, 0)
	}
}

// writeResetLocked writes RST_STREAM and remembers the stream as reset.
func (c *h2Conn) writeResetLocked(id uint32, code http2.ErrCode) {
	c.fr.WriteRSTStream(id, code)
	c.reset[c.resetNext] = id
	c.resetNext = (c.resetNext + 1) % len(c.reset)
}

// wasResetLocked reports whether this end reset stream id lately.
func (c *h2Conn) wasResetLocked(id uint32) bool {
	for _, r := range c.reset {
		if r == id {
			return true
		}
	}
	return false
}

// closeStream closes st (if still open): writers waiting on it stop, its handler's
// context is cancelled and its request body fails. With reset, RST_STREAM with code
// is sent first.
func (c *h2Conn) closeStream(st *h2Stream, reset bool, code http2.ErrCode) {
	c.wmu.Lock()
	if st.closed {
		c.wmu.Unlock()
		return
	}
	if reset {
		c.writeResetLocked(st.id, code)
		c.flushIfIdleLocked()
	}
	st.closed = true
	delete(c.streams, st.id)
	c.wcond.Broadcast()
	c.drainedLocked()
	c.wmu.Unlock()
	if st.cancel != nil {
		st.cancel()
	}
	if st.body != nil {
		st.body.drop(errStreamClosed) // unread bytes' window given back
	}
}

// drainedLocked runs when streams close: with none left, the idle timeout runs again
// (the reader may be waiting without one), and after GOAWAY the reader ends.
func (c *h2Conn) drainedLocked() {
	if len(c.streams) > 0 || !c.readerIdle {
		return
	}
	if c.goAwaySent {
		c.hc.rw.SetReadDeadline(aLongTimeAgo)
		return
	}
	c.armIdleLocked(true)
}

// goAway sends GOAWAY with the last stream the client opened.
func (c *h2Conn) goAway(code http2.ErrCode) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.goAwayLocked(code)
}

func (c *h2Conn) goAwayLocked(code http2.ErrCode) {
	if c.goAwaySent {
		return
	}
	c.goAwaySent = true
	// The last stream the reader took: streams after it are not processed, and the
	// client may retry them.
	c.fr.WriteGoAway(c.lastStream, code, nil)
	c.flushLocked()
}

// shutdown says GOAWAY to the client: the open streams are answered, then the
// connection closes.
func (c *h2Conn) shutdown() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.goAwayLocked(http2.ErrCodeNo)
	if len(c.streams) == 0 && c.readerIdle {
		c.hc.rw.SetReadDeadline(aLongTimeAgo) // else the reader sees it before it waits
	}
}

// runHandler runs the general handler for a stream and finishes its response.
func (c *h2Conn) runHandler(st *h2Stream, req *http.Request) {
	w := &h2Writer{writerState: writerState{req: req, date: &c.s.date, header: http.Header{}, length: -1}, st: st}
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				c.s.errLog.Printf("http2: panic serving %s: %v\n%s", c.hc.addr, err, buf[:runtime.Stack(buf, false)])
			}
			c.closeStream(st, true, http2.ErrCodeInternal)
		} else {
			w.finish()
		}
		c.finishHandler(st)
	}()
	defer req.Body.Close() // what the handler left unread gives its window back
	c.s.handler.ServeHTTP(w, req)
}

// finishHandler closes a stream whose response is done: a request still arriving is
// told to stop (RST_STREAM NO_ERROR, RFC 9113 8.1).
func (c *h2Conn) finishHandler(st *h2Stream) {
	c.wmu.Lock()
	c.handlers--
	requestOpen := !st.remoteDone
	c.flushIfIdleLocked()
	c.wmu.Unlock()
	c.closeStream(st, requestOpen, http2.ErrCodeNo)
}
