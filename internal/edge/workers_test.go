package edge

import (
	"net/http"
	"sync"
	"testing"
)

// TestWorkers: tasks run to completion before do returns, on at most maxWorkers
// goroutines, a worker's panic is raised on the caller's goroutine (http.ErrAbortHandler
// stays what net/http sees), and once closed, tasks still run, on their callers.
func TestWorkers(t *testing.T) {
	w := newWorkers()
	ran := 0
	w.do(func() { ran++ })
	if ran != 1 {
		t.Fatalf("do returned before its task ran (%d)", ran)
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	hold := make(chan struct{})
	total := 0
	for range maxWorkers + 20 {
		wg.Go(func() {
			w.do(func() {
				<-hold
				mu.Lock()
				total++
				mu.Unlock()
			})
		})
	}
	close(hold)
	wg.Wait()
	if total != maxWorkers+20 {
		t.Errorf("%d tasks ran, want %d", total, maxWorkers+20)
	}
	w.mu.Lock()
	if w.n > maxWorkers {
		t.Errorf("%d workers, at most %d", w.n, maxWorkers)
	}
	w.mu.Unlock()

	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		w.do(func() { panic(http.ErrAbortHandler) })
		t.Error("do returned after its task panicked")
	}()
	w.do(func() { ran++ }) // the worker that recovered still works
	if ran != 2 {
		t.Errorf("a task after a panic did not run")
	}

	w.close()
	w.do(func() { ran++ })
	if ran != 3 {
		t.Errorf("a task after close did not run")
	}
}
