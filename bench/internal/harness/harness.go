// Package harness runs what the bench/ commands compare, on this machine: Meridian's
// API and edge on an embedded etcd, nginx with a given location block, and wrk pinned
// to a CPU.
package harness

import (
	"context"
	"encoding/json"
	"errors"
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
	"strconv"
	"strings"
	"time"

	"meridian/internal/controlplane"
	"meridian/internal/edge"
	"meridian/internal/store"
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
	p99, _ := strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		p99 /= 1000
	case "s":
		p99 *= 1000
	}
	return rps, p99, nil
}

// StartEdge runs Meridian's API and edge in this process on an embedded etcd, with a
// CDN-enabled backend service (USE_ORIGIN_HEADERS) in front of the origin and a memory
// cache of cacheSize bytes.
func StartEdge(ctx context.Context, dir, originAddr string, cacheSize uint64) (string, func(), error) {
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
	e := edge.New(st, edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0}, CacheSize: cacheSize, ProbeInterval: time.Hour})
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
