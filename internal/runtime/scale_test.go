package runtime

import (
	"reflect"
	"testing"
	"time"
)

func TestPickPacksLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []load
		cc   int
		want int
	}{
		{"none", nil, 80, -1},
		{"starting only", []load{{ready: false}}, 80, -1},
		{"busiest with room", []load{{ready: true, inflight: 1}, {ready: true, inflight: 5}, {ready: true, inflight: 3}}, 80, 1},
		{"full ones skipped", []load{{ready: true, inflight: 2}, {ready: true, inflight: 1}}, 2, 1},
		{"all full", []load{{ready: true, inflight: 1}, {ready: true, inflight: 1}}, 1, -1},
	} {
		if got := pick(tc.in, tc.cc); got != tc.want {
			t.Errorf("%s: pick = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestToStart(t *testing.T) {
	busy := func(n, inflight int) []load {
		out := make([]load, n)
		for i := range out {
			out[i] = load{ready: true, inflight: inflight}
		}
		return out
	}
	for _, tc := range []struct {
		name                       string
		in                         []load
		waiting, cc, minS, maxS, w int
	}{
		{"cold start", nil, 1, 80, 0, 100, 1},
		{"min instances", nil, 0, 80, 3, 100, 3},
		{"room left", busy(1, 10), 5, 80, 0, 100, 0},
		{"one per request at concurrency 1", busy(2, 1), 3, 1, 0, 100, 3},
		{"capped by max", busy(2, 1), 10, 1, 0, 3, 1},
		{"at max", busy(3, 1), 10, 1, 0, 3, 0},
		{"starting counts", append(busy(1, 1), load{}), 1, 1, 0, 10, 0},
	} {
		if got := toStart(tc.in, tc.waiting, tc.cc, tc.minS, tc.maxS); got != tc.w {
			t.Errorf("%s: toStart = %d, want %d", tc.name, got, tc.w)
		}
	}
}

func TestIdleVictims(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	idle := time.Minute
	in := []load{
		{ready: true, lastActive: t0.Add(-30 * time.Second)},              // idle, not long enough
		{ready: true, lastActive: t0.Add(-2 * time.Minute)},               // idle longest
		{ready: true, inflight: 1, lastActive: t0.Add(-10 * time.Minute)}, // busy
		{ready: true, lastActive: t0.Add(-90 * time.Second)},              // idle
		{ready: false, lastActive: t0.Add(-time.Hour)},                    // starting
	}
	if got := idleVictims(in, t0, idle, 0); !reflect.DeepEqual(got, []int{1, 3}) {
		t.Errorf("min 0: %v", got)
	}
	if got := idleVictims(in, t0, idle, 4); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("min 4 keeps four of five: %v", got)
	}
	if got := idleVictims(in, t0, idle, 5); len(got) != 0 {
		t.Errorf("min 5: %v", got)
	}
	if got := idleVictims(in, t0.Add(-time.Hour), idle, 0); len(got) != 0 {
		t.Errorf("nothing idle yet: %v", got)
	}
}

func TestWRRIsExact(t *testing.T) {
	w := newWRR([]int64{90, 10, 0})
	counts := make([]int, 3)
	for range 1000 {
		counts[w.next()]++
	}
	if counts[0] != 900 || counts[1] != 100 || counts[2] != 0 {
		t.Errorf("counts %v", counts)
	}
	// Spread evenly: the 10% target is never picked twice in a row.
	w = newWRR([]int64{90, 10})
	prev := -1
	for range 200 {
		i := w.next()
		if i == 1 && prev == 1 {
			t.Fatal("10% target picked twice in a row")
		}
		prev = i
	}
	if newWRR([]int64{0}).next() != -1 || newWRR(nil).next() != -1 {
		t.Error("no weight must pick nothing")
	}
}
