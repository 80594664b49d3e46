package storage

import (
	"container/list"
	"fmt"
	"math/rand"
	"testing"
)

// lru is plain LRU under a byte budget, the baseline the admission policy must beat.
type lru struct {
	budget, used int
	order        *list.List
	items        map[string]*list.Element
}

type lruItem struct {
	key  string
	size int
}

func newLRU(budget int) *lru {
	return &lru{budget: budget, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) bool {
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return true
	}
	return false
}

func (c *lru) set(key string, size int) {
	c.items[key] = c.order.PushFront(&lruItem{key, size})
	c.used += size
	for c.used > c.budget {
		el := c.order.Back()
		it := el.Value.(*lruItem)
		c.order.Remove(el)
		delete(c.items, it.key)
		c.used -= it.size
	}
}

// zipfTrace is a seeded trace of keys with Zipf popularity over many more objects than
// fit in the cache; sizes vary from 1 to 16 KiB by key.
func zipfTrace(n int) ([]string, map[string]int) {
	r := rand.New(rand.NewSource(1))
	z := rand.NewZipf(r, 1.1, 1, 100000)
	keys := make([]string, n)
	sizes := map[string]int{}
	for i := range keys {
		k := z.Uint64()
		keys[i] = fmt.Sprint("obj", k)
		sizes[keys[i]] = 1024 * (1 + int(k*2654435761%16))
	}
	return keys, sizes
}

func hitRatios(n, budget int) (store, plain float64) {
	keys, sizes := zipfTrace(n)
	s := New(uint64(budget))
	defer s.Close()
	l := newLRU(budget)
	var hs, hl int
	for _, k := range keys {
		if _, ok := s.Get(k); ok {
			hs++
		} else {
			s.Set(k, &Entry{Status: 200, Body: make([]byte, sizes[k]-256)})
		}
		if l.get(k) {
			hl++
		} else {
			l.set(k, sizes[k])
		}
	}
	return float64(hs) / float64(n), float64(hl) / float64(n)
}

// TestAdmissionBeatsLRU replays a Zipf trace larger than the cache: the frequency-aware
// store hits more often than plain LRU under the same byte budget.
func TestAdmissionBeatsLRU(t *testing.T) {
	store, plain := hitRatios(200000, 8<<20)
	t.Logf("hit ratio: store %.3f, LRU %.3f", store, plain)
	if store <= plain {
		t.Errorf("the admission policy (%.3f) does not beat LRU (%.3f)", store, plain)
	}
}

func BenchmarkZipfHitRatio(b *testing.B) {
	for range b.N {
		store, plain := hitRatios(200000, 8<<20)
		b.ReportMetric(store, "hit-ratio")
		b.ReportMetric(plain, "lru-hit-ratio")
	}
}
