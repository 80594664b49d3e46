package edge

import (
	"runtime"
	"sync"
	"time"
)

// workers run the handlers of HTTP/2 and HTTP/3 requests on goroutines that outlive a
// request. The HTTP/2 server (h2.go) and quic-go start a goroutine for every stream
// the general handler answers, on a small stack; a handler on the edge's path needs a
// larger one, and growing it (copying the stack twice or three times) was a tenth of
// an HTTP/2 request's CPU under net/http's server. A worker's stack stays
// grown from one request to the next. There are at most maxWorkers; beyond them, and
// once stopped, a handler runs on its stream's goroutine, as it would without workers.
type workers struct {
	tasks chan *task
	stop  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	n       int
	stopped bool
}

// maxWorkers bounds the workers, and so the memory their stacks hold.
const maxWorkers = 256

type task struct {
	run      func()
	done     chan struct{}
	panicked any // what run panicked with, raised again on the caller's goroutine
}

var taskPool = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

func newWorkers() *workers {
	return &workers{tasks: make(chan *task), stop: make(chan struct{})}
}

// do runs f on a worker and returns when it has returned; a panic in f is raised again
// here, so that net/http's handling of a handler's panic (http.ErrAbortHandler
// included) is unchanged.
func (w *workers) do(f func()) {
	t := taskPool.Get().(*task)
	t.run = f
	select {
	case w.tasks <- t: // an idle worker took it
	default:
		if !w.spawn() {
			t.run = nil
			taskPool.Put(t)
			f()
			return
		}
		select {
		case w.tasks <- t:
		case <-w.stop:
			t.run = nil
			taskPool.Put(t)
			f()
			return
		}
	}
	<-t.done
	p := t.panicked
	t.run, t.panicked = nil, nil
	taskPool.Put(t)
	if p != nil {
		panic(p)
	}
}

// spawn starts one more worker, unless there are maxWorkers or they are stopped.
func (w *workers) spawn() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.n >= maxWorkers {
		return false
	}
	w.n++
	w.wg.Add(1)
	go w.work()
	return true
}

func (w *workers) work() {
	defer w.wg.Done()
	for {
		select {
		case t := <-w.tasks:
			t.panicked = runTask(t.run)
			t.done <- struct{}{}
		case <-w.stop:
			return
		}
	}
}

// runTask runs f and returns what it panicked with.
func runTask(f func()) (panicked any) {
	defer func() { panicked = recover() }()
	f()
	return nil
}

// close stops the workers once they finish what they run; later tasks run on their
// callers' goroutines.
func (w *workers) close() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// fairness shares the processor among connections that the fast paths serve on
// their own goroutines. A connection whose client sends its next request before
// the last answer is out never waits in a read, and a goroutine that does not wait
// keeps the processor until the runtime preempts it (10 ms), while the connections
// the network poller has woken wait in line: with one processor and sixteen busy
// HTTP/2 connections, one request in a hundred waited 150 ms. turn, called between
// a connection's turns (before it reads again), yields once a connection has run
// for a slice without yielding.
type fairness struct{ last time.Time }

// fairSlice is how long a connection runs before it lets the others run.
const fairSlice = 500 * time.Microsecond

// waited says the connection has just waited for the network: its slice starts at
// its next turn.
func (f *fairness) waited() { f.last = time.Time{} }

func (f *fairness) turn() {
	now := time.Now()
	if f.last.IsZero() {
		f.last = now
		return
	}
	if now.Sub(f.last) >= fairSlice {
		runtime.Gosched()
		f.last = time.Now()
	}
}
