package observe

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one edge's Prometheus metrics, by backend service: requests and the CDN's
// lookups, hits, misses, and bytes of cache egress, cache fill and uncached traffic
// (Cloud CDN's billing dimensions).
type Metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	cacheLookups  *prometheus.CounterVec
	cacheHits     *prometheus.CounterVec
	cacheMisses   *prometheus.CounterVec
	cacheEgress   *prometheus.CounterVec
	cacheFill     *prometheus.CounterVec
	peerFill      *prometheus.CounterVec
	uncachedBytes *prometheus.CounterVec
	policyRules   *prometheus.CounterVec
	refusedConns  *prometheus.CounterVec
}

// NewMetrics registers the edge's metrics in a registry of their own.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "meridian", Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	return &Metrics{
		registry:      reg,
		requests:      vec("requests_total", "Requests answered, by backend service and status code.", "backend_service", "code"),
		cacheLookups:  vec("cdn_cache_lookups_total", "Cache lookups (GET and HEAD on CDN-enabled backend services).", "backend_service"),
		cacheHits:     vec("cdn_cache_hits_total", "Lookups answered from the cache.", "backend_service"),
		cacheMisses:   vec("cdn_cache_misses_total", "Lookups that went to the origin.", "backend_service"),
		cacheEgress:   vec("cdn_cache_egress_bytes_total", "Response bytes served from the cache.", "backend_service"),
		cacheFill:     vec("cdn_cache_fill_bytes_total", "Bytes fetched from the origin into the cache.", "backend_service"),
		peerFill:      vec("cdn_cache_to_cache_fill_bytes_total", "Bytes fetched into the cache from another cache of the group.", "backend_service"),
		uncachedBytes: vec("cdn_uncached_bytes_total", "Response bytes served without the cache.", "backend_service"),
		policyRules: vec("security_policy_requests_total", "Requests a security policy's rule matched, by policy, rule priority, "+
			"configured action, outcome (ACCEPT, DENY, REDIRECT) and whether the rule is a preview.", "policy", "priority", "action", "outcome", "preview"),
		refusedConns: vec("connections_refused_total", "Client connections closed as they were accepted, by reason (per_client_limit).", "reason"),
	}
}

// Observe counts one request's outcome. A response the cache stored or served is cache
// egress; anything else is uncached traffic.
func (m *Metrics) Observe(e *Entry) {
	if m == nil {
		return
	}
	bs := e.BackendService
	m.requests.WithLabelValues(bs, statusCode(e.Status)).Inc()
	if p := &e.EnforcedPolicy; p.Name != "" {
		m.policyRules.WithLabelValues(p.Name, strconv.Itoa(int(p.Priority)), p.ConfiguredAction, p.Outcome, "false").Inc()
	}
	if p := &e.PreviewPolicy; p.Name != "" {
		m.policyRules.WithLabelValues(p.Name, strconv.Itoa(int(p.Priority)), p.ConfiguredAction, p.Outcome, "true").Inc()
	}
	if e.CacheLookup {
		m.cacheLookups.WithLabelValues(bs).Inc()
		if e.CacheHit {
			m.cacheHits.WithLabelValues(bs).Inc()
		} else {
			m.cacheMisses.WithLabelValues(bs).Inc()
		}
	}
	switch {
	case e.CacheFillBytes <= 0:
	case e.CacheFillFromPeer:
		m.peerFill.WithLabelValues(bs).Add(float64(e.CacheFillBytes))
	default:
		m.cacheFill.WithLabelValues(bs).Add(float64(e.CacheFillBytes))
	}
	switch {
	case e.ResponseSize <= 0:
	case e.CacheStatus == "hit" || e.CacheStatus == "stale" || e.CacheStatus == "revalidated" || e.CacheStatus == "miss":
		m.cacheEgress.WithLabelValues(bs).Add(float64(e.ResponseSize))
	default:
		m.uncachedBytes.WithLabelValues(bs).Add(float64(e.ResponseSize))
	}
}

// RefuseConnection counts a client connection the edge closed unserved.
func (m *Metrics) RefuseConnection(reason string) {
	if m != nil {
		m.refusedConns.WithLabelValues(reason).Inc()
	}
}

// CountRequestLog adds the request log's losses to the metrics: entries dropped because
// its queue was full, and batches it failed to write.
func (m *Metrics) CountRequestLog(l *RequestLog) {
	if m == nil || l == nil {
		return
	}
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "meridian", Name: "request_log_dropped_total",
			Help: "Request log entries dropped because the log's queue was full."}, func() float64 { return float64(l.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "meridian", Name: "request_log_write_errors_total",
			Help: "Batches of request log entries the log failed to write."}, func() float64 { return float64(l.WriteErrors()) }),
	)
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func statusCode(s int) string {
	const digits = "0123456789"
	if s < 100 || s > 999 {
		return "0"
	}
	return string([]byte{digits[s/100], digits[s/10%10], digits[s%10]})
}
