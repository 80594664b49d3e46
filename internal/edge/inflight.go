package edge

import (
	"context"
	"errors"
	"sync"
)

// errHostGone ends an attempt that waits on a host the edge has found gone.
var errHostGone = errors.New("the backend's host stopped answering")

// inflight holds the attempts that wait for a backend's response headers and could
// still move to another backend, by the address they wait on. A host that dies
// refuses nothing and answers nothing: a request written on a connection kept alive to
// it waits for the backend timeout (30 s by default), and coalesced cache misses wait
// with it. When a round-trip probe of the address fails (a fresh exchange with the
// host did not complete in its timeout), abandon ends those waits, and each attempt
// moves on to the next backend of its plan, as a refused one would.
type inflight struct {
	mu     sync.Mutex
	byAddr map[string]map[*waiter]struct{}
}

type waiter struct{ cancel context.CancelCauseFunc }

// wait registers an attempt to addr; the returned context ends when the address is
// abandoned, and done unregisters it (once its headers arrived or it failed).
func (in *inflight) wait(ctx context.Context, addr string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &waiter{cancel: cancel}
	in.mu.Lock()
	if in.byAddr == nil {
		in.byAddr = map[string]map[*waiter]struct{}{}
	}
	if in.byAddr[addr] == nil {
		in.byAddr[addr] = map[*waiter]struct{}{}
	}
	in.byAddr[addr][w] = struct{}{}
	in.mu.Unlock()
	return ctx, func() {
		in.mu.Lock()
		delete(in.byAddr[addr], w)
		if len(in.byAddr[addr]) == 0 {
			delete(in.byAddr, addr)
		}
		in.mu.Unlock()
	}
}

// abandon ends every registered wait on addr and returns how many it ended.
func (in *inflight) abandon(addr string) int {
	in.mu.Lock()
	ws := in.byAddr[addr]
	delete(in.byAddr, addr)
	in.mu.Unlock()
	for w := range ws {
		w.cancel(errHostGone)
	}
	return len(ws)
}
