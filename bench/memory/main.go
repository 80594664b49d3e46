// Command memory measures how Meridian's resident memory follows --cache-size: it
// runs `meridian serve` (built from this tree) with a cache budget, offers it distinct
// cacheable objects through an HTTP forwarding rule until it has seen -offer times the
// budget, and prints the process's RSS as the offered bytes grow, against the payload
// the cache can hold and the budget. Object sizes are one size (-size) or a mix of
// 1 KiB, 10 KiB, 100 KiB and 1 MiB (-size 0). It is a benchmark: it prints numbers and
// asserts nothing.
//
//	go run ./bench/memory [-cache-size 256] [-size 102400] [-offer 1.5] [-concurrency 8]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/bench/internal/harness"
)

var (
	cacheMiB    = flag.Int("cache-size", 256, "the cache budget, MiB")
	objSize     = flag.Int("size", 100<<10, "object size in bytes; 0 for a mix of 1 KiB, 10 KiB, 100 KiB and 1 MiB")
	offer       = flag.Float64("offer", 1.5, "bytes offered, in budgets")
	concurrency = flag.Int("concurrency", 8, "concurrent requests")
	binary      = flag.String("meridian", "", "the meridian binary (default: built from this tree)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// sizeOf is object i's size.
func sizeOf(i int) int {
	if *objSize > 0 {
		return *objSize
	}
	return []int{1 << 10, 10 << 10, 100 << 10, 1 << 20}[i%4]
}

func run() error {
	dir, err := os.MkdirTemp("", "meridian-bench-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := *binary
	if bin == "" {
		bin = filepath.Join(dir, "meridian")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/meridian").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	body := bytes.Repeat([]byte("m"), 1<<20)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body[:n])
	}))
	defer origin.Close()

	apiAddr, edgePort := freeAddr(), freePort()
	cmd := exec.Command(bin, "serve", "--data-dir="+filepath.Join(dir, "data"), "--api-listen="+apiAddr,
		"--cache-size="+strconv.Itoa(*cacheMiB)+"MiB", "--request-log=off", "--port-map=80:"+edgePort)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	api := "http://" + apiAddr + "/compute/v1/projects/p/"
	if err := harness.WaitListening(apiAddr); err != nil {
		return fmt.Errorf("the API: %w", err)
	}
	host, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	portNum, _ := strconv.Atoi(port)
	for _, r := range []struct {
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
		if err := post(api+r.path, r.body); err != nil {
			return err
		}
	}
	edge := "http://127.0.0.1:" + edgePort
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}}
	if err := waitServing(client, edge+"/obj/warm?size=1"); err != nil {
		return err
	}
	base := rss(cmd.Process.Pid)
	budget := int64(*cacheMiB) << 20
	target := int64(float64(budget) * *offer)
	mix := strconv.Itoa(*objSize) + " B"
	if *objSize == 0 {
		mix = "1 KiB, 10 KiB, 100 KiB, 1 MiB in turn"
	}
	fmt.Printf("meridian serve --cache-size=%dMiB; objects of %s, offered once each up to %.1f× the budget, %d at a time\n", *cacheMiB, mix, *offer, *concurrency)
	fmt.Printf("RSS after start: %.0f MiB (the base)\n\n", mib(base))
	fmt.Println("| offered | held at most | RSS | RSS − base | (RSS − base) / held | (RSS − base) / budget |")
	fmt.Println("|---|---|---|---|---|---|")

	var next atomic.Int64
	var offered atomic.Int64
	var failed atomic.Int64
	report := target / 10
	var mu sync.Mutex
	reported := int64(0)
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				n := int64(sizeOf(i))
				if offered.Add(n) > target {
					return
				}
				resp, err := client.Get(fmt.Sprintf("%s/obj/%d?size=%d", edge, i, n))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				mu.Lock()
				if o := offered.Load(); o-reported >= report {
					reported = o
					r := rss(cmd.Process.Pid)
					held := min(o, budget)
					fmt.Printf("| %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | %.2f× | %.2f× |\n", mib(o), mib(held), mib(r), mib(r-base), float64(r-base)/float64(held), float64(r-base)/float64(budget))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// After the load: what the process keeps once the garbage of the churn is gone.
	time.Sleep(5 * time.Second)
	r := rss(cmd.Process.Pid)
	fmt.Printf("\n5 s after the load: RSS %.0f MiB, %.2f× the budget above the base; %d requests failed\n", mib(r), float64(r-base)/float64(budget), failed.Load())
	return nil
}

func post(url string, body any) error {
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, msg)
	}
	return nil
}

// waitServing waits (30 s at most: the API starts, then the edge applies the rule)
// until url answers 200.
func waitServing(client *http.Client, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the edge did not serve %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rss is a process's resident set in bytes (VmRSS).
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freePort() string {
	_, port, _ := net.SplitHostPort(freeAddr())
	return port
}
