package cdn

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
)

// The cache's work in flight (fills, chunk fills, checks of chunked objects) is kept
// in tables by slot, one table per purpose: the first request for a slot starts the
// work, the others join it, and the work leaves the table when it ends. These two
// functions are the one way every table is used.

// join returns the work in flight in slot, or registers what start makes (start runs
// under mu and may return nil: nothing to do) and reports that the caller started it.
func join[T any](mu *sync.Mutex, table map[string]*T, slot string, start func() *T) (*T, bool) {
	mu.Lock()
	defer mu.Unlock()
	if v := table[slot]; v != nil {
		return v, false
	}
	v := start()
	if v != nil {
		table[slot] = v
	}
	return v, v != nil
}

// land removes v from the table once it has ended, unless another took its slot.
func land[T any](mu *sync.Mutex, table map[string]*T, slot string, v *T) {
	mu.Lock()
	defer mu.Unlock()
	if table[slot] == v {
		delete(table, slot)
	}
}

// buffer is what a fill and a chunk fill share: an origin's response arriving into
// memory, which the requests waiting on it follow as it grows. Its mutex also guards
// the fields of the fill that embeds it.
type buffer struct {
	ready    chan struct{} // closed when the status is known (or the fill ended)
	fromPeer atomic.Bool   // the origin function got the response from another cache

	mu      sync.Mutex
	status  int
	body    []byte
	done    bool
	err     error
	changed chan struct{} // closed and replaced whenever the buffer grows or ends
}

func newBuffer() buffer {
	return buffer{ready: make(chan struct{}), changed: make(chan struct{})}
}

// signal wakes the requests following the buffer; mu is held.
func (b *buffer) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// wait waits until the fill ends or ctx does; it reports whether the fill ended.
func (b *buffer) wait(ctx context.Context) bool {
	for {
		b.mu.Lock()
		done, changed := b.done, b.changed
		b.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// finish ends the fill with err (nil for a whole response), once.
func (b *buffer) finish(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done, b.err = true, err
	b.signal()
}

// originWriter is the http.ResponseWriter an origin writes one of the cache's own
// requests into (a fill, a chunk fill). It keeps the header map, and hands its sink
// the 1xx responses, the final head once, and the body.
type originWriter struct {
	sink  originSink
	h     http.Header
	wrote bool
}

// originSink takes what an origin writes into an originWriter.
type originSink interface {
	interim(code int, h http.Header)
	head(code int, h http.Header)
	body(b []byte) (int, error)
}

func newOriginWriter(s originSink) *originWriter { return &originWriter{sink: s, h: http.Header{}} }

func (w *originWriter) Header() http.Header { return w.h }

func (w *originWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if code < 200 {
		w.sink.interim(code, w.h)
		return
	}
	w.wrote = true
	w.sink.head(code, w.h)
}

func (w *originWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.sink.body(b)
}

func (w *originWriter) Flush() {}
