// Command cache compares Meridian's edge cache with nginx's proxy_cache on this
// machine: both in front of the same origin, each server pinned to CPU 0 (Meridian
// with GOMAXPROCS=1, nginx with one worker), wrk pinned to CPU 1. It measures cache
// hits of 1 KiB, 100 KiB and 1 MiB objects in interleaved rounds and prints req/s and
// p99 latency with Meridian/nginx ratios, then sends bursts of 200 concurrent misses
// of one new key to each and prints how many requests reached the origin. It is a
// benchmark: it prints numbers and asserts nothing.
//
// It needs nginx and wrk (apt-get install nginx-light wrk) and taskset.
//
//	go run ./bench/cache [-rounds 3] [-duration 5s] [-connections 64]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/bench/internal/harness"
)

const pinned = "MERIDIAN_BENCH_CACHE_PINNED"

var cpuProfile string

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds per object size")
	duration := flag.Duration("duration", 5*time.Second, "length of one wrk run")
	conns := flag.Int("connections", 64, "wrk connections")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of Meridian's 1 KiB hit runs to this file")
	flag.Parse()
	// Run the servers on CPU 0 with one Go processor, like nginx's single worker.
	if !harness.Pin(pinned) {
		return
	}
	if err := run(*rounds, *duration, *conns); err != nil {
		log.Fatal(err)
	}
}

// origin serves /obj/N (N bytes, cacheable for an hour) and /burst/K (1 KiB after
// 100 ms, so that a burst of misses overlaps), counting the requests per path.
type origin struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.counts[r.URL.Path]++
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Type", "application/octet-stream")
	size := 1024
	if n, ok := strings.CutPrefix(r.URL.Path, "/obj/"); ok {
		size, _ = strconv.Atoi(n)
	} else {
		time.Sleep(100 * time.Millisecond)
	}
	w.Header().Set("ETag", `"`+strconv.Itoa(size)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.Write(make([]byte, size))
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

func run(rounds int, duration time.Duration, conns int) error {
	if err := harness.Need("nginx", "wrk", "taskset"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "meridian-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o := &origin{counts: map[string]int{}}
	originSrv := httptest.NewServer(o)
	defer originSrv.Close()
	originAddr := originSrv.Listener.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	meridian, stopEdge, err := harness.StartEdge(ctx, dir, originAddr, 512<<20)
	if err != nil {
		return err
	}
	defer stopEdge()
	nginx, stopNginx, err := harness.StartNginx(dir, originAddr, harness.NginxCache)
	if err != nil {
		return err
	}
	defer stopNginx()
	servers := []harness.Server{{Name: "meridian", Addr: meridian}, {Name: "nginx", Addr: nginx}}

	var loads []harness.Load
	for _, size := range []int{1 << 10, 100 << 10, 1 << 20} {
		loads = append(loads, harness.Load{Label: label(size), Path: fmt.Sprintf("/obj/%d", size)})
	}
	for _, s := range servers {
		for _, l := range loads {
			for range 2 { // fill, then a hit
				if err := harness.Get(s.Addr, l.Path); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
		}
	}
	var profileErr error
	results, err := harness.Rounds(servers, loads, rounds, duration, conns, func(round int, l harness.Load, s harness.Server, run func()) {
		if cpuProfile == "" || s.Name != "meridian" || l.Label != loads[0].Label || round != 1 {
			run()
			return
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			profileErr = err
			run()
			return
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		run()
		pprof.StopCPUProfile()
	})
	if err != nil {
		return err
	}
	if profileErr != nil {
		return profileErr
	}
	fmt.Printf("\ncache hits, median of %d interleaved rounds (wrk -t2 -c%d -d%s; servers on CPU 0, wrk on CPU 1)\n", rounds, conns, duration)
	harness.PrintMedians(servers[0], servers[1], loads, results)
	fmt.Printf("\nbursts of 200 concurrent misses of one new key (origin answers after 100 ms)\n| server | origin fetches per burst |\n|---|---|\n")
	for _, s := range servers {
		var counts []string
		for round := range rounds {
			path := fmt.Sprintf("/burst/%s-%d", s.Name, round)
			if err := burst(s.Addr, path, 200); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			counts = append(counts, strconv.Itoa(o.count(path)))
		}
		fmt.Printf("| %s | %s |\n", s.Name, strings.Join(counts, ", "))
	}
	return nil
}

func label(size int) string {
	if size >= 1<<20 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}

// burst sends n concurrent GETs of path at once.
func burst(addr, path string, n int) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Get("http://" + addr + path)
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d burst requests failed", f, n)
	}
	return nil
}
