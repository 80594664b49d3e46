package edge

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"meridian/api"
	"meridian/internal/health"
	"meridian/internal/snapshot"
)

// Health checks: a backend service that names a health check has the endpoints of its
// internet NEG backends probed by every edge (interval, timeout, healthy and unhealthy
// thresholds as the resource says). An endpoint is picked only while it passes; one
// not yet probed counts as passing, so a new backend serves at once. When every
// endpoint of a backend fails, the backend goes last in the plan.

// checkStates holds the verdict on every health-checked endpoint, by probe key.
type checkStates struct {
	mu     sync.Mutex
	states map[string]*checkState
}

type checkState struct {
	healthy, known       bool
	passes, fails        int64
	healthyAt, failingAt int64 // thresholds
}

// checkKey names one endpoint of one backend of one backend service.
func checkKey(service, group, endpoint string) string {
	return "hc" + probeKeySep + service + probeKeySep + group + probeKeySep + endpoint
}

// endpointAddress is where an internet NEG endpoint is reached, for a scheme.
func endpointAddress(b *snapshot.Backend, e api.NetworkEndpoint, scheme string) string {
	port := e.Port
	if port == 0 {
		port = b.DefaultPort
	}
	if port == 0 {
		port = map[string]int64{"http": 80, "https": 443}[scheme]
	}
	return net.JoinHostPort(e.Fqdn+e.IPAddress, strconv.FormatInt(port, 10))
}

// checksFor returns the probes a backend service's health check asks for.
func checksFor(svc *snapshot.BackendService, scheme string) map[string]health.Check {
	hc := svc.HealthCheck
	if hc == nil {
		return nil
	}
	out := map[string]health.Check{}
	for i := range svc.Backends {
		b := &svc.Backends[i]
		if b.Type != "INTERNET_FQDN_PORT" && b.Type != "INTERNET_IP_PORT" {
			continue
		}
		for _, e := range b.Endpoints {
			addr := endpointAddress(b, e, scheme)
			c := health.Check{Kind: hc.Type, Address: addr, Interval: time.Duration(hc.CheckIntervalSec) * time.Second, Timeout: time.Duration(hc.TimeoutSec) * time.Second}
			var port int64
			var spec string
			switch hc.Type {
			case "HTTP", "HTTPS", "HTTP2":
				h := map[string]*api.HTTPHealthCheck{"HTTP": hc.HTTPHealthCheck, "HTTPS": hc.HTTPSHealthCheck, "HTTP2": hc.HTTP2HealthCheck}[hc.Type]
				if h != nil {
					c.Path, c.Host, c.Response, port, spec = h.RequestPath, h.Host, h.Response, h.Port, h.PortSpecification
				}
			case "TCP", "SSL":
				c.Kind = "TCP"
				h := hc.TCPHealthCheck
				if hc.Type == "SSL" {
					h = hc.SSLHealthCheck
				}
				if h != nil {
					port, spec = h.Port, h.PortSpecification
				}
			default:
				continue // GRPC and others are not probed
			}
			if port > 0 && spec != "USE_SERVING_PORT" {
				host, _, _ := net.SplitHostPort(addr)
				c.Address = net.JoinHostPort(host, strconv.FormatInt(port, 10))
			}
			out[checkKey(svc.Path, b.Group, addr)] = c
		}
	}
	return out
}

// retain keeps the states of the keys still probed, creating new ones, and sets the
// thresholds from each backend service's health check.
func (cs *checkStates) retain(snap *snapshot.Snapshot, targets map[string]health.Check) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.states == nil {
		cs.states = map[string]*checkState{}
	}
	for key := range cs.states {
		if _, ok := targets[key]; !ok {
			delete(cs.states, key)
		}
	}
	for key := range targets {
		parts := strings.Split(key, probeKeySep)
		if len(parts) != 4 {
			continue
		}
		svc := snap.Services[parts[1]]
		if svc == nil || svc.HealthCheck == nil {
			continue
		}
		st := cs.states[key]
		if st == nil {
			st = &checkState{}
			cs.states[key] = st
		}
		st.healthyAt, st.failingAt = max(svc.HealthCheck.HealthyThreshold, 1), max(svc.HealthCheck.UnhealthyThreshold, 1)
	}
}

// record applies one probe's outcome: healthyThreshold passes in a row make an endpoint
// healthy, unhealthyThreshold failures in a row unhealthy.
func (cs *checkStates) record(key string, passed bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	st := cs.states[key]
	if st == nil {
		return
	}
	if passed {
		st.passes, st.fails = st.passes+1, 0
		if st.passes >= st.healthyAt {
			st.healthy, st.known = true, true
		}
	} else {
		st.fails, st.passes = st.fails+1, 0
		if st.fails >= st.failingAt {
			st.healthy, st.known = false, true
		}
	}
}

// passing reports whether an endpoint may be picked: it passes its health check, or it
// has not been judged yet, or nothing checks it.
func (cs *checkStates) passing(service, group, endpoint string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	st := cs.states[checkKey(service, group, endpoint)]
	return st == nil || !st.known || st.healthy
}
