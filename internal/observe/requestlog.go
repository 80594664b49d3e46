// Package observe writes what the data plane reports: one JSON request log line per
// request in Cloud Logging's load balancer shape, so tools written for GCP's logs read
// Meridian's.
package observe

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// RequestLog writes request log entries as JSON lines. A nil *RequestLog discards.
type RequestLog struct {
	mu  sync.Mutex // guards enc and the writer under it
	enc *json.Encoder
}

// NewRequestLog writes entries to w.
func NewRequestLog(w io.Writer) *RequestLog {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &RequestLog{enc: enc}
}

// Entry is one request, as the load balancer saw it.
type Entry struct {
	Time           time.Time
	Project        string
	ForwardingRule string // names, not paths, as GCP's resource labels hold them
	TargetProxy    string
	URLMap         string
	BackendService string
	Method, URL    string
	Protocol       string
	Status         int
	RequestSize    int64
	ResponseSize   int64
	UserAgent      string
	Referer        string
	RemoteIP       string
	ServerIP       string
	Latency        time.Duration
	StatusDetails  string
	TLSVersion     string
	TLSCipher      string
	// The CDN's outcome, on CDN-enabled routes.
	CacheLookup, CacheHit, CacheValidated bool
	CacheFillBytes                        int64
	CacheFillFromPeer                     bool // the fill came from another cache (cache-to-cache)
	CacheID, CacheDecision                string
	CacheStatus                           string // {cdn_cache_status}, for metrics
}

// Cloud Logging's shapes ([LOG]).
type logLine struct {
	LogName     string         `json:"logName"`
	Timestamp   string         `json:"timestamp"`
	Severity    string         `json:"severity"`
	Resource    logResource    `json:"resource"`
	HTTPRequest logHTTPRequest `json:"httpRequest"`
	JSONPayload logPayload     `json:"jsonPayload"`
}

type logResource struct {
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
}

type logHTTPRequest struct {
	RequestMethod string `json:"requestMethod"`
	RequestURL    string `json:"requestUrl"`
	RequestSize   string `json:"requestSize,omitempty"`
	Status        int    `json:"status,omitempty"` // none when the client left before any response
	ResponseSize  string `json:"responseSize,omitempty"`
	UserAgent     string `json:"userAgent,omitempty"`
	RemoteIP      string `json:"remoteIp,omitempty"`
	ServerIP      string `json:"serverIp,omitempty"`
	Referer       string `json:"referer,omitempty"`
	Latency       string `json:"latency"`
	Protocol      string `json:"protocol,omitempty"`
	// false booleans are omitted, as Cloud Logging does
	CacheLookup                    bool   `json:"cacheLookup,omitempty"`
	CacheHit                       bool   `json:"cacheHit,omitempty"`
	CacheValidatedWithOriginServer bool   `json:"cacheValidatedWithOriginServer,omitempty"`
	CacheFillBytes                 string `json:"cacheFillBytes,omitempty"`
}

type logPayload struct {
	Type          string  `json:"@type"`
	StatusDetails string  `json:"statusDetails,omitempty"`
	CacheID       string  `json:"cacheId,omitempty"`
	CacheDecision string  `json:"cacheDecision,omitempty"`
	TLS           *logTLS `json:"tls,omitempty"`
}

type logTLS struct {
	Protocol string `json:"protocol,omitempty"`
	Cipher   string `json:"cipher,omitempty"`
}

// Log writes one entry.
func (l *RequestLog) Log(e Entry) {
	if l == nil {
		return
	}
	line := logLine{
		LogName:   "projects/" + e.Project + "/logs/requests",
		Timestamp: e.Time.UTC().Format(time.RFC3339Nano),
		Severity:  severity(e.Status),
		Resource: logResource{Type: "http_load_balancer", Labels: map[string]string{
			"project_id": e.Project, "forwarding_rule_name": e.ForwardingRule, "target_proxy_name": e.TargetProxy,
			"url_map_name": e.URLMap, "backend_service_name": e.BackendService, "zone": "global",
		}},
		HTTPRequest: logHTTPRequest{
			RequestMethod: e.Method, RequestURL: e.URL, Status: e.Status, UserAgent: e.UserAgent, RemoteIP: e.RemoteIP,
			ServerIP: e.ServerIP, Referer: e.Referer, Protocol: e.Protocol,
			RequestSize: sizeString(e.RequestSize), ResponseSize: sizeString(e.ResponseSize),
			Latency:     fmt.Sprintf("%.6fs", e.Latency.Seconds()),
			CacheLookup: e.CacheLookup, CacheHit: e.CacheHit, CacheValidatedWithOriginServer: e.CacheValidated,
			CacheFillBytes: sizeString(e.CacheFillBytes),
		},
		JSONPayload: logPayload{Type: "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry", StatusDetails: e.StatusDetails,
			CacheID: e.CacheID, CacheDecision: e.CacheDecision},
	}
	if e.TLSVersion != "" {
		line.JSONPayload.TLS = &logTLS{Protocol: e.TLSVersion, Cipher: e.TLSCipher}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enc.Encode(line)
}

func severity(status int) string {
	switch {
	case status >= 500:
		return "ERROR"
	case status >= 400:
		return "WARNING"
	}
	return "INFO"
}

// sizeString renders an int64 as Cloud Logging does (a decimal string), omitting zero.
func sizeString(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprint(n)
}
