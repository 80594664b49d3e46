// Package health runs active probes: one owned goroutine per target, started and
// stopped as the configuration's targets change, each reporting every probe's outcome.
//
// A target is probed with a Check: an HTTP(S) request (GCP's HTTP, HTTPS and HTTP2
// health checks, and the round-trip probe the edge sends to each region, `OPTIONS *`,
// which Go's and most HTTP servers answer themselves without running the application),
// or a TCP connect.
package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Check is how a target is probed.
type Check struct {
	Kind     string // "HTTP", "HTTPS", "HTTP2", "TCP", or "RTT" (OPTIONS * over HTTP)
	Address  string // host:port
	Host     string // Host header for HTTP kinds (default: Address)
	Path     string // request path for HTTP kinds (default "/")
	Response string // expected substring of the body, if any
	Interval time.Duration
	Timeout  time.Duration
}

// Result is one probe's outcome.
type Result struct {
	Key      string
	Address  string        // the check's
	RTT      time.Duration // how long the probe took
	Err      error         // nil when the target passed
	Finished time.Time
}

// Prober runs the probes. Its goroutines stop with Close.
type Prober struct {
	report func(Result)

	mu     sync.Mutex
	probes map[string]*probe
	closed bool
	wg     sync.WaitGroup
}

type probe struct {
	check  Check
	cancel context.CancelFunc
}

// NewProber returns a prober that reports every probe's result to report, which must
// not block for long.
func NewProber(report func(Result)) *Prober {
	return &Prober{report: report, probes: map[string]*probe{}}
}

// Set makes the running probes exactly targets: new keys start, removed keys stop, and a
// key whose check changed restarts.
func (p *Prober) Set(targets map[string]Check) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for key, pr := range p.probes {
		if c, ok := targets[key]; !ok || c != pr.check {
			pr.cancel()
			delete(p.probes, key)
		}
	}
	for key, c := range targets {
		if p.probes[key] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.probes[key] = &probe{check: c, cancel: cancel}
		p.wg.Add(1)
		go p.run(ctx, key, c)
	}
}

// Close stops every probe and waits for them.
func (p *Prober) Close() {
	p.mu.Lock()
	p.closed = true
	for key, pr := range p.probes {
		pr.cancel()
		delete(p.probes, key)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Prober) run(ctx context.Context, key string, c Check) {
	defer p.wg.Done()
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = min(c.Interval, 5*time.Second)
	}
	client := clientFor(c)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		start := time.Now()
		err := probeOnce(ctx, client, c)
		if ctx.Err() != nil {
			return
		}
		p.report(Result{Key: key, Address: c.Address, RTT: time.Since(start), Err: err, Finished: time.Now()})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func clientFor(c Check) *http.Client {
	t := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // as GCP's health checks
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	if c.Kind == "HTTP2" {
		t.ForceAttemptHTTP2 = true
	}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// probeOnce runs one probe within the check's timeout.
func probeOnce(ctx context.Context, client *http.Client, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if c.Kind == "TCP" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", c.Address)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	scheme := "http"
	if c.Kind == "HTTPS" || c.Kind == "HTTP2" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+c.Address+"/", nil)
	if err != nil {
		return err
	}
	if c.Kind == "RTT" {
		req.Method = http.MethodOptions
		req.URL.Path, req.URL.Opaque = "", "*"
	} else {
		path := c.Path
		if path == "" {
			path = "/"
		}
		u, err := url.Parse(path)
		if err != nil || !strings.HasPrefix(path, "/") {
			return fmt.Errorf("request path %q is not an absolute path", path)
		}
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("User-Agent", "GoogleHC/1.0")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if c.Kind == "RTT" {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil // any answer measures the round trip
	}
	// GCP: only 200 passes; the body must contain the expected response, if set, within
	// its first 1024 bytes.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if c.Response != "" && !strings.Contains(string(body), c.Response) {
		return fmt.Errorf("the response does not contain %q", c.Response)
	}
	return nil
}
