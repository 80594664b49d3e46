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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/internal/controlplane"
	"meridian/internal/edge"
	"meridian/internal/store"
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
	if os.Getenv(pinned) == "" {
		self, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		cmd := exec.Command("taskset", append([]string{"-c", "0", self}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), pinned+"=1", "GOMAXPROCS=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatal(err)
		}
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
	for _, tool := range []string{"nginx", "wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: apt-get install nginx-light wrk util-linux", tool)
		}
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
	meridian, stopEdge, err := startEdge(ctx, dir, originAddr)
	if err != nil {
		return err
	}
	defer stopEdge()
	nginx, stopNginx, err := startNginx(dir, originAddr)
	if err != nil {
		return err
	}
	defer stopNginx()
	servers := []struct{ name, addr string }{{"meridian", meridian}, {"nginx", nginx}}

	sizes := []int{1 << 10, 100 << 10, 1 << 20}
	for _, s := range servers {
		for _, size := range sizes {
			for range 2 { // fill, then a hit
				if err := get(s.addr, fmt.Sprintf("/obj/%d", size)); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
		}
	}
	type sample struct{ rps, p99 float64 }
	results := map[string]map[int][]sample{}
	for _, s := range servers {
		results[s.name] = map[int][]sample{}
	}
	for round := 1; round <= rounds; round++ {
		for _, size := range sizes {
			for _, s := range servers {
				profiling := cpuProfile != "" && s.name == "meridian" && size == sizes[0] && round == 1
				if profiling {
					f, err := os.Create(cpuProfile)
					if err != nil {
						return err
					}
					pprof.StartCPUProfile(f)
				}
				rps, p99, err := wrk(s.addr, fmt.Sprintf("/obj/%d", size), duration, conns)
				if profiling {
					pprof.StopCPUProfile()
				}
				if err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				results[s.name][size] = append(results[s.name][size], sample{rps, p99})
				fmt.Fprintf(os.Stderr, "round %d %7s %-8s %10.0f req/s  p99 %7.2f ms\n", round, label(size), s.name, rps, p99)
			}
		}
	}
	median := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	fmt.Printf("\ncache hits, median of %d interleaved rounds (wrk -t2 -c%d -d%s; servers on CPU 0, wrk on CPU 1)\n", rounds, conns, duration)
	fmt.Printf("| object | Meridian req/s | nginx req/s | ratio | Meridian p99 | nginx p99 | p99 ratio |\n|---|---|---|---|---|---|---|\n")
	for _, size := range sizes {
		m, n := results["meridian"][size], results["nginx"][size]
		mr, nr := median(m, func(s sample) float64 { return s.rps }), median(n, func(s sample) float64 { return s.rps })
		mp, np := median(m, func(s sample) float64 { return s.p99 }), median(n, func(s sample) float64 { return s.p99 })
		fmt.Printf("| %s | %.0f | %.0f | %.2f× | %.2f ms | %.2f ms | %.2f× |\n", label(size), mr, nr, mr/nr, mp, np, mp/np)
	}
	fmt.Printf("\nbursts of 200 concurrent misses of one new key (origin answers after 100 ms)\n| server | origin fetches per burst |\n|---|---|\n")
	for _, s := range servers {
		var counts []string
		for round := range rounds {
			path := fmt.Sprintf("/burst/%s-%d", s.name, round)
			if err := burst(s.addr, path, 200); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			counts = append(counts, strconv.Itoa(o.count(path)))
		}
		fmt.Printf("| %s | %s |\n", s.name, strings.Join(counts, ", "))
	}
	return nil
}

func label(size int) string {
	if size >= 1<<20 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}

func get(addr, path string) error {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
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

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99RE = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
)

// wrk runs wrk on CPU 1 and returns req/s and the 99th percentile latency in ms.
func wrk(addr, path string, d time.Duration, conns int) (float64, float64, error) {
	out, err := exec.Command("taskset", "-c", "1", "wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", "http://"+addr+path).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	m, p := rpsRE.FindSubmatch(out), p99RE.FindSubmatch(out)
	if m == nil || p == nil {
		return 0, 0, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	p99, _ := strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		p99 /= 1000
	case "s":
		p99 *= 1000
	}
	return rps, p99, nil
}

// startEdge runs Meridian's API and edge in this process on an embedded etcd, with a
// CDN-enabled backend service (USE_ORIGIN_HEADERS) in front of the origin.
func startEdge(ctx context.Context, dir, originAddr string) (string, func(), error) {
	etcd, err := store.StartEmbedded(ctx, filepath.Join(dir, "etcd"), "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	st, err := store.Dial([]string{etcd.Endpoint}, "/bench/")
	if err != nil {
		etcd.Close()
		return "", nil, err
	}
	apiSrv := httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())
	ctx, cancel := context.WithCancel(ctx)
	e := edge.New(st, edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0}, CacheSize: 512 << 20, ProbeInterval: time.Hour})
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- e.Run(ctx, func() { close(ready) }) }()
	<-ready
	stop := func() {
		cancel()
		<-done
		apiSrv.Close()
		st.Close()
		etcd.Close()
	}
	call := func(path string, body any) error {
		data, _ := json.Marshal(body)
		resp, err := http.Post(apiSrv.URL+"/compute/v1/projects/p/"+path, "application/json", strings.NewReader(string(data)))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			msg, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s: %s", path, msg)
		}
		return nil
	}
	host, port, _ := net.SplitHostPort(originAddr)
	portNum, _ := strconv.Atoi(port)
	for _, c := range []struct {
		path string
		body any
	}{
		{"global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"}},
		{"global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": portNum}}}},
		{"global/backendServices", map[string]any{"name": "web", "enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
			"backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}}},
		{"global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/web"}},
		{"global/targetHttpProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"}},
		{"global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"}},
	} {
		if err := call(c.path, c.body); err != nil {
			stop()
			return "", nil, err
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if addr := e.ListenAddresses()["127.0.0.1:80"]; addr != "" {
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("the edge did not listen")
		}
	}
}

// startNginx runs nginx (one worker, on this process's CPU) with proxy_cache and
// proxy_cache_lock (its request coalescing) in front of the origin.
func startNginx(dir, originAddr string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	prefix := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(prefix, "cache"), 0o755)
	conf := fmt.Sprintf(`user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=bench:64m max_size=1g inactive=1h use_temp_path=off;
  upstream origin { server %[2]s; keepalive 64; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      add_header Cache-Status $upstream_cache_status;
    }
  }
}
`, prefix, originAddr, addr)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("nginx", "-p", prefix, "-c", confPath, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("nginx did not listen")
		}
	}
}
