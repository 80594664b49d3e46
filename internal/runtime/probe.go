package runtime

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"meridian/api"
)

// probeCounter is Kubernetes' threshold rule, pure: a probe's result changes the
// instance's state only after successThreshold successes or failureThreshold failures
// in a row.
type probeCounter struct {
	success, failure int64 // thresholds
	passing          bool  // the state the results have established
	run              int64 // results in a row that disagree with passing
}

// observe records one result and reports whether the state changed.
func (c *probeCounter) observe(ok bool) bool {
	if ok == c.passing {
		c.run = 0
		return false
	}
	c.run++
	need := c.failure
	if ok {
		need = c.success
	}
	if c.run < need {
		return false
	}
	c.passing, c.run = ok, 0
	return true
}

// probeTarget is where an instance's probe connects: its address, or another port of
// a container's address when the probe names one.
func probeTarget(inst instance, p *api.Probe, containerPort int64) string {
	port := int64(0)
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	}
	addr := inst.address()
	if _, isProcess := inst.(*process); port == 0 || port == containerPort || isProcess {
		return addr // a process listens on the PORT it was given, whatever the probe says
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// probeClient sends HTTP probes: no connection reuse, no redirects followed (a 3xx is a
// success, as in Kubernetes).
var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// check runs one probe against addr and says why it failed.
func check(ctx context.Context, addr string, p *api.Probe) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.TimeoutSeconds)*time.Second)
	defer cancel()
	if p.HTTPGet == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("TCP %s: %v", addr, err)
		}
		c.Close()
		return nil
	}
	path := p.HTTPGet.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return fmt.Errorf("HTTP GET %s: %v", path, err)
	}
	req.Header.Set("User-Agent", "kube-probe/1.0")
	for _, h := range p.HTTPGet.HTTPHeaders {
		if h.Name == "Host" {
			req.Host = h.Value
		} else {
			req.Header.Add(h.Name, h.Value)
		}
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("HTTP GET %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP GET %s answered %d", path, resp.StatusCode)
	}
	return nil
}

// startupProbeError is a configured startup probe's verdict: the instance never
// started.
type startupProbeError struct{ last error }

func (e *startupProbeError) Error() string {
	return fmt.Sprintf("The user-provided container failed the configured startup probe checks (last: %v).", e.last)
}

// waitStarted waits until the instance passes its startup probe: the configured one,
// or by default a TCP connection to its port, tried every 10 ms for up to Cloud Run's
// 240 s. It fails when the instance exits, the probe fails failureThreshold times,
// or cancel closes.
func waitStarted(inst instance, probe *api.Probe, containerPort int64, cancel <-chan struct{}) error {
	p := api.Probe{TimeoutSeconds: 1}
	period, tries := 10*time.Millisecond, int64(startupLimit/(10*time.Millisecond))
	if probe != nil {
		p = probe.WithDefaults()
		period, tries = time.Duration(p.PeriodSeconds)*time.Second, p.FailureThreshold
	}
	target := probeTarget(inst, &p, containerPort)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		select {
		case <-cancel:
		case <-inst.done():
		case <-ctx.Done():
		}
		stop()
	}()
	wait := time.Duration(p.InitialDelaySeconds) * time.Second
	for failures := int64(0); ; {
		t := time.NewTimer(wait)
		select {
		case <-inst.done():
			t.Stop()
			return fmt.Errorf("The user-provided container failed to start and listen on the port defined provided by the PORT environment variable: it exited (%s).", inst.exitReport())
		case <-cancel:
			t.Stop()
			return fmt.Errorf("the revision is being stopped")
		case <-t.C:
		}
		wait = period
		err := check(ctx, target, &p)
		if err == nil {
			if owned, known := inst.listenerIsOurs(); !owned && known {
				// Another program took the port first: the container cannot bind it, and
				// requests sent there would reach that program. Start again elsewhere.
				return fmt.Errorf("port %s was taken by another program before the container could listen on it", target)
			}
			return nil
		}
		if failures++; failures >= tries {
			if probe != nil {
				return &startupProbeError{err}
			}
			return fmt.Errorf("The user-provided container failed to start and listen on the port defined provided by the PORT environment variable within %s.", startupLimit)
		}
	}
}
