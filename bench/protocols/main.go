// Command protocols measures Meridian's edge serving the same cache hits over HTTPS
// with HTTP/1.1, HTTP/2 and HTTP/3: the edge (an HTTPS forwarding rule with a
// CDN-enabled backend service, request logging off) runs on CPU 0 with one Go
// processor; the load comes from a Go client (net/http for HTTP/1.1 and HTTP/2,
// quic-go for HTTP/3) in a process of its own on CPU 1. It prints req/s, p50 and p99
// per protocol and object size, the median of interleaved rounds. One client for all
// three, so the protocols are compared with each other; for Meridian against nginx
// over HTTPS see bench/cache. It is a benchmark: it prints numbers and asserts nothing.
//
//	go run ./bench/protocols [-rounds 3] [-duration 5s] [-connections 64] [-streams 16]
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go/http3"

	"meridian/bench/internal/harness"
	"meridian/internal/edge"
	"meridian/internal/observe"
)

const (
	pinned  = "MERIDIAN_BENCH_PROTOCOLS_PINNED"
	loadEnv = "MERIDIAN_BENCH_PROTOCOLS_LOAD"
)

var (
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	duration = flag.Duration("duration", 5*time.Second, "length of one load run")
	conns    = flag.Int("connections", 64, "concurrent requests: HTTP/1.1 connections; HTTP/2 and HTTP/3 use connections/streams connections of streams each")
	streams  = flag.Int("streams", 16, "concurrent streams per HTTP/2 or HTTP/3 connection")
	logFile  = flag.String("request-log", "", "write the edge's request log (one JSON line per request) to this file, as users run edges; off when empty")
	// The load process's own flags.
	loadProto = flag.String("load-proto", "", "(internal) run the load generator for h1, h2 or h3")
	loadAddr  = flag.String("load-addr", "", "(internal) address to load")
	loadPath  = flag.String("load-path", "", "(internal) path to load")
)

func main() {
	flag.Parse()
	if os.Getenv(loadEnv) != "" {
		if err := load(*loadProto, *loadAddr, *loadPath); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := harness.Need("taskset"); err != nil {
		log.Fatal(err)
	}
	if !harness.Pin(pinned) {
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "meridian-bench-protocols-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/obj/"))
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(make([]byte, n))
	}))
	defer origin.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := harness.StartControl(ctx, dir)
	if err != nil {
		return err
	}
	defer c.Close()
	cfg := edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0, 443: 0}, CacheSize: 512 << 20, ProbeInterval: time.Hour}
	logging := "off"
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.RequestLog, logging = observe.NewRequestLog(f), "to "+*logFile
		defer cfg.RequestLog.Close()
	}
	e, stopEdge := c.RunEdge(ctx, cfg)
	defer stopEdge()
	certPEM, keyPEM, err := harness.SelfSigned("bench.example")
	if err != nil {
		return err
	}
	var web map[string]any
	if *logFile != "" {
		web = map[string]any{"logConfig": map[string]any{"enable": true}}
	}
	resources := append(harness.CDNOrigin(origin.Listener.Addr().String(), web),
		harness.Resource{Path: "global/sslCertificates", Body: map[string]any{"name": "cert", "certificate": certPEM, "privateKey": keyPEM}},
		harness.Resource{Path: "global/targetHttpsProxies", Body: map[string]any{"name": "sproxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}}},
		harness.Resource{Path: "global/forwardingRules", Body: map[string]any{"name": "sfr", "IPAddress": "127.0.0.2", "portRange": "443", "target": "global/targetHttpsProxies/sproxy"}})
	if err := c.Create(resources...); err != nil {
		return err
	}
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		addr = e.ListenAddresses()["127.0.0.2:443"]
		if time.Now().After(deadline) {
			return fmt.Errorf("the edge did not serve HTTPS")
		}
	}
	sizes := []int{1 << 10, 100 << 10, 1 << 20}
	protos := []string{"h1", "h2", "h3"}
	for _, size := range sizes { // fill the cache
		for _, p := range protos {
			if _, err := oneRequest(p, addr, fmt.Sprintf("/obj/%d", size)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	type key struct {
		proto string
		size  int
	}
	results := map[key][]result{}
	for round := 0; round < *rounds; round++ {
		for _, size := range sizes {
			for _, p := range protos {
				r, err := loadFromCPU1(p, addr, fmt.Sprintf("/obj/%d", size))
				if err != nil {
					return fmt.Errorf("%s %d: %w", p, size, err)
				}
				results[key{p, size}] = append(results[key{p, size}], r)
			}
		}
	}
	fmt.Printf("\nHTTPS cache hits through Meridian's edge, median of %d interleaved rounds of %s (edge on CPU 0, GOMAXPROCS=1, request log %s; one Go client on CPU 1: %d HTTP/1.1 connections, %d HTTP/2 or HTTP/3 connections of %d streams)\n\n",
		*rounds, *duration, logging, *conns, *conns / *streams, *streams)
	fmt.Println("| object | protocol | req/s | p50 | p99 | req/s vs HTTP/1.1 | edge CPU |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, size := range sizes {
		base := median(results[key{"h1", size}]).rps
		for _, p := range protos {
			m := median(results[key{p, size}])
			fmt.Printf("| %s | %s | %.0f | %s | %s | %.2f× | %.0f%% |\n", label(size), p, m.rps, m.p50.Round(10*time.Microsecond), m.p99.Round(10*time.Microsecond), m.rps/base, 100*m.edgeCPU)
		}
	}
	return nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	edgeCPU  float64 // the edge's CPU time over the run's wall time (1: CPU 0 saturated)
}

// median takes each figure's median over the rounds.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 { return harness.Median(rs, f) }
	return result{rps: pick(func(r result) float64 { return r.rps }),
		p50:     time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99:     time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
		edgeCPU: pick(func(r result) float64 { return r.edgeCPU })}
}

// loadFromCPU1 runs this program as the load generator on CPU 1 and reads its result.
func loadFromCPU1(proto, addr, path string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	args := []string{"-c", "1", self, "-load-proto=" + proto, "-load-addr=" + addr, "-load-path=" + path,
		"-duration=" + duration.String(), "-connections=" + strconv.Itoa(*conns), "-streams=" + strconv.Itoa(*streams)}
	cmd := exec.Command("taskset", args...)
	cmd.Env = append(os.Environ(), loadEnv+"=1", "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	before, start := cpuTime(), time.Now()
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	edgeCPU := float64(cpuTime()-before) / float64(time.Since(start))
	var r result
	var p50, p99 int64
	if _, err := fmt.Sscanf(string(out), "%f %d %d", &r.rps, &p50, &p99); err != nil {
		return result{}, fmt.Errorf("load said %q: %w", out, err)
	}
	r.p50, r.p99, r.edgeCPU = time.Duration(p50), time.Duration(p99), edgeCPU
	return r, nil
}

// cpuTime is the CPU time this process (the edge and the idle origin) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// client makes a client of the protocol; for HTTP/2 and HTTP/3 each client is one
// connection.
func client(proto string, maxConns int) (*http.Client, func()) {
	tlsConf := &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example"}
	switch proto {
	case "h2":
		t := &http.Transport{TLSClientConfig: tlsConf, Protocols: new(http.Protocols), MaxIdleConnsPerHost: 1}
		t.Protocols.SetHTTP2(true)
		return &http.Client{Transport: t}, t.CloseIdleConnections
	case "h3":
		t := &http3.Transport{TLSClientConfig: tlsConf}
		return &http.Client{Transport: t}, func() { t.Close() }
	}
	t := &http.Transport{TLSClientConfig: tlsConf, MaxConnsPerHost: maxConns, MaxIdleConnsPerHost: maxConns, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	return &http.Client{Transport: t}, t.CloseIdleConnections
}

func oneRequest(proto, addr, path string) (int, error) {
	c, closeFn := client(proto, 1)
	defer closeFn()
	resp, err := c.Get("https://" + addr + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return int(n), err
}

// load sends requests for the duration from every worker and prints req/s, p50 and
// p99 (nanoseconds).
func load(proto, addr, path string) error {
	clients, workersPer := 1, *conns
	if proto != "h1" {
		clients, workersPer = max(1, *conns / *streams), *streams
	}
	deadline := time.Now().Add(*duration)
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	for range clients {
		c, closeFn := client(proto, *conns)
		defer closeFn()
		for range workersPer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for time.Now().Before(deadline) {
					start := time.Now()
					resp, err := c.Get("https://" + addr + path)
					if err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(all)
	if len(all) == 0 {
		return fmt.Errorf("no request completed")
	}
	fmt.Printf("%f %d %d\n", float64(len(all))/duration.Seconds(), all[len(all)/2], all[min(len(all)-1, len(all)*99/100)])
	return nil
}

func label(size int) string {
	if size >= 1<<20 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}
