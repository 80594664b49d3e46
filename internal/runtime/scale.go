package runtime

import "time"

// The autoscaling policy is pure: it sees the instances' load and ages and says what to
// do, so it is tested with made-up times. The pool (pool.go) applies its answers.

// load is what the policy knows of one instance.
type load struct {
	ready      bool      // listening; a starting instance is not ready
	inflight   int       // requests it is serving
	lastActive time.Time // when it last finished a request (or became ready)
}

// pick chooses the ready instance a new request goes to: the busiest one that still has
// a free slot under the concurrency limit, so that load packs onto few instances and the
// rest go idle and can be scaled down. It returns -1 when every ready instance is full.
func pick(instances []load, concurrency int) int {
	best := -1
	for i, in := range instances {
		if !in.ready || in.inflight >= concurrency {
			continue
		}
		if best < 0 || in.inflight > instances[best].inflight {
			best = i
		}
	}
	return best
}

// toStart is how many instances to start so that every in-flight and waiting request
// has a slot (instances still starting count as capacity), within maxScale, and at
// least minScale run.
func toStart(instances []load, waiting, concurrency, minScale, maxScale int) int {
	demand := waiting
	for _, in := range instances {
		demand += in.inflight
	}
	need := (demand + concurrency - 1) / concurrency
	need = max(need, minScale)
	need = min(need, maxScale)
	return max(need-len(instances), 0)
}

// idleVictims returns the instances to stop: ready instances with nothing in flight
// that have been idle for at least idle, longest idle first, keeping minScale running.
func idleVictims(instances []load, now time.Time, idle time.Duration, minScale int) []int {
	var victims []int
	for i, in := range instances {
		if in.ready && in.inflight == 0 && now.Sub(in.lastActive) >= idle {
			victims = append(victims, i)
		}
	}
	// Longest idle first (insertion sort: pools are small).
	for i := 1; i < len(victims); i++ {
		for j := i; j > 0 && instances[victims[j]].lastActive.Before(instances[victims[j-1]].lastActive); j-- {
			victims[j], victims[j-1] = victims[j-1], victims[j]
		}
	}
	if keep := len(instances) - minScale; len(victims) > keep {
		victims = victims[:max(keep, 0)]
	}
	return victims
}

// wrr is a smooth weighted round robin (as nginx balances upstreams): over any run of
// sum(weights) picks each target is chosen exactly its weight's times, spread evenly, so
// a 90/10 split is exact rather than approximately random.
type wrr struct {
	weights []int64
	current []int64
}

func newWRR(weights []int64) *wrr {
	return &wrr{weights: weights, current: make([]int64, len(weights))}
}

// next returns the index of the next target, or -1 when every weight is zero.
func (w *wrr) next() int {
	total, best := int64(0), -1
	for i, wt := range w.weights {
		if wt <= 0 {
			continue
		}
		w.current[i] += wt
		total += wt
		if best < 0 || w.current[i] > w.current[best] {
			best = i
		}
	}
	if best >= 0 {
		w.current[best] -= total
	}
	return best
}
