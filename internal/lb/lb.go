// Package lb chooses backends for the edge: for each backend service it orders the
// backends (one per region for serverless NEGs) by measured round-trip time, with an
// estimate from distance as the prior, puts those that are ejected by outlier detection,
// unhealthy, or over their RATE capacity after those that are not, leaves out drained
// ones (capacityScaler 0), and learns from every attempt's outcome.
//
// State is keyed by identity (backend service path and NEG path), not by snapshot, so it
// survives configuration reloads. Time comes from a clock the caller gives, so the policy
// is tested with a fake one.
package lb

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Candidate is one backend of a backend service as the current configuration has it.
type Candidate struct {
	Group string // the NEG's path: the backend's identity within its service
	// Prior is the round-trip time expected before any is measured (from distance).
	Prior time.Duration
	// Healthy is false when the backend is known to be down: its region runtime has no
	// ready instance where it keeps a minimum, or its health check fails.
	Healthy bool
	// Scaler is capacityScaler: 0 drains the backend, never picking it.
	Scaler float64
	// MaxRate caps the requests per second this edge sends (balancing mode RATE), before
	// Scaler; 0 means no cap.
	MaxRate float64
	// Endpoint is where the backend sends requests, when that is one place (a
	// serverless NEG's region runtime): a new one (a standby runtime took the region
	// over) ends an ejection earned by the old one, and its failure count and measured
	// round trip start over.
	Endpoint string
}

// Outlier is a backend service's outlierDetection, with GCP's defaults applied.
type Outlier struct {
	ConsecutiveErrors                  int64
	ConsecutiveGatewayFailure          int64
	EnforcingConsecutiveErrors         int64 // percent
	EnforcingConsecutiveGatewayFailure int64 // percent
	MaxEjectionPercent                 int64
	BaseEjectionTime                   time.Duration
	Interval                           time.Duration
}

// DefaultOutlier is GCP's outlierDetection defaults, which apply when a backend service
// sets none: serverless backends have no health checks, so this is how a failed region
// is noticed.
func DefaultOutlier() Outlier {
	return Outlier{
		ConsecutiveErrors: 5, ConsecutiveGatewayFailure: 3,
		EnforcingConsecutiveErrors: 0, EnforcingConsecutiveGatewayFailure: 100,
		MaxEjectionPercent: 50, BaseEjectionTime: 30 * time.Second, Interval: time.Second,
	}
}

// Outcome is how an attempt on a backend ended.
type Outcome int

const (
	Success        Outcome = iota // any response that is not a 5xx
	Error                         // a 5xx other than a gateway failure
	GatewayFailure                // a connection failure, or 502, 503 or 504
)

// Balancer holds what the edge has learned of every backend. It is safe for concurrent
// use.
type Balancer struct {
	now func() time.Time
	// enforce decides an enforcing percentage; replaced in tests.
	enforce func(percent int64) bool

	mu       sync.Mutex
	services map[string]*serviceState
}

type serviceState struct {
	backends map[string]*backendState
}

type backendState struct {
	rtt          time.Duration // EWMA of measured round trips; 0 until measured
	consecErrors int64
	consecGW     int64
	ejectedUntil time.Time
	ejections    int    // consecutive ejections, which lengthen the next one
	endpoint     string // the Candidate.Endpoint last planned with
	limiter      *rate.Limiter
	limit        float64
	requests     int64 // sent, for visibility
}

// New returns a balancer reading time from now (time.Now when nil).
func New(now func() time.Time) *Balancer {
	if now == nil {
		now = time.Now
	}
	return &Balancer{now: now, services: map[string]*serviceState{},
		enforce: func(p int64) bool { return p >= 100 || (p > 0 && rand.Int64N(100) < p) }}
}

func (b *Balancer) backendLocked(service, group string) *backendState {
	s := b.services[service]
	if s == nil {
		s = &serviceState{backends: map[string]*backendState{}}
		b.services[service] = s
	}
	st := s.backends[group]
	if st == nil {
		st = &backendState{}
		s.backends[group] = st
	}
	return st
}

// rttAlpha weighs a new measurement in the moving average.
const rttAlpha = 0.3

// ObserveRTT records one measured round trip to a backend.
func (b *Balancer) ObserveRTT(service, group string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.backendLocked(service, group)
	if st.rtt == 0 {
		st.rtt = max(d, time.Microsecond)
		return
	}
	st.rtt = time.Duration(rttAlpha*float64(d) + (1-rttAlpha)*float64(st.rtt))
}

// Plan returns the candidates in the order to try them, as indexes into cands: first
// those eligible (healthy, not ejected, under capacity) by round-trip time, then those
// over capacity, then the ejected and unhealthy ones as a last resort (so that a service
// whose every region failed is tried again rather than refused outright). Drained
// candidates are left out. The first eligible candidate is charged one request against
// its capacity.
func (b *Balancer) Plan(service string, cands []Candidate) []int {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	type ranked struct {
		i      int
		tier   int
		bucket int // rtt on a coarse log scale: differences within noise compare equal
		prior  time.Duration
		rtt    time.Duration
	}
	rs := make([]ranked, 0, len(cands))
	for i, c := range cands {
		if c.Scaler <= 0 {
			continue
		}
		st := b.backendLocked(service, c.Group)
		if c.Endpoint != st.endpoint {
			if st.endpoint != "" {
				// Measured afresh: the old endpoint's last probes (timeouts, when its host
				// died) say nothing of the new one.
				st.consecErrors, st.consecGW, st.ejectedUntil, st.ejections, st.rtt = 0, 0, time.Time{}, 0, 0
			}
			st.endpoint = c.Endpoint
		}
		r := ranked{i: i, rtt: c.Prior, prior: c.Prior}
		if st.rtt > 0 {
			r.rtt = st.rtt
		}
		r.bucket = rttBucket(r.rtt)
		switch {
		case !c.Healthy || now.Before(st.ejectedUntil):
			r.tier = 2
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(x, y int) bool {
		a, b := rs[x], rs[y]
		switch {
		case a.tier != b.tier:
			return a.tier < b.tier
		case a.bucket != b.bucket:
			return a.bucket < b.bucket
		case a.prior != b.prior:
			return a.prior < b.prior // as close as measured: distance decides
		}
		return a.rtt < b.rtt
	})
	// Waterfall by region: the closest eligible backend with capacity left takes the
	// request; those without capacity move behind the eligible ones, before the ejected
	// and unhealthy.
	var eligible, full, last []int
	charged := false
	for _, r := range rs {
		c := cands[r.i]
		switch {
		case r.tier != 0:
			last = append(last, r.i)
		case charged:
			eligible = append(eligible, r.i)
		default:
			st := b.backendLocked(service, c.Group)
			if c.MaxRate > 0 && !st.allow(c.MaxRate*c.Scaler, now) {
				full = append(full, r.i)
				continue
			}
			charged = true
			st.requests++
			eligible = append(eligible, r.i)
		}
	}
	return append(append(eligible, full...), last...)
}

// rttBucket places a round trip on a log scale of 25% steps above 1 ms, so that
// measurements that differ by less than noise (all of a machine's loopback regions are
// well under a millisecond) rank equal and the distance prior orders them, while real
// differences in latency still decide.
func rttBucket(d time.Duration) int {
	if d < time.Millisecond {
		return 0
	}
	return 1 + int(math.Log(float64(d)/float64(time.Millisecond))/math.Log(1.25))
}

// allow takes one request from the backend's rate budget: limit per second, with a
// burst of a tenth of a second's worth.
func (st *backendState) allow(limit float64, now time.Time) bool {
	if st.limiter == nil || st.limit != limit {
		st.limiter = rate.NewLimiter(rate.Limit(limit), max(1, int(limit/10)))
		st.limit = limit
	}
	return st.limiter.AllowN(now, 1)
}

// Observe records how an attempt on a backend ended, and ejects the backend when it
// fails often enough in a row (GCP's consecutiveErrors and consecutiveGatewayFailure,
// each applied with its enforcing percentage), unless that would eject more than
// maxEjectionPercent of the service's backends (one may always be ejected, as Envoy
// allows). An ejection lasts baseEjectionTime times the number of ejections in a row.
func (b *Balancer) Observe(service, group string, o Outcome, od Outlier, backends int) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.backendLocked(service, group)
	switch o {
	case Success:
		st.consecErrors, st.consecGW = 0, 0
		// A backend that stays up for an ejection's length after coming back starts
		// over: its next ejection is short again.
		if st.ejections > 0 && now.After(st.ejectedUntil.Add(od.BaseEjectionTime)) {
			st.ejections = 0
		}
		return
	case Error:
		st.consecErrors++
		st.consecGW = 0
	case GatewayFailure:
		st.consecErrors++
		st.consecGW++
	}
	if now.Before(st.ejectedUntil) {
		return
	}
	eject := (od.ConsecutiveGatewayFailure > 0 && st.consecGW >= od.ConsecutiveGatewayFailure && b.enforce(od.EnforcingConsecutiveGatewayFailure)) ||
		(od.ConsecutiveErrors > 0 && st.consecErrors >= od.ConsecutiveErrors && b.enforce(od.EnforcingConsecutiveErrors))
	if !eject {
		return
	}
	ejected := 0
	for _, other := range b.services[service].backends {
		if now.Before(other.ejectedUntil) {
			ejected++
		}
	}
	if ejected > 0 && float64(ejected+1)*100 > float64(od.MaxEjectionPercent)*float64(max(backends, 1)) {
		return
	}
	st.ejections++
	st.ejectedUntil = now.Add(od.BaseEjectionTime * time.Duration(st.ejections))
	st.consecErrors, st.consecGW = 0, 0
}

// State is what the balancer knows of one backend, for getHealth.
type State struct {
	RTT          time.Duration // measured; 0 if never
	EjectedUntil time.Time     // zero unless ejected now
	Ejections    int
	Requests     int64
}

// States returns the known state of a service's backends, by group.
func (b *Balancer) States(service string) map[string]State {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]State{}
	if s := b.services[service]; s != nil {
		for g, st := range s.backends {
			state := State{RTT: st.rtt, Ejections: st.ejections, Requests: st.requests}
			if now.Before(st.ejectedUntil) {
				state.EjectedUntil = st.ejectedUntil
			}
			out[g] = state
		}
	}
	return out
}

// Retain forgets services and backends not in keep (service → groups), after a
// configuration change removed them.
func (b *Balancer) Retain(keep map[string]map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for svc, s := range b.services {
		groups, ok := keep[svc]
		if !ok {
			delete(b.services, svc)
			continue
		}
		for g := range s.backends {
			if !groups[g] {
				delete(s.backends, g)
			}
		}
	}
}
