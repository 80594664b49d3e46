package storage

import (
	"fmt"
	"testing"
)

func TestByteBudget(t *testing.T) {
	s := New(1 << 20)
	defer s.Close()
	for i := range 1000 {
		s.Set(fmt.Sprint("k", i), &Entry{Status: 200, Body: make([]byte, 4096)})
	}
	s.c.CleanUp()
	if s.Bytes() > 1<<20 {
		t.Errorf("store holds %d bytes over a budget of %d", s.Bytes(), 1<<20)
	}
	if s.Len() == 0 {
		t.Error("store holds nothing")
	}
}

// A large object seen once does not evict the popular ones (frequency-aware admission;
// Cloud CDN declines to insert large content on its first access).
func TestLargeObjectSeenOnceDoesNotEvictPopular(t *testing.T) {
	s := New(1 << 20)
	defer s.Close()
	for i := range 100 {
		s.Set(fmt.Sprint("popular", i), &Entry{Status: 200, Body: make([]byte, 5000)})
	}
	for range 20 {
		for i := range 100 {
			s.Get(fmt.Sprint("popular", i))
		}
	}
	s.c.CleanUp()
	if s.Set("huge", &Entry{Status: 200, Body: make([]byte, 900<<10)}) {
		t.Error("a large object was admitted on its first offer")
	}
	s.c.CleanUp()
	kept := 0
	for i := range 100 {
		if _, ok := s.Get(fmt.Sprint("popular", i)); ok {
			kept++
		}
	}
	if kept < 95 {
		t.Errorf("only %d of 100 popular entries survived one large insert", kept)
	}
}

func TestLargeObjectAdmittedOnSecondOffer(t *testing.T) {
	s := New(1 << 20)
	defer s.Close()
	big := &Entry{Status: 200, Body: make([]byte, 100<<10)}
	if s.Set("big", big) {
		t.Fatal("admitted on the first offer")
	}
	if !s.Set("big", big) {
		t.Fatal("declined on the second offer")
	}
	if _, ok := s.Get("big"); !ok {
		t.Error("not stored")
	}
	if !s.Set("small", &Entry{Status: 200, Body: make([]byte, 100)}) {
		t.Error("a small object must be admitted at once")
	}
}
