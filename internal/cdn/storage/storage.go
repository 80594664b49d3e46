// Package storage is the edge cache's memory tier: entries under a byte budget, with
// W-TinyLFU admission and eviction (otter), so that an object seen once does not push
// out popular ones, and eviction that is independent of freshness: an expired entry
// stays (to be revalidated) until it is evicted for room or goes unused for 30 days.
package storage

import (
	"iter"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// IdleEviction is how long an entry nobody reads is kept (Cloud CDN: 30 days).
const IdleEviction = 30 * 24 * time.Hour

// Entry is one stored response, or a marker that a URL's responses vary.
type Entry struct {
	Status int
	Header http.Header // end-to-end headers as received (plus what validation updated)
	Body   []byte      `json:"-"`
	// RequestTime and ResponseTime bracket the exchange that produced (or last
	// validated) the entry, for its age (RFC 9111 4.2.3).
	RequestTime, ResponseTime time.Time
	// InitialAge is the response's corrected initial age at ResponseTime.
	InitialAge time.Duration
	// TTL is the freshness lifetime the cache uses; the rest say how it may be served.
	TTL                  time.Duration
	NoCache, NoStale     bool
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	ClientCacheControl   string
	// Vary, on a marker entry (Body nil, Status 0), lists the request headers that
	// select a variant; the variants are stored under their secondary keys.
	Vary []string
	// Stored is when the entry was written.
	Stored time.Time
	// Ranged marks an object filled in chunks (its origin serves byte ranges): the
	// entry holds its headers (Body nil) and Size, its complete length; the chunks are
	// entries of their own, 206 responses to the cache's range requests.
	Ranged bool
	Size   int64
	// What invalidation rules match on: the backend service, the client's host and
	// path (before any rewrite), and the origin's Cache-Tag values. Gen is the cache's
	// invalidation generation when the fill began: a rule applies to entries whose
	// fill began before the cache knew the rule.
	Service, Host, Path string
	Tags                []string
	Gen                 int64
	// Memo keeps what a reader derives from the entry once (the edge's rendered
	// header block for hits); nil for entries made by copying another.
	Memo *Memo `json:"-"`

	// BodyLen and BodyCRC (CRC-32C) are the body's, on the disk tier's copy.
	BodyLen int64  `json:",omitempty"`
	BodyCRC uint32 `json:",omitempty"`

	diskSize int64 // the length of its file, on the disk tier's copy
}

// Memo is a value derived from an entry, for one key (what the derivation depended
// on); a reader with another key derives and stores again.
type Memo struct{ p atomic.Pointer[MemoValue] }

// MemoValue is a memo's content: a value and, when the reader derives two forms of
// it at once (the edge's HTTP/1.1 and HTTP/2 header blocks), another.
type MemoValue struct {
	Key        any
	Value, Alt []byte
}

// Load returns the memo's value for key, or nil.
func (m *Memo) Load(key any) []byte {
	v, _ := m.LoadPair(key)
	return v
}

// LoadPair returns the memo's value and other value for key, or nils.
func (m *Memo) LoadPair(key any) (value, alt []byte) {
	if m == nil {
		return nil, nil
	}
	if v := m.p.Load(); v != nil && v.Key == key {
		return v.Value, v.Alt
	}
	return nil, nil
}

// Store replaces the memo's value.
func (m *Memo) Store(key any, value []byte) { m.StorePair(key, value, nil) }

// StorePair replaces the memo's value and other value.
func (m *Memo) StorePair(key any, value, alt []byte) {
	if m != nil {
		m.p.Store(&MemoValue{Key: key, Value: value, Alt: alt})
	}
}

// Age is the entry's current age at now.
func (e *Entry) Age(now time.Time) time.Duration {
	return e.InitialAge + max(0, now.Sub(e.ResponseTime))
}

// IsVaryMarker reports whether the entry only says the URL's responses vary.
func (e *Entry) IsVaryMarker() bool { return e.Status == 0 && len(e.Vary) > 0 }

// weight is an entry's share of the budget: what it takes on the heap, measured by
// TestWeightCoversTheHeap. Its body with the allocator's rounding, its key and
// header fields, and a fixed part for the entry itself, the header blocks the edge
// renders for its hits (HTTP/1.1 and HTTP/2), and the cache's bookkeeping.
func weight(key string, e *Entry) uint32 {
	n := entryOverhead + len(key) + allocSize(cap(e.Body))
	for k, vs := range e.Header {
		n += len(k) + fieldOverhead
		for _, v := range vs {
			n += len(v) + valueOverhead
		}
	}
	for _, t := range e.Tags {
		n += len(t) + valueOverhead
	}
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}

// The parts of weight not proportional to an entry's bytes.
const (
	entryOverhead = 1216
	fieldOverhead = 48
	valueOverhead = 32
)

// allocSize is about what the Go allocator takes for n bytes: a large object is
// rounded up to whole 8 KiB pages, a small one to a size class (a sixteenth more on
// average, an eighth at most).
func allocSize(n int) int {
	if n > 32<<10 {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	return n + n/16
}

// Store is the memory tier. It is safe for concurrent use.
type Store struct {
	c    *otter.Cache[string, *Entry]
	disk *Disk // nil without a disk tier
	// seen remembers large objects offered once: a large object is stored on its
	// second fill only, so one pass over a big file cannot flush popular content.
	seen  *otter.Cache[string, struct{}]
	large int
}

// New returns a store holding at most maxBytes of entries. Objects larger than 1/32
// of the budget are admitted on their second offer.
func New(maxBytes uint64) *Store {
	return &Store{
		c: otter.Must(&otter.Options[string, *Entry]{
			MaximumWeight:    max(maxBytes, 1),
			Weigher:          weight,
			ExpiryCalculator: otter.ExpiryAccessing[string, *Entry](IdleEviction),
		}),
		seen:  otter.Must(&otter.Options[string, struct{}]{MaximumSize: 10000, ExpiryCalculator: otter.ExpiryWriting[string, struct{}](time.Hour)}),
		large: int(min(maxBytes/32, 1<<31)),
	}
}

// UseDisk puts a disk tier behind the memory tier: every entry stored is written to
// it, and an entry not in memory is read from it (and offered to memory). Call it
// before the store is used.
func (s *Store) UseDisk(d *Disk) { s.disk = d }

// Disk is the store's disk tier, or nil.
func (s *Store) Disk() *Disk { return s.disk }

// Get returns the entry under key, from memory or the disk tier.
func (s *Store) Get(key string) (*Entry, bool) {
	if e, ok := s.c.GetIfPresent(key); ok || s.disk == nil {
		return e, ok
	}
	e, it, ok := s.disk.get(key)
	if !ok {
		return nil, false
	}
	if s.admit(key, e) && !s.disk.holds(key, it) {
		// Replaced or removed (invalidated) on disk while it was read: the copy
		// offered to memory must not outlive it.
		s.c.ComputeIfPresent(key, func(cur *Entry) (*Entry, otter.ComputeOp) {
			if cur == e {
				return nil, otter.InvalidateOp
			}
			return cur, otter.CancelOp
		})
	}
	return e, true
}

// Peek returns the entry under key without reading a body from disk (a disk-only
// entry comes without its body) and without counting as a use.
func (s *Store) Peek(key string) (*Entry, bool) {
	if e, ok := s.c.GetEntryQuietly(key); ok {
		return e.Value, true
	}
	if s.disk == nil {
		return nil, false
	}
	if it, ok := s.disk.idx.GetEntryQuietly(key); ok {
		return it.Value.meta, true
	}
	return nil, false
}

// Set offers an entry; it reports false when the store declines it: a large object on
// its first offer, without a disk tier that takes it. The frequency-aware policy may
// also evict it soon in favour of popular entries.
func (s *Store) Set(key string, e *Entry) bool {
	stored := s.admit(key, e)
	if s.disk != nil {
		if s.disk.Set(key, e) == nil {
			return true
		}
		s.disk.Delete(key) // an older copy must not outlive this one
	}
	return stored
}

// admit offers an entry to the memory tier.
func (s *Store) admit(key string, e *Entry) bool {
	if len(e.Body) > s.large {
		if _, again := s.seen.GetIfPresent(key); !again {
			s.seen.Set(key, struct{}{})
			s.c.Invalidate(key) // an older copy must not outlive this one
			return false
		}
		s.seen.Invalidate(key)
	}
	s.c.Set(key, e)
	return true
}

// All iterates over the stored entries: memory's, then the disk tier's not in memory
// (those without their bodies). It is weakly consistent: an entry stored before the
// iteration began and not replaced is visited.
func (s *Store) All() iter.Seq2[string, *Entry] {
	return func(yield func(string, *Entry) bool) {
		for k, e := range s.c.All() {
			if !yield(k, e) {
				return
			}
		}
		if s.disk == nil {
			return
		}
		for k, it := range s.disk.idx.All() {
			if _, inMemory := s.c.GetIfPresent(k); inMemory {
				continue
			}
			if !yield(k, it.meta) {
				return
			}
		}
	}
}

// Update replaces the entry under key with what f returns for it, or removes it when f
// returns nil; f sees the current entry and runs atomically with other writes of key,
// and its false answer leaves the entry alone.
func (s *Store) Update(key string, f func(*Entry) (*Entry, bool)) {
	var seen, changed bool
	var next *Entry
	s.c.ComputeIfPresent(key, func(old *Entry) (*Entry, otter.ComputeOp) {
		e, change := f(old)
		seen, changed, next = true, change, e
		switch {
		case !change:
			return old, otter.CancelOp
		case e == nil:
			return nil, otter.InvalidateOp
		}
		return e, otter.WriteOp
	})
	if s.disk == nil {
		return
	}
	if !seen {
		// Only on disk: f sees the disk's copy.
		old, ok := s.disk.Get(key)
		if !ok {
			return
		}
		next, changed = f(old)
	}
	switch {
	case !changed:
	case next == nil:
		s.disk.Delete(key)
	default:
		if s.disk.Set(key, next) != nil {
			s.disk.Delete(key)
		}
	}
}

// Delete removes an entry.
func (s *Store) Delete(key string) {
	s.c.Invalidate(key)
	if s.disk != nil {
		s.disk.Delete(key)
	}
}

// Len and Bytes report what the memory tier holds, once its pending maintenance
// (evictions) is done.
func (s *Store) Len() int {
	s.c.CleanUp()
	return s.c.EstimatedSize()
}

func (s *Store) Bytes() uint64 {
	s.c.CleanUp()
	return s.c.WeightedSize()
}

// Close stops the store's background work.
func (s *Store) Close() {
	s.c.StopAllGoroutines()
	s.seen.StopAllGoroutines()
	if s.disk != nil {
		s.disk.Close()
	}
}
