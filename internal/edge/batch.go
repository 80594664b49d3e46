package edge

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// batchConn is the TCP connection under an HTTPS listener's HTTP/2 connection. net/http's
// HTTP/2 server flushes whenever its queue of frames runs dry, which under load is once
// or twice for every response: each flush a TLS record and a write system call, a third
// of the edge's CPU on small hits. batchConn gathers the records a connection writes
// while its streams are busy and sends them in one system call, as an event loop writes
// once per turn. The first record of a batch is sent as soon as its writer goroutine
// runs again after the others of that turn (runtime.Gosched): an idle connection waits
// for nothing, a busy one sends fewer, larger writes.
//
// A Write returns once its bytes are queued; a failed send is reported by the next
// Write and by Close. The queue is bounded: a writer waits while batchLimit bytes are
// unsent, as it would wait on the socket. Close sends what is queued (bounded by the
// write deadline, which crypto/tls sets before its close_notify) before closing.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	cond     sync.Cond // signalled when the sender has taken or sent a batch
	pending  []byte    // queued, not yet taken by the sender
	spare    []byte    // the buffer the sender last sent, reused for the next batch
	sending  bool      // the sender goroutine has work (or runs)
	err      error     // the first failed send
	closed   bool
	kick     chan struct{}
	stopped  chan struct{} // closed when the sender goroutine has returned
	batching atomic.Bool   // false: writes go straight to the connection
}

// batchLimit bounds the bytes a connection queues before its writers wait.
const batchLimit = 256 << 10

// closeSendLimit bounds how long Close waits for queued bytes to be sent.
const closeSendLimit = 5 * time.Second

// newBatchConn wraps c; until start, writes go straight to c.
func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	b.cond.L = &b.mu
	return b
}

// start begins batching writes (once the handshake chose HTTP/2): it starts the
// connection's sender goroutine, which Close stops. Call it once, before any
// concurrent Write.
func (b *batchConn) start() {
	b.batching.Store(true)
	go b.send()
}

func (b *batchConn) Write(p []byte) (int, error) {
	if !b.batching.Load() {
		return b.Conn.Write(p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && !b.closed && len(b.pending) >= batchLimit {
		b.cond.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	if !b.sending {
		b.sending = true
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// send is the connection's sender goroutine: it sends each batch, until Close.
func (b *batchConn) send() {
	defer close(b.stopped)
	for range b.kick {
		// Let the goroutines that are ready (the connection's other streams) queue
		// their records first; alone on the processor, this returns at once.
		runtime.Gosched()
		b.mu.Lock()
		for len(b.pending) > 0 && b.err == nil {
			batch := b.pending
			b.pending = b.spare[:0]
			b.cond.Broadcast()
			b.mu.Unlock()
			_, err := b.Conn.Write(batch)
			b.mu.Lock()
			if cap(batch) <= batchLimit*2 {
				b.spare = batch[:0]
			}
			if err != nil {
				b.err = err
			}
		}
		b.sending = false
		b.cond.Broadcast()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return
		}
	}
}

// Close sends what is queued, then closes the connection; it reports a failed send.
func (b *batchConn) Close() error {
	if !b.batching.Load() {
		return b.Conn.Close()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.closed = true
	b.cond.Broadcast()
	if b.sending {
		b.Conn.SetWriteDeadline(time.Now().Add(closeSendLimit)) // a peer that reads nothing
	}
	for b.sending {
		b.cond.Wait()
	}
	close(b.kick) // the sender, idle now, returns
	sendErr := b.err
	b.mu.Unlock()
	<-b.stopped
	if err := b.Conn.Close(); err != nil || sendErr == nil {
		return err
	}
	return sendErr
}
