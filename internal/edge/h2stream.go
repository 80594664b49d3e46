package edge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A stream's request body and response writer, for the streams the general handler
// answers (h2.go).

// h2Body is a stream's request body: DATA the reader received, until the handler
// reads it (each read gives window back to the client).
type h2Body struct {
	st   *h2Stream
	req  *http.Request // its Trailer gets the request's trailers
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	err  error // io.EOF once the request ended
	// trailer holds the request's trailers until the handler reads to the end
	trailer http.Header
	// continueOwed: the client asked to be told 100 Continue before it sends the
	// body, which its first read does (the handler's goroutine only)
	continueOwed bool
}

// put adds DATA; it reports false when the body is closed and p was dropped.
func (b *h2Body) put(p []byte, end bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return false
	}
	b.buf = append(b.buf, p...)
	if end {
		b.err = io.EOF
	}
	b.cond.Broadcast()
	return true
}

// end ends the body with the request's trailers (given to the request when the
// handler reads to the end, as net/http does).
func (b *h2Body) end(trailer http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	b.trailer = trailer
	b.err = io.EOF
	b.cond.Broadcast()
}

func (b *h2Body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.continueOwed {
		b.continueOwed = false
		b.mu.Lock()
		waiting := len(b.buf) == 0 && b.err == nil
		b.mu.Unlock()
		if waiting {
			c := b.st.c
			if c.writeHeaders(b.st, http.StatusContinue, nil, -1, false) == nil {
				c.wmu.Lock()
				c.flushLocked()
				c.wmu.Unlock()
			}
		}
	}
	b.mu.Lock()
	for len(b.buf) == 0 && b.err == nil {
		b.cond.Wait()
	}
	if len(b.buf) == 0 {
		err, trailer := b.err, b.trailer
		b.trailer = nil
		b.mu.Unlock()
		for k, vs := range trailer {
			if b.req.Trailer == nil {
				b.req.Trailer = http.Header{}
			}
			b.req.Trailer[k] = vs
		}
		return 0, err
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	if len(b.buf) == 0 {
		b.buf = nil
	}
	b.mu.Unlock()
	b.st.c.giveBack(b.st, int64(n), int64(n))
	return n, nil
}

// Close drops what is buffered (giving its window back) and what comes later.
func (b *h2Body) Close() error {
	b.drop(http.ErrBodyReadAfterClose)
	return nil
}

// drop ends the body with err: what is buffered is dropped (its window given back
// to the connection) and what comes later too.
func (b *h2Body) drop(err error) {
	b.mu.Lock()
	dropped := int64(len(b.buf))
	b.buf = nil
	if b.err == nil || b.err == io.EOF {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	b.st.c.giveBack(nil, dropped, 0)
}

// h2Writer is the http.ResponseWriter of a stream the general handler answers.
type h2Writer struct {
	writerState
	st       *h2Stream
	sent     bool // the HEADERS frame is out
	buf      []byte
	trailers []string // the trailer fields the handler declared
}

func (w *h2Writer) WriteHeader(code int) {
	if w.status != 0 || w.err != nil {
		return
	}
	if w.informational(code) {
		if code != http.StatusSwitchingProtocols {
			w.err = w.st.c.writeHeaders(w.st, code, w.header, -1, false)
		}
		return
	}
	for _, v := range w.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	if _, ok := w.header["Date"]; !ok {
		w.header.Set("Date", w.date.now())
	}
}

func (w *h2Writer) Write(b []byte) (int, error) {
	if send, err := w.admit(b, w.WriteHeader); !send {
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if len(w.buf)+len(b) <= h2BodyBuffer {
		w.buf = append(w.buf, b...)
		return len(b), nil
	}
	if err := w.sendHeader(); err != nil {
		return 0, err
	}
	if len(w.buf) > 0 {
		if w.err = w.st.c.writeData(w.st, w.buf, false); w.err != nil {
			return 0, w.err
		}
		w.buf = w.buf[:0]
	}
	if w.err = w.st.c.writeData(w.st, b, false); w.err != nil {
		return 0, w.err
	}
	return len(b), nil
}

// sendHeader writes the response's HEADERS frame if it is not out yet.
func (w *h2Writer) sendHeader() error {
	if w.sent || w.err != nil {
		return w.err
	}
	w.sent = true
	w.err = w.st.c.writeHeaders(w.st, w.status, w.header, -1, false)
	return w.err
}

// FlushError sends what is held, and the connection's buffer.
func (w *h2Writer) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.sendHeader(); err != nil {
		return err
	}
	if len(w.buf) > 0 {
		if w.err = w.st.c.writeData(w.st, w.buf, false); w.err != nil {
			return w.err
		}
		w.buf = w.buf[:0]
	}
	c := w.st.c
	c.wmu.Lock()
	c.flushLocked()
	err := c.werr
	c.wmu.Unlock()
	return err
}

func (w *h2Writer) Flush() { w.FlushError() }

// finish ends the response: a body held whole gets its Content-Length; declared
// trailers follow the body; a body shorter than its Content-Length resets the stream.
func (w *h2Writer) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return
	}
	c := w.st.c
	if w.length >= 0 && w.written < w.length && !w.bodyless() {
		w.sendHeader()
		if len(w.buf) > 0 {
			c.writeData(w.st, w.buf, false)
		}
		c.closeStream(w.st, true, http2.ErrCodeInternal)
		return
	}
	trailer := w.trailerFields()
	if !w.sent {
		w.sent = true
		length := int64(-1)
		if w.length < 0 && !w.bodyless() {
			length = int64(len(w.buf))
		}
		end := len(w.buf) == 0 && trailer == nil
		if w.err = c.writeHeaders(w.st, w.status, w.header, length, end); w.err != nil || end {
			return
		}
	}
	if len(w.buf) > 0 || trailer == nil {
		if w.err = c.writeData(w.st, w.buf, trailer == nil); w.err != nil || trailer == nil {
			return
		}
	}
	w.err = c.writeHeaders(w.st, 0, trailer, -1, true)
}

// trailerFields are the trailers to send: those declared before the header went out,
// and any set with http.TrailerPrefix; nil for none.
func (w *h2Writer) trailerFields() http.Header {
	var t http.Header
	for _, k := range w.trailers {
		if vs, ok := w.header[k]; ok {
			if t == nil {
				t = http.Header{}
			}
			t[k] = vs
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = http.Header{}
			}
			t[http.CanonicalHeaderKey(name)] = vs
		}
	}
	return t
}

// writeHeaders encodes and writes a HEADERS block: a response's (status ≥ 100, with a
// Content-Length of length when ≥ 0) or trailers (status 0).
func (c *h2Conn) writeHeaders(st *h2Stream, status int, h http.Header, length int64, endStream bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case c.werr != nil:
		return c.werr
	case st.closed:
		return errStreamClosed
	case status > 0 && status < 200 && st.answered:
		return nil // no 1xx after the final response (a 100 Continue owed on a late read)
	}
	if status >= 200 {
		st.answered = true
	}
	c.encBuf.Reset()
	if status != 0 {
		c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	}
	for k, vs := range h {
		if h2ConnectionSpecific[k] || strings.HasPrefix(k, http.TrailerPrefix) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		if length >= 0 && k == "Content-Length" {
			continue
		}
		name := lowerH2Key(k)
		for _, v := range vs {
			c.enc.WriteField(hpack.HeaderField{Name: name, Value: cleanFieldValue(v)})
		}
	}
	if length >= 0 {
		c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(length, 10)})
	}
	if c.encBuf.Len() == 0 {
		// Trailers that all fell away: the stream ends with an empty DATA frame (the
		// encoder still owes any table size update to the next block).
		c.writeDataLocked(st.id, nil, endStream)
	} else {
		c.tableUpdate = false // the encoder put it first
		c.writeBlockLocked(st.id, c.encBuf.Bytes(), endStream)
	}
	if endStream {
		c.flushIfIdleLocked()
	}
	return c.werr
}
