package edge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordingConn records the writes it is given; release, when set, holds each write
// until it can receive.
type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	writes  [][]byte
	got     bytes.Buffer
	fail    error
	entered chan struct{} // a write began (buffered)
	release chan struct{}
	closed  atomic.Bool
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.entered != nil {
		select {
		case c.entered <- struct{}{}:
		default:
		}
	}
	if c.release != nil {
		<-c.release
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	c.got.Write(p)
	return len(p), nil
}

func (c *recordingConn) Close() error                       { c.closed.Store(true); return nil }
func (c *recordingConn) SetWriteDeadline(t time.Time) error { return nil }

// TestBatchConnKeepsOrder: writers on many goroutines each see their own writes arrive
// whole and in order, nothing is lost, Close sends what is queued, and fewer sends
// than writes reach the connection.
func TestBatchConnKeepsOrder(t *testing.T) {
	rc := &recordingConn{}
	b := newBatchConn(rc)
	if _, err := b.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 {
		t.Fatalf("a write before start was not passed straight through: %d writes", len(rc.writes))
	}
	b.start()
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var rec [9]byte
				rec[0] = byte(w)
				binary.BigEndian.PutUint64(rec[1:], uint64(i))
				if _, err := b.Write(rec[:]); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !rc.closed.Load() {
		t.Error("the connection was not closed")
	}
	got := rc.got.Bytes()[len("before"):]
	if len(got) != writers*each*9 {
		t.Fatalf("%d bytes arrived, want %d", len(got), writers*each*9)
	}
	next := make([]uint64, writers)
	for ; len(got) > 0; got = got[9:] {
		w, i := got[0], binary.BigEndian.Uint64(got[1:9])
		if i != next[w] {
			t.Fatalf("writer %d: record %d arrived where %d was due", w, i, next[w])
		}
		next[w]++
	}
	if sends := len(rc.writes) - 1; sends >= writers*each {
		t.Errorf("%d sends for %d writes: nothing was batched", sends, writers*each)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a write after Close: %v, want net.ErrClosed", err)
	}
}

// TestBatchConnReportsAFailedSend: a send that fails is reported by the next Write
// and by Close.
func TestBatchConnReportsAFailedSend(t *testing.T) {
	rc := &recordingConn{fail: io.ErrClosedPipe}
	b := newBatchConn(rc)
	b.start()
	if _, err := b.Write([]byte("queued")); err != nil {
		t.Fatalf("the first write is only queued: %v", err)
	}
	if err := b.Close(); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Close: %v, want the failed send's error", err)
	}

	rc = &recordingConn{fail: io.ErrClosedPipe, entered: make(chan struct{}, 1), release: make(chan struct{})}
	b = newBatchConn(rc)
	b.start()
	b.Write([]byte("queued"))
	<-rc.entered
	close(rc.release) // the send fails
	var err error
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); runtime.Gosched() {
		_, err = b.Write([]byte("more"))
	}
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writes after a failed send: %v, want its error", err)
	}
	b.Close()
}

// TestBatchConnBoundsWhatItQueues: while the peer takes nothing, writers queue at
// most batchLimit bytes beyond the batch being sent, and then wait.
func TestBatchConnBoundsWhatItQueues(t *testing.T) {
	rc := &recordingConn{entered: make(chan struct{}, 1), release: make(chan struct{})}
	b := newBatchConn(rc)
	b.start()
	chunk := bytes.Repeat([]byte{'a'}, 16<<10)
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 4 * batchLimit / len(chunk) {
			if _, err := b.Write(chunk); err != nil {
				t.Error(err)
				return
			}
			accepted.Add(int64(len(chunk)))
		}
	}()
	<-rc.entered // the first batch is being sent and will not finish
	full := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.pending) >= batchLimit
	}
	for deadline := time.Now().Add(10 * time.Second); !full(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the queue never filled")
		}
	}
	if a := accepted.Load(); a > int64(2*(batchLimit+len(chunk))) {
		t.Errorf("%d bytes accepted while the peer took nothing, want at most about %d", a, 2*batchLimit)
	}
	close(rc.release)
	<-done
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if rc.got.Len() != 4*batchLimit {
		t.Errorf("%d bytes sent, want %d", rc.got.Len(), 4*batchLimit)
	}
}
