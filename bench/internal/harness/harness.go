// Package harness runs what the bench/ commands compare, on this machine: Meridian's
// API and edge on an embedded etcd, nginx with a given location block, and wrk pinned
// to a CPU.
package harness

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pin runs this program again on CPU 0 with one Go processor (like nginx's single
// worker) unless env says it already is; it reports whether the caller is the pinned
// run and should go on.
func Pin(env string) bool {
	if os.Getenv(env) != "" {
		return true
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", "0", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), env+"=1", "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatal(err)
	}
	return false
}

// Need checks that the tools a benchmark runs are installed.
func Need(tools ...string) error {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: apt-get install nginx-light wrk util-linux", tool)
		}
	}
	return nil
}

// Get fetches http://addr+path with the given header pairs, reads the body, and
// fails unless the status is 200 or 206.
func Get(addr, path string, header ...string) error {
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 && resp.StatusCode != 206 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99RE = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
)

// Wrk runs wrk on CPU 1 with the given headers ("Name: value") and returns req/s and
// the 99th percentile latency in ms.
func Wrk(addr, path string, d time.Duration, conns int, headers ...string) (float64, float64, error) {
	args := []string{"-c", "1", "wrk", "-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("taskset", append(args, "http://"+addr+path)...).CombinedOutput()
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
	return rps, Millis(string(p[1]), string(p[2])), nil
}

// Millis reads one of wrk's latencies (a number and us, ms or s) in milliseconds.
func Millis(value, unit string) float64 {
	v, _ := strconv.ParseFloat(value, 64)
	switch unit {
	case "us":
		v /= 1000
	case "s":
		v *= 1000
	}
	return v
}

// NginxCache is nginx's proxy_cache with proxy_cache_lock (its request coalescing), the
// location block StartNginx is usually given.
const NginxCache = `proxy_cache bench;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;`

// StartNginx runs nginx (one worker, on this process's CPU) in front of the origin,
// with a cache zone "bench" and the given directives in its one location.
func StartNginx(dir, originAddr, location string) (string, func(), error) {
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
      %[4]s
      add_header Cache-Status $upstream_cache_status;
    }
  }
}
`, prefix, originAddr, addr, location)
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
	if err := WaitListening(addr); err != nil {
		stop()
		return "", nil, errors.New("nginx did not listen")
	}
	return addr, stop, nil
}

// Server is a server a benchmark loads: a name and an address.
type Server struct{ Name, Addr string }

// Load is one wrk load: a label, a path and request headers ("Name: value").
type Load struct {
	Label, Path string
	Headers     []string
}

// Sample is one wrk run's req/s and p99 latency in ms.
type Sample struct{ RPS, P99 float64 }

// Rounds runs every load against every server, interleaved, rounds times, and returns
// the samples by server name and load label. around, when set, wraps each run (to
// profile one).
func Rounds(servers []Server, loads []Load, rounds int, d time.Duration, conns int, around func(round int, l Load, s Server, run func())) (map[string]map[string][]Sample, error) {
	out := map[string]map[string][]Sample{}
	for _, s := range servers {
		out[s.Name] = map[string][]Sample{}
	}
	for round := 1; round <= rounds; round++ {
		for _, l := range loads {
			for _, s := range servers {
				var rps, p99 float64
				var err error
				run := func() { rps, p99, err = Wrk(s.Addr, l.Path, d, conns, l.Headers...) }
				if around != nil {
					around(round, l, s, run)
				} else {
					run()
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.Name, err)
				}
				out[s.Name][l.Label] = append(out[s.Name][l.Label], Sample{rps, p99})
				fmt.Fprintf(os.Stderr, "round %d %-22s %-8s %10.0f req/s  p99 %7.2f ms\n", round, l.Label, s.Name, rps, p99)
			}
		}
	}
	return out, nil
}

// Median is the median over rounds of one figure of each round's result.
func Median[T any](xs []T, figure func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = figure(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// WaitListening waits (30 s at most) until something accepts connections on each
// address.
func WaitListening(addrs ...string) error {
	for _, addr := range addrs {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nothing listens on %s", addr)
			}
		}
	}
	return nil
}

// PrintMedians prints, as a Markdown table, each load's median req/s and p99 on two
// servers and their ratios (first over second).
func PrintMedians(a, b Server, loads []Load, results map[string]map[string][]Sample) {
	median := Median[Sample]
	rps := func(s Sample) float64 { return s.RPS }
	p99 := func(s Sample) float64 { return s.P99 }
	fmt.Printf("| load | %[1]s req/s | %[2]s req/s | ratio | %[1]s p99 | %[2]s p99 | p99 ratio |\n|---|---|---|---|---|---|---|\n", a.Name, b.Name)
	for _, l := range loads {
		x, y := results[a.Name][l.Label], results[b.Name][l.Label]
		xr, yr, xp, yp := median(x, rps), median(y, rps), median(x, p99), median(y, p99)
		fmt.Printf("| %s | %.0f | %.0f | %.2f× | %.2f ms | %.2f ms | %.2f× |\n", l.Label, xr, yr, xr/yr, xp, yp, xp/yp)
	}
}
