// Command users compares Meridian's edge cache with nginx and HAProxy (and Varnish,
// plain HTTP only, and Apache Traffic Server, with -servers) as users run them: cache hits of 1 KiB, 100 KiB and 1 MiB objects over HTTPS with HTTP/1.1 (wrk)
// and HTTP/2 (h2load, 16 connections of 4 streams), and over plain HTTP/1.1, and
// (-modes http-h1-pass) responses the origin marks no-store, proxied every time; with
// request logging on (Meridian: logConfig enabled, the log to a file; nginx: a
// buffered access log) and off. Every server runs on CPU 0 with one worker (Meridian
// with GOMAXPROCS=1), the load on CPU 1, and the rounds are interleaved. It prints
// req/s, p50 and p99 latency and CPU time per request, and Meridian's ratios to each
// peer. HAProxy (2.6's cache) runs with logging off only: it logs to syslog, which this
// machine has no daemon for. nginx keeps connections for a million requests (its
// default, 1,000, would add TLS handshakes to its runs). It is a benchmark: it prints
// numbers and asserts nothing.
//
// It needs nginx (nginx-light), haproxy, wrk, h2load (nghttp2-client) and taskset;
// varnish and trafficserver when they are named.
//
//	go run ./bench/users [-rounds 3] [-duration 3s] [-modes https-h1,https-h2,http-h1,http-h1-pass] [-sizes 1024,102400,1048576] [-servers meridian,nginx,haproxy,varnish,trafficserver] [-log both|on|off] [-cpuprofile F]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"meridian/bench/internal/harness"
	"meridian/internal/edge"
	"meridian/internal/observe"
)

const pinned = "MERIDIAN_BENCH_USERS_PINNED"

var (
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	duration = flag.Duration("duration", 3*time.Second, "length of one load run")
	modes    = flag.String("modes", "https-h1,https-h2,http-h1", "what to load: https-h1 (wrk), https-h2 (h2load), http-h1 (wrk) hits; http-h1-pass (wrk) responses the origin marks no-store, proxied every time")
	sizes    = flag.String("sizes", "1024,102400,1048576", "object sizes in bytes")
	servers  = flag.String("servers", "meridian,nginx,haproxy", "servers to compare (Meridian first): meridian, nginx, haproxy, varnish (plain HTTP only), trafficserver")
	logging  = flag.String("log", "both", "request logging: on, off or both")
	conns    = flag.Int("connections", 64, "wrk connections")
	h2c      = flag.Int("h2-clients", 16, "h2load connections")
	h2m      = flag.Int("h2-streams", 4, "h2load concurrent streams per connection")
	// The origin's own process.
	originListen = flag.String("origin-listen", "", "(internal) serve the origin on this address")
	profile      = flag.String("cpuprofile", "", "write a CPU profile of Meridian's runs of the first mode, size and -log setting to this file")
)

func main() {
	flag.Parse()
	if *originListen != "" {
		serveOrigin(*originListen)
		return
	}
	if !harness.Pin(pinned) {
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// startOrigin runs the origin in a process of its own on CPU 1 (beside the load, off
// the servers' CPU, and out of Meridian's CPU time): objects of the size their path
// ends with, cacheable for a day, or no-store under /pass/.
func startOrigin() (string, func(), error) {
	addr, _ := freeAddrs()
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("taskset", "-c", "1", self, "-origin-listen="+addr)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	if err := harness.WaitListening(addr); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

func serveOrigin(addr string) {
	body := make([]byte, 1<<20)
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		w.Header().Set("Cache-Control", "public, max-age=86400")
		if strings.Contains(r.URL.Path, "/pass/") {
			w.Header().Set("Cache-Control", "no-store") // proxied every time
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+strconv.Itoa(n)+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body[:min(n, len(body))])
	})))
}

// server is one server under test: its addresses and its process (for CPU time).
type server struct {
	name        string
	plain, tls  string // host:port
	pid         int
	logs        bool // it can log requests (under /log/)
	stop        func()
	description string
}

func run() error {
	if err := harness.Need("nginx", "wrk", "h2load", "taskset"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "meridian-bench-users-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	originAddr, stopOrigin, err := startOrigin()
	if err != nil {
		return err
	}
	defer stopOrigin()
	certPEM, keyPEM, err := harness.SelfSigned("bench.example")
	if err != nil {
		return err
	}
	var list []*server
	for _, name := range strings.Split(*servers, ",") {
		var s *server
		switch name {
		case "meridian":
			s, err = startMeridian(dir, originAddr, certPEM, keyPEM)
		case "nginx":
			s, err = startNginx(dir, originAddr, certPEM, keyPEM)
		case "haproxy":
			s, err = startHAProxy(dir, originAddr, certPEM, keyPEM)
		case "varnish":
			s, err = startVarnish(dir, originAddr)
		case "trafficserver":
			s, err = startTrafficServer(dir, originAddr, certPEM, keyPEM)
		default:
			err = fmt.Errorf("unknown server %q", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer s.stop()
		list = append(list, s)
	}
	var objSizes []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 1<<20 {
			return fmt.Errorf("-sizes: %q (1 to 1048576)", f)
		}
		objSizes = append(objSizes, n)
	}
	logModes := map[string][]bool{"both": {false, true}, "on": {true}, "off": {false}}[*logging]
	if logModes == nil {
		return fmt.Errorf("-log: %q is not on, off or both", *logging)
	}
	type key struct {
		mode, server string
		size         int
		log          bool
	}
	results := map[key][]sample{}
	// Fill every cache, then warm each path once more (a hit).
	for _, s := range list {
		for _, size := range objSizes {
			for _, logged := range logModes {
				for range 2 {
					if err := harness.Get(s.plain, objPath(size, logged)); err != nil {
						return fmt.Errorf("%s: %w", s.name, err)
					}
				}
			}
		}
	}
	for round := 1; round <= *rounds; round++ {
		for _, mode := range strings.Split(*modes, ",") {
			for _, size := range objSizes {
				for _, logged := range logModes {
					for _, s := range list {
						if logged && !s.logs || s.tls == "" && strings.HasPrefix(mode, "https") {
							continue
						}
						before := cpuTime(s.pid)
						stopProfile := func() {}
						if *profile != "" && s.name == "meridian" && logged == logModes[0] && mode == strings.Split(*modes, ",")[0] && size == objSizes[0] {
							stopProfile = startProfile(round)
						}
						r, err := load(mode, s, objPath(size, logged))
						stopProfile()
						if err != nil {
							return fmt.Errorf("%s %s: %w", s.name, mode, err)
						}
						if r.requests > 0 {
							r.cpuPerReq = (cpuTime(s.pid) - before) / time.Duration(r.requests)
						}
						k := key{mode, s.name, size, logged}
						results[k] = append(results[k], r)
						fmt.Fprintf(os.Stderr, "round %d %-8s %-9s log=%-5v %-8s %8.0f req/s p50 %6.2f ms p99 %6.2f ms %5.1f µs CPU/req\n",
							round, mode, sizeLabel(size), logged, s.name, r.rps, r.p50, r.p99, float64(r.cpuPerReq)/1e3)
					}
				}
			}
		}
	}

	fmt.Printf("\ncache hits, median of %d interleaved rounds of %s; every server on CPU 0 with one worker, the load on CPU 1\n", *rounds, *duration)
	fmt.Printf("https-h1 and http-h1: wrk -t2 -c%d; https-h2: h2load -c%d -m%d\n", *conns, *h2c, *h2m)
	for _, s := range list {
		fmt.Printf("%s: %s\n", s.name, s.description)
	}
	fmt.Printf("\n| mode | object | log |")
	for _, s := range list {
		fmt.Printf(" %s req/s | p50 / p99 ms | CPU µs/req |", s.name)
	}
	for _, s := range list[1:] {
		fmt.Printf(" %s/%s |", list[0].name, s.name)
	}
	fmt.Printf("\n|---|---|---|%s%s\n", strings.Repeat("---|---|---|", len(list)), strings.Repeat("---|", len(list)-1))
	for _, mode := range strings.Split(*modes, ",") {
		for _, size := range objSizes {
			for _, logged := range logModes {
				fmt.Printf("| %s | %s | %s |", mode, sizeLabel(size), onOff(logged))
				med := map[string]sample{}
				for _, s := range list {
					xs := results[key{mode, s.name, size, logged}]
					if len(xs) == 0 {
						fmt.Printf(" – | – | – |")
						continue
					}
					m := median(xs)
					med[s.name] = m
					timeouts := ""
					if m.timeouts > 0 {
						timeouts = fmt.Sprintf(" (%d timed out)", m.timeouts)
					}
					fmt.Printf(" %.0f%s | %.2f / %.2f | %.1f |", m.rps, timeouts, m.p50, m.p99, float64(m.cpuPerReq)/1e3)
				}
				for _, s := range list[1:] {
					if p, ok := med[s.name]; ok && p.rps > 0 {
						fmt.Printf(" %.2f× |", med[list[0].name].rps/p.rps)
					} else {
						fmt.Printf(" – |")
					}
				}
				fmt.Println()
			}
		}
	}
	return nil
}

// startProfile profiles this process (Meridian's edge) into -cpuprofile, one file a
// round after the first (-cpuprofile.N).
func startProfile(round int) func() {
	name := *profile
	if round > 1 {
		name += "." + strconv.Itoa(round)
	}
	f, err := os.Create(name)
	if err != nil {
		log.Print(err)
		return func() {}
	}
	pprof.StartCPUProfile(f)
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// objPath is where an object of size is served: under /log/ when the run logs.
func objPath(size int, logged bool) string {
	if logged {
		return fmt.Sprintf("/log/obj/%d", size)
	}
	return fmt.Sprintf("/obj/%d", size)
}

func sizeLabel(size int) string {
	switch {
	case size >= 1<<20 && size%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", size>>20)
	case size >= 1<<10 && size%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", size>>10)
	}
	return fmt.Sprintf("%d B", size)
}

// sample is one load run: req/s, p50 and p99 in ms, requests completed, and the
// server's CPU time per request.
type sample struct {
	rps, p50, p99 float64
	requests      int64
	timeouts      int64 // requests wrk gave up on after 2 s
	cpuPerReq     time.Duration
}

// median takes each figure's median across rounds.
func median(xs []sample) sample {
	pick := func(f func(sample) float64) float64 { return harness.Median(xs, f) }
	var timeouts int64
	for _, x := range xs {
		timeouts += x.timeouts
	}
	return sample{rps: pick(func(s sample) float64 { return s.rps }), p50: pick(func(s sample) float64 { return s.p50 }),
		p99: pick(func(s sample) float64 { return s.p99 }), cpuPerReq: time.Duration(pick(func(s sample) float64 { return float64(s.cpuPerReq) })), timeouts: timeouts}
}

func load(mode string, s *server, path string) (sample, error) {
	switch mode {
	case "http-h1":
		return wrk("http://"+s.plain+path, *conns)
	case "http-h1-pass":
		return wrk("http://"+s.plain+strings.Replace(path, "/obj/", "/pass/", 1), *conns)
	case "https-h1":
		return wrk("https://"+s.tls+path, *conns)
	case "https-h2":
		return h2load("https://"+s.tls+path, *h2c, *h2m)
	}
	return sample{}, fmt.Errorf("unknown mode %q", mode)
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkPct      = regexp.MustCompile(`\s(50|99)%\s+([0-9.]+)(us|ms|s)`)
	wrkErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrk runs wrk on CPU 1 against url.
func wrk(url string, conns int) (sample, error) {
	out, err := exec.Command("taskset", "-c", "1", "wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+duration.String(), "--latency", url).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	m, n := wrkRPS.FindSubmatch(out), wrkRequests.FindSubmatch(out)
	if m == nil || n == nil {
		return sample{}, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	var s sample
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	s.requests, _ = strconv.ParseInt(string(n[1]), 10, 64)
	// Errors fail the run, except requests over wrk's 2 s timeout, which are counted
	// and shown.
	errs := wrkErrors.FindSubmatch(out)
	if errs != nil {
		s.timeouts, _ = strconv.ParseInt(string(errs[4]), 10, 64)
	}
	if strings.Contains(string(out), "Non-2xx") || errs != nil && (string(errs[1]) != "0" || string(errs[2]) != "0" || string(errs[3]) != "0") {
		return sample{}, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	for _, p := range wrkPct.FindAllSubmatch(out, -1) {
		v := harness.Millis(string(p[2]), string(p[3]))
		if string(p[1]) == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	return s, nil
}

var h2loadRPS = regexp.MustCompile(`finished in [0-9.]+m?s, ([0-9.]+) req/s`)

// h2load runs h2load on CPU 1 against url and reads every request's latency from its
// log file.
func h2load(url string, clients, streams int) (sample, error) {
	logFile, err := os.CreateTemp("", "h2load-*.log")
	if err != nil {
		return sample{}, err
	}
	logFile.Close()
	defer os.Remove(logFile.Name())
	out, err := exec.Command("taskset", "-c", "1", "h2load", "-c"+strconv.Itoa(clients), "-m"+strconv.Itoa(streams),
		"-D", strconv.Itoa(max(1, int(duration.Seconds()))), "--log-file="+logFile.Name(), url).CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("h2load: %v: %s", err, out)
	}
	m := h2loadRPS.FindSubmatch(out)
	if m == nil || !strings.Contains(string(out), " 0 failed") || !strings.Contains(string(out), " 0 3xx, 0 4xx, 0 5xx") {
		return sample{}, fmt.Errorf("h2load failed or cannot be read:\n%s", out)
	}
	var s sample
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	f, err := os.Open(logFile.Name())
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	var lat []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		us, _ := strconv.ParseFloat(fields[2], 64)
		lat = append(lat, us/1000)
	}
	if len(lat) == 0 {
		return sample{}, errors.New("h2load logged no request")
	}
	slices.Sort(lat)
	s.requests = int64(len(lat))
	s.p50, s.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	return s, nil
}

// cpuTime is the user and system CPU time so far of a process and its children (nginx's
// worker serves, its master waits).
func cpuTime(pid int) time.Duration {
	t := ownCPUTime(pid)
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil && pid != os.Getpid() {
		for _, k := range strings.Fields(string(kids)) {
			if kid, err := strconv.Atoi(k); err == nil {
				t += ownCPUTime(kid)
			}
		}
	}
	return t
}

func ownCPUTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces) in parentheses.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks (USER_HZ 100)
}

// startMeridian runs the control plane and an edge in this process (pinned to CPU 0):
// a CDN-enabled backend service "web" and, for /log/*, "weblog" with logConfig
// enabled; HTTP on 127.0.0.1:80 and HTTPS on 127.0.0.2:443 (ports mapped), the
// request log to a file.
func startMeridian(dir, originAddr, certPEM, keyPEM string) (*server, error) {
	ctx := context.Background()
	c, err := harness.StartControl(ctx, dir)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "meridian-requests.log"))
	if err != nil {
		c.Close()
		return nil, err
	}
	reqLog := observe.NewRequestLog(logFile)
	e, stopEdge := c.RunEdge(ctx, edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0, 443: 0}, CacheSize: 512 << 20,
		ProbeInterval: time.Hour, RequestLog: reqLog})
	stop := func() { stopEdge(); reqLog.Close(); logFile.Close(); c.Close() }
	host, port, _ := net.SplitHostPort(originAddr)
	portNum, _ := strconv.Atoi(port)
	service := func(name string, logged bool) map[string]any {
		return map[string]any{"name": name, "enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
			"logConfig": map[string]any{"enable": logged}, "backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}}
	}
	err = c.Create(
		harness.Resource{Path: "global/networkEndpointGroups", Body: map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"}},
		harness.Resource{Path: "global/networkEndpointGroups/origin/attachNetworkEndpoints", Body: map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": portNum}}}},
		harness.Resource{Path: "global/backendServices", Body: service("web", false)},
		harness.Resource{Path: "global/backendServices", Body: service("weblog", true)},
		harness.Resource{Path: "global/urlMaps", Body: map[string]any{"name": "map", "defaultService": "global/backendServices/web",
			"hostRules": []any{map[string]any{"hosts": []string{"*"}, "pathMatcher": "m"}},
			"pathMatchers": []any{map[string]any{"name": "m", "defaultService": "global/backendServices/web",
				"pathRules": []any{map[string]any{"paths": []string{"/log/*"}, "service": "global/backendServices/weblog"}}}}}},
		harness.Resource{Path: "global/targetHttpProxies", Body: map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"}},
		harness.Resource{Path: "global/forwardingRules", Body: map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"}},
		harness.Resource{Path: "global/sslCertificates", Body: map[string]any{"name": "cert", "certificate": certPEM, "privateKey": keyPEM}},
		harness.Resource{Path: "global/targetHttpsProxies", Body: map[string]any{"name": "sproxy", "urlMap": "global/urlMaps/map", "sslCertificates": []string{"global/sslCertificates/cert"}}},
		harness.Resource{Path: "global/forwardingRules", Body: map[string]any{"name": "sfr", "IPAddress": "127.0.0.2", "portRange": "443", "target": "global/targetHttpsProxies/sproxy"}},
	)
	if err != nil {
		stop()
		return nil, err
	}
	s := &server{name: "meridian", pid: os.Getpid(), logs: true, stop: stop,
		description: "this tree's edge in the benchmark's process (GOMAXPROCS=1), cache 512 MiB, request log to a file for /log/"}
	for deadline := time.Now().Add(10 * time.Second); s.plain == "" || s.tls == ""; time.Sleep(20 * time.Millisecond) {
		a := e.ListenAddresses()
		s.plain, s.tls = a["127.0.0.1:80"], a["127.0.0.2:443"]
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("the edge did not listen")
		}
	}
	return s, nil
}

// startNginx runs nginx with one worker: proxy_cache with its lock, TLS with session
// cache and tickets, HTTP/2, and a buffered access log for /log/.
func startNginx(dir, originAddr, certPEM, keyPEM string) (*server, error) {
	prefix := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(prefix, "cache"), 0o755)
	cert, key := filepath.Join(prefix, "cert.pem"), filepath.Join(prefix, "key.pem")
	os.WriteFile(cert, []byte(certPEM), 0o644)
	os.WriteFile(key, []byte(keyPEM), 0o600)
	plain, tlsAddr := freeAddrs()
	proxy := `proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_lock on;
      add_header Cache-Status $upstream_cache_status;`
	conf := fmt.Sprintf(`user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=bench:64m max_size=2g inactive=1h use_temp_path=off;
  upstream origin { server %[2]s; keepalive 64; }
  keepalive_requests 1000000;
  ssl_session_cache shared:SSL:10m;
  server {
    listen %[3]s;
    listen %[4]s ssl http2;
    ssl_certificate %[5]s;
    ssl_certificate_key %[6]s;
    location /log/ {
      access_log %[1]s/access.log combined buffer=64k flush=1s;
      %[7]s
    }
    location / {
      access_log off;
      %[7]s
    }
  }
}
`, prefix, originAddr, plain, tlsAddr, cert, key, proxy)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("nginx", "-p", prefix, "-c", confPath, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	if err := harness.WaitListening(plain, tlsAddr); err != nil {
		stop()
		return nil, err
	}
	return &server{name: "nginx", plain: plain, tls: tlsAddr, pid: cmd.Process.Pid, logs: true, stop: stop,
		description: "nginx " + version("nginx", "-v") + ", one worker, proxy_cache, TLS session cache, HTTP/2, access_log buffer=64k for /log/"}, nil
}

// startHAProxy runs HAProxy with one thread and its cache (HTTP/1.1 and, over TLS,
// ALPN h2 and http/1.1), without logging.
func startHAProxy(dir, originAddr, certPEM, keyPEM string) (*server, error) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		return nil, errors.New("haproxy is needed: apt-get install haproxy")
	}
	prefix := filepath.Join(dir, "haproxy")
	os.MkdirAll(prefix, 0o755)
	pemPath := filepath.Join(prefix, "cert.pem")
	os.WriteFile(pemPath, []byte(certPEM+keyPEM), 0o600)
	plain, tlsAddr := freeAddrs()
	conf := fmt.Sprintf(`global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
cache bench
  total-max-size 1024
  max-object-size 2097152
  max-age 86400
frontend fe
  bind %[1]s
  bind %[2]s ssl crt %[3]s alpn h2,http/1.1
  http-request cache-use bench
  http-response cache-store bench
  default_backend origin
backend origin
  http-reuse always
  server o %[4]s
`, plain, tlsAddr, pemPath, originAddr)
	confPath := filepath.Join(prefix, "haproxy.cfg")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("haproxy", "-db", "-f", confPath)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	if err := harness.WaitListening(plain, tlsAddr); err != nil {
		stop()
		return nil, fmt.Errorf("%w (haproxy %v): %s", err, cmd.ProcessState, out.String())
	}
	return &server{name: "haproxy", plain: plain, tls: tlsAddr, pid: cmd.Process.Pid, stop: stop,
		description: "HAProxy " + version("haproxy", "-v") + ", one thread, its cache, no log"}, nil
}

// startVarnish runs Varnish (plain HTTP only: it has no TLS of its own) with a
// malloc store and one thread pool, without logging.
func startVarnish(dir, originAddr string) (*server, error) {
	if _, err := exec.LookPath("varnishd"); err != nil {
		return nil, errors.New("varnishd is needed: apt-get install varnish")
	}
	plain, _ := freeAddrs()
	work := filepath.Join(dir, "varnish")
	os.MkdirAll(work, 0o755)
	cmd := exec.Command("varnishd", "-F", "-n", work, "-a", plain, "-b", originAddr, "-s", "malloc,1g",
		"-p", "thread_pools=1", "-p", "thread_pool_min=100")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	if err := harness.WaitListening(plain); err != nil {
		stop()
		return nil, fmt.Errorf("%w: %s", err, out.String())
	}
	return &server{name: "varnish", plain: plain, pid: cmd.Process.Pid, stop: stop,
		description: "Varnish " + version("varnishd", "-V") + ", one thread pool, malloc store, no log, plain HTTP only"}, nil
}

// startTrafficServer runs Apache Traffic Server as a reverse proxy cache (plain HTTP
// and TLS, HTTP/2 by ALPN) with one event thread and a 512 MiB RAM cache over a
// 256 MiB disk file, without logging.
func startTrafficServer(dir, originAddr, certPEM, keyPEM string) (*server, error) {
	if _, err := exec.LookPath("traffic_server"); err != nil {
		return nil, errors.New("traffic_server is needed: apt-get install trafficserver")
	}
	root := filepath.Join(dir, "trafficserver")
	etc := filepath.Join(root, "etc")
	for _, d := range []string{etc, filepath.Join(root, "run"), filepath.Join(root, "log"), filepath.Join(root, "cache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The package's configuration, then the bench's files over it.
	if entries, err := os.ReadDir("/etc/trafficserver"); err == nil {
		for _, e := range entries {
			if data, err := os.ReadFile(filepath.Join("/etc/trafficserver", e.Name())); err == nil && !e.IsDir() {
				os.WriteFile(filepath.Join(etc, e.Name()), data, 0o644)
			}
		}
	}
	plain, tlsAddr := freeAddrs()
	_, plainPort, _ := net.SplitHostPort(plain)
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	files := map[string]string{
		"records.config": fmt.Sprintf(`CONFIG proxy.config.http.server_ports STRING %s %s:ssl
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 1
CONFIG proxy.config.accept_threads INT 0
CONFIG proxy.config.task_threads INT 1
CONFIG proxy.config.cache.threads_per_disk INT 1
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.log.logging_enabled INT 0
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.http.cache.http INT 1
CONFIG proxy.config.cache.ram_cache.size INT 536870912
CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 120
CONFIG proxy.config.local_state_dir STRING %s
CONFIG proxy.config.log.logfile_dir STRING %s
CONFIG proxy.config.bin_path STRING /usr/bin
CONFIG proxy.config.ssl.server.cert.path STRING %s
CONFIG proxy.config.ssl.server.private_key.path STRING %s
`, plainPort, tlsPort, filepath.Join(root, "run"), filepath.Join(root, "log"), etc, etc),
		"remap.config":         "map / http://" + originAddr + "/\n",
		"storage.config":       filepath.Join(root, "cache") + " 256M\n", // a directory: it makes the file
		"ssl_multicert.config": "dest_ip=* ssl_cert_name=cert.pem ssl_key_name=key.pem\n",
		"cert.pem":             certPEM,
		"key.pem":              keyPEM,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command("traffic_server")
	cmd.Env = append(os.Environ(), "PROXY_CONFIG_CONFIG_DIR="+etc, "TS_ROOT=/usr")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() } // its state is the run's to throw away
	if err := harness.WaitListening(plain, tlsAddr); err != nil {
		stop()
		return nil, fmt.Errorf("%w: %s", err, out.String())
	}
	return &server{name: "trafficserver", plain: plain, tls: tlsAddr, pid: cmd.Process.Pid, stop: stop,
		description: "Apache Traffic Server " + version("traffic_server", "-V") + ", one event thread, 512 MiB RAM cache, no log"}, nil
}

func version(tool, flag string) string {
	out, _ := exec.Command(tool, flag).CombinedOutput()
	if m := regexp.MustCompile(`\d+\.\d+\.\d+`).Find(out); m != nil {
		return string(m)
	}
	return "?"
}

// freeAddrs returns two loopback addresses no one listens on, distinct.
func freeAddrs() (string, string) {
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs[0], addrs[1]
}
