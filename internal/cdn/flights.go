package cdn

import "sync"

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
