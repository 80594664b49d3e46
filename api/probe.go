package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Probe is a Knative (Kubernetes) container probe as Cloud Run takes it: one handler
// (httpGet, tcpSocket or grpc) and its timing.
type Probe struct {
	HTTPGet             *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket           *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC                *GRPCAction      `json:"grpc,omitempty"`
	InitialDelaySeconds int64            `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int64            `json:"timeoutSeconds,omitempty"`
	PeriodSeconds       int64            `json:"periodSeconds,omitempty"`
	SuccessThreshold    int64            `json:"successThreshold,omitempty"`
	FailureThreshold    int64            `json:"failureThreshold,omitempty"`
}

// HTTPGetAction probes with GET path on the container's port (or Port); any status
// from 200 to 399 is a success.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        int64        `json:"port,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header a probe sends.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction probes by opening a connection to the container's port (or Port).
type TCPSocketAction struct {
	Port int64 `json:"port,omitempty"`
}

// GRPCAction probes with the gRPC health checking protocol; kept, refused by
// validation (not run here).
type GRPCAction struct {
	Port    int64  `json:"port,omitempty"`
	Service string `json:"service,omitempty"`
}

// Cloud Run's probe defaults (its documentation of startup and liveness probes): a
// startup probe without a handler checks TCP on the container port.
const (
	DefaultProbePeriodSeconds    = 10
	DefaultProbeTimeoutSeconds   = 1
	DefaultProbeFailureThreshold = 3
	DefaultProbeSuccessThreshold = 1
	maxProbeSeconds              = 240
)

// WithDefaults is the probe with Kubernetes' and Cloud Run's defaults filled in.
func (p Probe) WithDefaults() Probe {
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = DefaultProbePeriodSeconds
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = DefaultProbeTimeoutSeconds
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultProbeFailureThreshold
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	return p
}

// Describe names what the probe checks, for status messages: "HTTP GET /ready" or
// "TCP".
func (p *Probe) Describe() string {
	switch {
	case p.HTTPGet != nil:
		path := p.HTTPGet.Path
		if path == "" {
			path = "/"
		}
		return "HTTP GET " + path
	case p.GRPC != nil:
		return "gRPC health"
	}
	return "TCP"
}

// validateProbe checks a probe of field (startupProbe, livenessProbe, readinessProbe)
// as Cloud Run does.
func validateProbe(field string, p *Probe) error {
	if p == nil {
		return nil
	}
	handlers := 0
	for _, set := range []bool{p.HTTPGet != nil, p.TCPSocket != nil, p.GRPC != nil} {
		if set {
			handlers++
		}
	}
	if handlers > 1 {
		return Invalid(field, "", "Exactly one of httpGet, tcpSocket and grpc may be set.")
	}
	if p.GRPC != nil {
		return Invalid(field+".grpc", "", "gRPC probes are not supported by Meridian's runtime; use httpGet or tcpSocket.")
	}
	if field == "spec.template.spec.containers[0].livenessProbe" && p.TCPSocket != nil {
		return Invalid(field+".tcpSocket", "", "Liveness probes support httpGet and grpc only.")
	}
	if p.HTTPGet != nil {
		if p.HTTPGet.Path != "" && !strings.HasPrefix(p.HTTPGet.Path, "/") {
			return Invalid(field+".httpGet.path", p.HTTPGet.Path, "Must start with '/'.")
		}
		for _, h := range p.HTTPGet.HTTPHeaders {
			if !isToken(h.Name) || strings.ContainsAny(h.Value, "\r\n\x00") {
				return Invalid(field+".httpGet.httpHeaders", h.Name, "Header names must be tokens and values must not span lines.")
			}
		}
	}
	return firstError(
		validateRange(field+".port", portOf(p), 0, 65535),
		validateRange(field+".initialDelaySeconds", p.InitialDelaySeconds, 0, maxProbeSeconds),
		validateRange(field+".timeoutSeconds", p.TimeoutSeconds, 0, maxProbeSeconds),
		validateRange(field+".periodSeconds", p.PeriodSeconds, 0, maxProbeSeconds),
		validateRange(field+".successThreshold", p.SuccessThreshold, 0, 10),
		validateRange(field+".failureThreshold", p.FailureThreshold, 0, 1000),
	)
}

// portOf is the port a probe names (0: the container's port).
func portOf(p *Probe) int64 {
	switch {
	case p.HTTPGet != nil:
		return p.HTTPGet.Port
	case p.TCPSocket != nil:
		return p.TCPSocket.Port
	case p.GRPC != nil:
		return p.GRPC.Port
	}
	return 0
}

// MemoryBytes parses a Kubernetes memory quantity ("512Mi", "1Gi", "256M", "1e9",
// "134217728") into bytes.
func MemoryBytes(q string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	num, mult := q, 1.0
	for _, u := range units {
		if v, ok := strings.CutSuffix(q, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "xXpP_") || v <= 0 || math.IsInf(v*mult, 0) || v*mult > 1<<50 {
		return 0, fmt.Errorf("%q is not a memory quantity such as 512Mi or 2Gi", q)
	}
	return int64(v * mult), nil
}

// CPUCores parses a Kubernetes CPU quantity ("1", "2", "500m", "0.5") into cores.
func CPUCores(q string) (float64, error) {
	if m, ok := strings.CutSuffix(q, "m"); ok {
		v, err := strconv.ParseInt(m, 10, 64)
		if err != nil || v <= 0 || v > 1_000_000 {
			return 0, fmt.Errorf("%q is not a CPU quantity such as 1, 2 or 500m", q)
		}
		return float64(v) / 1000, nil
	}
	v, err := strconv.ParseFloat(q, 64)
	if err != nil || strings.ContainsAny(q, "xXpP_eE") || v <= 0 || v > 1000 {
		return 0, fmt.Errorf("%q is not a CPU quantity such as 1, 2 or 500m", q)
	}
	return v, nil
}

// validateResources checks the container's limits parse.
func validateResources(r *ResourceRequirements) error {
	if r == nil {
		return nil
	}
	for name, q := range r.Limits {
		var err error
		switch name {
		case "memory":
			_, err = MemoryBytes(q)
		case "cpu":
			_, err = CPUCores(q)
		default:
			continue // nvidia.com/gpu and others: kept
		}
		if err != nil {
			return Invalid("spec.template.spec.containers[0].resources.limits."+name, q, err.Error()+".")
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2), as a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
