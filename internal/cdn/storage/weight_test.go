package storage

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// typicalEntry is a stored response as a fill makes one: an origin's header, a body of
// n bytes in an array of its own length, the invalidation fields, and the rendered
// header block the edge memoizes on its first hit.
func typicalEntry(i, n int) (string, *Entry) {
	h := http.Header{
		"Cache-Control":  {"public, max-age=3600"},
		"Content-Type":   {"application/octet-stream"},
		"Content-Length": {strconv.Itoa(n)},
		"Etag":           {`"` + strconv.Itoa(i) + `-abcdef"`},
		"Date":           {"Thu, 03 Dec 2026 19:54:07 GMT"},
		"Last-Modified":  {"Wed, 02 Dec 2026 10:00:00 GMT"},
		"Server":         {"origin/1.0"},
	}
	key := fmt.Sprintf("http://www.example.com/static/assets/object-%d.bin", i)
	e := &Entry{Status: 200, Header: h, Body: make([]byte, n), RequestTime: time.Now(), ResponseTime: time.Now(), TTL: time.Hour,
		Stored: time.Now(), Service: "projects/p/global/backendServices/web", Host: "www.example.com", Path: key[len("http://www.example.com"):], Memo: &Memo{}}
	e.Memo.StorePair(i, make([]byte, 0, 512), make([]byte, 0, 320)) // the edge's HTTP/1.1 and HTTP/2 hit heads
	return key, e
}

// TestWeightCoversTheHeap: the budget counts what entries really take on the heap:
// bodies with the allocator's rounding, headers, keys, the entry, the memoized header
// block and the cache's own bookkeeping. For small objects that overhead is most of
// the memory; an undercount lets the process outgrow --cache-size.
func TestWeightCoversTheHeap(t *testing.T) {
	for _, size := range []int{100, 1 << 10, 10 << 10, 100<<10 + 1} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			const n = 2000
			s := New(1 << 40)
			keys := make([]string, n)
			entries := make([]*Entry, n)
			for i := range n {
				keys[i], entries[i] = typicalEntry(i, size)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var weights uint64
			for i := range n {
				s.Set(keys[i], entries[i])
				weights += uint64(weight(keys[i], entries[i]))
			}
			// What the entries take is measured by dropping them: the heap they free.
			keys, entries = nil, nil
			runtime.GC()
			runtime.ReadMemStats(&after)
			s.c.InvalidateAll()
			s.c.CleanUp()
			runtime.GC()
			var freed runtime.MemStats
			runtime.ReadMemStats(&freed)
			heap := float64(after.HeapAlloc) - float64(freed.HeapAlloc)
			ratio := float64(weights) / heap
			t.Logf("%d entries of %d B: weights %d, heap %.0f, weight/heap %.2f", n, size, weights, heap, ratio)
			if ratio < 0.95 || ratio > 1.25 {
				t.Errorf("entries of %d B weigh %.2f× the heap they take, want 0.95–1.25", size, ratio)
			}
			runtime.KeepAlive(s)
		})
	}
}
