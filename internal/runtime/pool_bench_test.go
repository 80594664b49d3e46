package runtime

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAcquireRelease measures the activator's per-request cost: taking a slot on a
// ready instance and giving it back, from many goroutines at once.
func BenchmarkAcquireRelease(b *testing.B) {
	p := &pool{cfg: poolConfig{now: time.Now, changed: func() {}}, concurrency: 80, maxScale: 4, stopping: make(chan struct{})}
	for range 4 {
		p.members = append(p.members, &member{stop: make(chan struct{})})
		p.loads = append(p.loads, load{ready: true})
	}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m, err := p.acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.release(m)
		}
	})
}
