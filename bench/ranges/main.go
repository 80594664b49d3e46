// Command ranges compares Meridian's byte-range caching with nginx's slice module
// (slice 2m, each slice cached as its own 206) on this machine: both in front of one
// origin serving a large object with ranges, servers on CPU 0, wrk on CPU 1.
//
// It prints, for each server: the origin bytes and requests that the reference's
// example (bytes 1,000,000-3,999,999 of a cold object, asked three times) costs; the
// time and origin bytes of three whole downloads of a cold object; and req/s and p99 of
// range hits (1 KiB and 1,000,000 bytes) with Meridian/nginx ratios. It is a benchmark:
// it prints numbers and asserts nothing.
//
//	go run ./bench/ranges [-size 64MiB] [-rounds 3] [-duration 5s]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"meridian/bench/internal/harness"
)

const pinned = "MERIDIAN_BENCH_RANGES_PINNED"

// nginxSlice caches a large object in 2 MiB slices, each under its own key.
const nginxSlice = `slice 2m;
      proxy_cache bench;
      proxy_cache_key $uri$is_args$args$slice_range;
      proxy_set_header Range $slice_range;
      proxy_cache_valid 200 206 1h;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;`

func main() {
	size := flag.Int("size", 64<<20, "the object's size in bytes")
	rounds := flag.Int("rounds", 3, "interleaved wrk rounds per range")
	duration := flag.Duration("duration", 5*time.Second, "length of one wrk run")
	conns := flag.Int("connections", 32, "wrk connections")
	flag.Parse()
	if !harness.Pin(pinned) {
		return
	}
	if err := run(*size, *rounds, *duration, *conns); err != nil {
		log.Fatal(err)
	}
}

// origin serves one object under every path, with ranges, counting requests and body
// bytes per path.
type origin struct {
	object []byte
	mu     sync.Mutex
	reqs   map[string]int
	bytes  map[string]int64
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("ETag", `"object-1"`)
	w.Header().Set("Content-Type", "video/mp4")
	cw := &counting{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(o.object))
	o.mu.Lock()
	o.reqs[r.URL.Path]++
	o.bytes[r.URL.Path] += cw.n
	o.mu.Unlock()
}

func (o *origin) take(path string) (int, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, b := o.reqs[path], o.bytes[path]
	delete(o.reqs, path)
	delete(o.bytes, path)
	return n, b
}

type counting struct {
	http.ResponseWriter
	n int64
}

func (c *counting) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func run(size, rounds int, duration time.Duration, conns int) error {
	if err := harness.Need("nginx", "wrk", "taskset"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "meridian-bench-ranges-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o := &origin{object: make([]byte, size), reqs: map[string]int{}, bytes: map[string]int64{}}
	for i := range o.object {
		o.object[i] = byte(i*31 + i>>9)
	}
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
	nginx, stopNginx, err := harness.StartNginx(dir, originAddr, nginxSlice)
	if err != nil {
		return err
	}
	defer stopNginx()
	servers := []harness.Server{{Name: "meridian", Addr: meridian}, {Name: "nginx", Addr: nginx}}

	fmt.Printf("the reference's example: bytes=1000000-3999999 of a cold %d-byte object, three times\n", size)
	fmt.Printf("| server | request | origin requests | origin bytes |\n|---|---|---|---|\n")
	for _, s := range servers {
		path := "/example-" + s.Name
		for i := 1; i <= 3; i++ {
			if err := harness.Get(s.Addr, path, "Range", "bytes=1000000-3999999"); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			n, b := o.take(path)
			fmt.Printf("| %s | %d | %d | %d |\n", s.Name, i, n, b)
		}
	}

	fmt.Printf("\nwhole downloads of a cold %d-byte object, three times\n", size)
	fmt.Printf("| server | download | time | MB/s | origin requests | origin bytes |\n|---|---|---|---|---|---|\n")
	for _, s := range servers {
		path := "/whole-" + s.Name
		for i := 1; i <= 3; i++ {
			start := time.Now()
			if err := harness.Get(s.Addr, path); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			d := time.Since(start)
			n, b := o.take(path)
			fmt.Printf("| %s | %d | %.1f ms | %.0f | %d | %d |\n", s.Name, i, float64(d.Microseconds())/1000, float64(size)/d.Seconds()/1e6, n, b)
		}
	}

	var loads []harness.Load
	for _, rng := range []string{"0-1023", "1000000-1999999"} {
		loads = append(loads, harness.Load{Label: rng, Path: "/hot", Headers: []string{"Range: bytes=" + rng}})
	}
	for _, s := range servers {
		// Meridian: the first range marks the key, the second fills its chunk, the
		// third hits; nginx: the first fills the slice.
		for _, l := range loads {
			for range 3 {
				if err := harness.Get(s.Addr, l.Path, "Range", "bytes="+l.Label); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
		}
	}
	results, err := harness.Rounds(servers, loads, rounds, duration, conns, nil)
	if err != nil {
		return err
	}
	fmt.Printf("\nrange hits, median of %d interleaved rounds (wrk -t2 -c%d -d%s; servers on CPU 0, wrk on CPU 1)\n", rounds, conns, duration)
	harness.PrintMedians(servers[0], servers[1], loads, results)
	hot, hotBytes := o.take("/hot")
	fmt.Printf("\norigin requests for /hot over the whole run: %d (%d bytes)\n", hot, hotBytes)
	return nil
}
