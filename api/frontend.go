package api

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Limits of target proxies (reference §1).
const (
	maxProxyCertificates = 15
	minKeepAliveSec      = 5
	maxKeepAliveSec      = 1200
)

func (t *TargetHttpsProxy) SetDefaults() {
	t.Kind = "compute#targetHttpsProxy"
	if t.QuicOverride == "" {
		t.QuicOverride = "NONE"
	}
}

func (t *TargetHttpsProxy) Validate() error {
	if err := ValidateName("resource.name", t.Name); err != nil {
		return err
	}
	if t.URLMap == "" {
		return Required("resource.urlMap")
	}
	if len(t.SslCertificates) == 0 && t.CertificateMap == "" {
		return Required("resource.sslCertificates")
	}
	return firstError(
		validateMax("resource.sslCertificates", len(t.SslCertificates), maxProxyCertificates),
		oneOf("resource.quicOverride", t.QuicOverride, "NONE", "ENABLE", "DISABLE"),
		oneOf("resource.tlsEarlyData", t.TLSEarlyData, "DISABLED", "PERMISSIVE", "STRICT", "UNRESTRICTED"),
		validateKeepAlive(t.HTTPKeepAliveTimeoutSec),
	)
}

func (t *TargetHttpsProxy) References() []Ref {
	return append(append(ref("resource.urlMap", &t.URLMap, "urlMaps"), refs("resource.sslCertificates", t.SslCertificates, "sslCertificates")...),
		ref("resource.sslPolicy", &t.SslPolicy, "sslPolicies")...)
}

func (t *TargetHttpProxy) SetDefaults() { t.Kind = "compute#targetHttpProxy" }

func (t *TargetHttpProxy) Validate() error {
	if err := ValidateName("resource.name", t.Name); err != nil {
		return err
	}
	if t.URLMap == "" {
		return Required("resource.urlMap")
	}
	return validateKeepAlive(t.HTTPKeepAliveTimeoutSec)
}

func (t *TargetHttpProxy) References() []Ref {
	return ref("resource.urlMap", &t.URLMap, "urlMaps")
}

// validateKeepAlive: unset means GCP's default of 610 s.
func validateKeepAlive(v int64) error {
	if v == 0 {
		return nil
	}
	return validateRange("resource.httpKeepAliveTimeoutSec", v, minKeepAliveSec, maxKeepAliveSec)
}

func (a *Address) SetDefaults() {
	a.Kind = "compute#address"
	if a.AddressType == "" {
		a.AddressType = "EXTERNAL"
	}
	if a.IPVersion == "" {
		a.IPVersion = "IPV4"
	}
	if a.NetworkTier == "" {
		a.NetworkTier = "PREMIUM"
	}
}

func (a *Address) Validate() error {
	if err := ValidateName("resource.name", a.Name); err != nil {
		return err
	}
	if a.Address != "" && net.ParseIP(a.Address) == nil {
		return Invalid("resource.address", a.Address, "Must be an IP address.")
	}
	return firstError(
		oneOf("resource.addressType", a.AddressType, "EXTERNAL", "INTERNAL"),
		oneOf("resource.ipVersion", a.IPVersion, "IPV4", "IPV6"),
		oneOf("resource.networkTier", a.NetworkTier, "PREMIUM"),
	)
}

func (a *Address) References() []Ref { return nil }

func (f *ForwardingRule) SetDefaults() {
	f.Kind = "compute#forwardingRule"
	if f.IPProtocol == "" {
		f.IPProtocol = "TCP"
	}
	if f.LoadBalancingScheme == "" {
		f.LoadBalancingScheme = "EXTERNAL"
	}
	if f.NetworkTier == "" {
		f.NetworkTier = "PREMIUM"
	}
	if f.PortRange == "" && len(f.Ports) == 1 {
		f.PortRange, f.Ports = f.Ports[0], nil
	}
	// GCP returns a single port as a range: "443" is stored as "443-443".
	if lo, hi, err := ParsePortRange(f.PortRange); err == nil {
		f.PortRange = fmt.Sprintf("%d-%d", lo, hi)
	}
}

func (f *ForwardingRule) Validate() error {
	if err := ValidateName("resource.name", f.Name); err != nil {
		return err
	}
	if f.Target == "" {
		return Required("resource.target")
	}
	if f.PortRange == "" {
		return Required("resource.portRange")
	}
	if len(f.Ports) > 0 {
		return Conflict("resource.ports", "Global forwarding rules take a portRange, not ports.")
	}
	if _, _, err := ParsePortRange(f.PortRange); err != nil {
		return Invalid("resource.portRange", f.PortRange, err.Error())
	}
	return firstError(
		oneOf("resource.IPProtocol", f.IPProtocol, "TCP"),
		oneOf("resource.loadBalancingScheme", f.LoadBalancingScheme, "EXTERNAL", "EXTERNAL_MANAGED"),
		oneOf("resource.networkTier", f.NetworkTier, "PREMIUM"),
		oneOf("resource.ipVersion", f.IPVersion, "IPV4", "IPV6"),
	)
}

// References covers the target; IPAddress is resolved by the control plane, since it
// may be a literal address or an address resource's URL.
func (f *ForwardingRule) References() []Ref {
	return ref("resource.target", &f.Target, "targetHttpProxies", "targetHttpsProxies")
}

// ParsePortRange parses "443" or "8000-8080".
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = strconv.Atoi(a)
	if err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("Must be a port or a port range such as 80 or 8080-8090.")
	}
	hi = lo
	if isRange {
		hi, err = strconv.Atoi(b)
		if err != nil || hi < lo || hi > 65535 {
			return 0, 0, fmt.Errorf("Must be a port or a port range such as 80 or 8080-8090.")
		}
	}
	return lo, hi, nil
}

func (h *HealthCheck) SetDefaults() {
	h.Kind = "compute#healthCheck"
	for _, p := range []*int64{&h.CheckIntervalSec, &h.TimeoutSec} {
		if *p == 0 {
			*p = 5
		}
	}
	for _, p := range []*int64{&h.HealthyThreshold, &h.UnhealthyThreshold} {
		if *p == 0 {
			*p = 2
		}
	}
	for _, hc := range []*HTTPHealthCheck{h.HTTPHealthCheck, h.HTTPSHealthCheck, h.HTTP2HealthCheck} {
		if hc == nil {
			continue
		}
		if hc.Port == 0 && hc.PortName == "" {
			hc.Port = map[*HTTPHealthCheck]int64{h.HTTPHealthCheck: 80, h.HTTPSHealthCheck: 443, h.HTTP2HealthCheck: 443}[hc]
		}
		if hc.RequestPath == "" {
			hc.RequestPath = "/"
		}
		if hc.ProxyHeader == "" {
			hc.ProxyHeader = "NONE"
		}
		if hc.PortSpecification == "" {
			hc.PortSpecification = "USE_FIXED_PORT"
		}
	}
	for _, tc := range []*TCPHealthCheck{h.TCPHealthCheck, h.SSLHealthCheck} {
		if tc == nil {
			continue
		}
		if tc.Port == 0 && tc.PortName == "" {
			tc.Port = map[*TCPHealthCheck]int64{h.TCPHealthCheck: 80, h.SSLHealthCheck: 443}[tc]
		}
		if tc.ProxyHeader == "" {
			tc.ProxyHeader = "NONE"
		}
		if tc.PortSpecification == "" {
			tc.PortSpecification = "USE_FIXED_PORT"
		}
	}
}

func (h *HealthCheck) Validate() error {
	if err := ValidateName("resource.name", h.Name); err != nil {
		return err
	}
	probes := map[string]bool{
		"HTTP": h.HTTPHealthCheck != nil, "HTTPS": h.HTTPSHealthCheck != nil, "HTTP2": h.HTTP2HealthCheck != nil,
		"TCP": h.TCPHealthCheck != nil, "SSL": h.SSLHealthCheck != nil, "GRPC": h.GRPCHealthCheck != nil,
	}
	if h.Type == "" {
		return Required("resource.type")
	}
	has, known := probes[h.Type]
	if !known {
		return Invalid("resource.type", h.Type, "Must be one of [HTTP, HTTPS, HTTP2, TCP, SSL, GRPC].")
	}
	if !has {
		return Required("resource." + strings.ToLower(h.Type[:1]) + strings.ToLower(h.Type[1:]) + "HealthCheck")
	}
	for t, set := range probes {
		if set && t != h.Type {
			return Conflict("resource.type", fmt.Sprintf("The health check has type %s but also a %s probe.", h.Type, t))
		}
	}
	if err := firstError(
		validateRange("resource.checkIntervalSec", h.CheckIntervalSec, 1, 300),
		validateRange("resource.timeoutSec", h.TimeoutSec, 1, 300),
		validateRange("resource.healthyThreshold", h.HealthyThreshold, 1, 10),
		validateRange("resource.unhealthyThreshold", h.UnhealthyThreshold, 1, 10),
	); err != nil {
		return err
	}
	if h.TimeoutSec > h.CheckIntervalSec {
		return Invalid("resource.timeoutSec", h.TimeoutSec, "Must be less than or equal to checkIntervalSec.")
	}
	for _, hc := range []*HTTPHealthCheck{h.HTTPHealthCheck, h.HTTPSHealthCheck, h.HTTP2HealthCheck} {
		if hc != nil && !strings.HasPrefix(hc.RequestPath, "/") {
			return Invalid("resource.httpHealthCheck.requestPath", hc.RequestPath, "Must start with '/'.")
		}
		if hc != nil {
			if err := validateRange("resource.httpHealthCheck.port", hc.Port, 0, 65535); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *HealthCheck) References() []Ref { return nil }
