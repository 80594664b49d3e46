package api

import (
	"fmt"
	"strings"
)

// Cloud CDN limits and defaults (reference §1 cdnPolicy, [TTL], [CACHE]).
const (
	MaxTTLSeconds            = 31622400 // one year, the cap of every TTL field
	MaxNegativeCachingTTL    = 1800
	MaxServeWhileStale       = 604800
	MaxBypassCacheHeaders    = 5
	MaxCacheKeyNamedCookies  = 5
	defaultCdnTTL            = 3600
	defaultCdnMaxTTL         = 86400
	defaultServeWhileStale   = 86400
	defaultSignedURLCacheAge = 3600
)

// Cache modes.
const (
	CacheAllStatic   = "CACHE_ALL_STATIC"
	UseOriginHeaders = "USE_ORIGIN_HEADERS"
	ForceCacheAll    = "FORCE_CACHE_ALL"
)

// negativeCachingCodes are the status codes a negativeCachingPolicy may name.
var negativeCachingCodes = map[int64]bool{300: true, 301: true, 302: true, 307: true, 308: true, 404: true, 405: true, 410: true, 421: true, 451: true, 501: true}

// forbiddenCacheKeyHeaders are headers GCP refuses in cacheKeyPolicy.includeHttpHeaders
// because their cardinality would defeat the cache.
var forbiddenCacheKeyHeaders = []string{"accept", "accept-encoding", "accept-language", "authorization", "cookie", "host", "range", "user-agent", "referer", "if-modified-since", "if-none-match", "if-match", "if-unmodified-since", "if-range", "x-goog-"}

func (b *BackendService) SetDefaults() {
	b.Kind = "compute#backendService"
	if b.Protocol == "" {
		b.Protocol = "HTTP"
	}
	if b.LoadBalancingScheme == "" {
		b.LoadBalancingScheme = "EXTERNAL"
	}
	if b.TimeoutSec == 0 {
		b.TimeoutSec = 30
	}
	if b.SessionAffinity == "" {
		b.SessionAffinity = "NONE"
	}
	for i := range b.Backends {
		b.Backends[i].setDefaults()
	}
	if b.EnableCDN && b.CdnPolicy == nil {
		b.CdnPolicy = &CdnPolicy{}
	}
	if b.CdnPolicy != nil {
		b.CdnPolicy.setDefaults()
		b.CdnPolicy.SignedURLKeyNames = nil
		for _, k := range b.SignedURLKeys {
			b.CdnPolicy.SignedURLKeyNames = append(b.CdnPolicy.SignedURLKeyNames, k.KeyName)
		}
	}
	if b.OutlierDetection != nil {
		b.OutlierDetection.setDefaults()
	}
	if b.LogConfig != nil && b.LogConfig.Enable {
		if b.LogConfig.SampleRate == nil {
			b.LogConfig.SampleRate = ptr(1.0)
		}
		if b.LogConfig.OptionalMode == "" {
			b.LogConfig.OptionalMode = "EXCLUDE_ALL_OPTIONAL"
		}
	}
}

func (be *Backend) setDefaults() {
	if be.BalancingMode == "" {
		be.BalancingMode = "UTILIZATION"
	}
	if be.CapacityScaler == nil {
		be.CapacityScaler = ptr(1.0)
	}
}

// setDefaults applies GCP's per-mode defaults: TTL fields exist only in the modes that
// use them ([TTL]: USE_ORIGIN_HEADERS takes no TTLs, FORCE_CACHE_ALL no maxTtl).
func (c *CdnPolicy) setDefaults() {
	if c.CacheMode == "" {
		c.CacheMode = CacheAllStatic
	}
	switch c.CacheMode {
	case CacheAllStatic:
		setIfNil(&c.DefaultTTL, defaultCdnTTL)
		setIfNil(&c.MaxTTL, defaultCdnMaxTTL)
		setIfNil(&c.ClientTTL, defaultCdnTTL)
	case ForceCacheAll:
		setIfNil(&c.DefaultTTL, defaultCdnTTL)
		setIfNil(&c.ClientTTL, defaultCdnTTL)
	}
	if c.NegativeCaching == nil {
		c.NegativeCaching = ptr(false)
	}
	setIfNil(&c.ServeWhileStale, defaultServeWhileStale)
	setIfNil(&c.SignedURLCacheMaxAgeSec, defaultSignedURLCacheAge)
	if c.RequestCoalescing == nil {
		c.RequestCoalescing = ptr(true)
	}
	if c.CacheKeyPolicy == nil {
		c.CacheKeyPolicy = &CacheKeyPolicy{}
	}
	k := c.CacheKeyPolicy
	for _, f := range []**bool{&k.IncludeHost, &k.IncludeProtocol, &k.IncludeQueryString} {
		if *f == nil {
			*f = ptr(true)
		}
	}
}

func setIfNil(p **int64, v int64) {
	if *p == nil {
		*p = ptr(v)
	}
}

// setDefaults fills GCP's outlier detection defaults (reference §1 OutlierDetection).
func (o *OutlierDetection) setDefaults() {
	setIfNil(&o.ConsecutiveErrors, 5)
	setIfNil(&o.ConsecutiveGatewayFailure, 3)
	setIfNil(&o.EnforcingConsecutiveErrors, 0)
	setIfNil(&o.EnforcingConsecutiveGatewayFailure, 100)
	setIfNil(&o.MaxEjectionPercent, 50)
	if o.Interval == nil {
		o.Interval = &Duration{Seconds: 1}
	}
	if o.BaseEjectionTime == nil {
		o.BaseEjectionTime = &Duration{Seconds: 30}
	}
}

func (b *BackendService) Validate() error {
	return firstError(
		ValidateName("resource.name", b.Name),
		oneOf("resource.protocol", b.Protocol, "HTTP", "HTTPS", "HTTP2", "H2C", "TCP", "SSL", "UDP", "GRPC", "UNSPECIFIED"),
		oneOf("resource.loadBalancingScheme", b.LoadBalancingScheme, "EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED", "INTERNAL", "EXTERNAL_PASSTHROUGH"),
		oneOf("resource.sessionAffinity", b.SessionAffinity, "NONE", "CLIENT_IP", "CLIENT_IP_PROTO", "CLIENT_IP_PORT_PROTO", "GENERATED_COOKIE", "HEADER_FIELD", "HTTP_COOKIE", "CLIENT_IP_NO_DESTINATION", "STRONG_COOKIE_AFFINITY"),
		oneOf("resource.localityLbPolicy", b.LocalityLbPolicy, "ROUND_ROBIN", "LEAST_REQUEST", "RING_HASH", "RANDOM", "ORIGINAL_DESTINATION", "MAGLEV", "WEIGHTED_MAGLEV", "WEIGHTED_ROUND_ROBIN"),
		oneOf("resource.compressionMode", b.CompressionMode, "AUTOMATIC", "DISABLED"),
		validateRange("resource.timeoutSec", b.TimeoutSec, 1, 2147483647),
		validateRange("resource.port", b.Port, 0, 65535),
		b.validateBackends(),
		validateMax("resource.healthChecks", len(b.HealthChecks), 1),
		validateCustomHeaders("resource.customRequestHeaders", b.CustomRequestHeaders),
		validateCustomHeaders("resource.customResponseHeaders", b.CustomResponseHeaders),
		b.CdnPolicy.validate(),
		b.OutlierDetection.validate(),
		b.LogConfig.validate(),
	)
}

func (b *BackendService) validateBackends() error {
	seenGroup := map[string]bool{}
	seenRegion := map[string]bool{}
	for i, be := range b.Backends {
		field := fmt.Sprintf("resource.backends[%d]", i)
		if be.Group == "" {
			return Required(field + ".group")
		}
		if seenGroup[be.Group] {
			return Invalid(field+".group", be.Group, "Duplicate backend group.")
		}
		seenGroup[be.Group] = true
		// A backend service holds at most one serverless NEG per region [NEG]; the only
		// regional NEGs Meridian has are serverless ones.
		if p, err := ParseResourcePath(be.Group, "_"); err == nil && p.Region != "" {
			if seenRegion[p.Region] {
				return Invalid(field+".group", be.Group, "A backend service can have at most one serverless network endpoint group per region.")
			}
			seenRegion[p.Region] = true
		}
		if err := firstError(
			oneOf(field+".balancingMode", be.BalancingMode, "UTILIZATION", "RATE", "CONNECTION", "IN_FLIGHT", "CUSTOM_METRICS"),
			oneOf(field+".preference", be.Preference, "DEFAULT", "PREFERRED"),
			validateCapacityScaler(field+".capacityScaler", be.CapacityScaler),
			validateNonNegative(field+".maxRate", float64(be.MaxRate)),
			validateNonNegative(field+".maxRatePerEndpoint", be.MaxRatePerEndpoint),
			validateNonNegative(field+".maxRatePerInstance", be.MaxRatePerInstance),
			validateFraction(field+".maxUtilization", be.MaxUtilization),
		); err != nil {
			return err
		}
	}
	return nil
}

// validateCapacityScaler: GCP allows 0 (drain) or a value in [0.1, 1].
func validateCapacityScaler(field string, v *float64) error {
	if v == nil || *v == 0 || (*v >= 0.1 && *v <= 1) {
		return nil
	}
	return Invalid(field, *v, "Must be 0 or between 0.1 and 1.0.")
}

func (c *CdnPolicy) validate() error {
	if c == nil {
		return nil
	}
	const f = "resource.cdnPolicy"
	if err := oneOf(f+".cacheMode", c.CacheMode, CacheAllStatic, UseOriginHeaders, ForceCacheAll); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		v    *int64
	}{{"defaultTtl", c.DefaultTTL}, {"maxTtl", c.MaxTTL}, {"clientTtl", c.ClientTTL}} {
		if t.v != nil {
			if err := validateRange(f+"."+t.name, *t.v, 0, MaxTTLSeconds); err != nil {
				return err
			}
		}
	}
	switch c.CacheMode {
	case UseOriginHeaders:
		// [TTL]: TTL overrides do not apply when the origin's headers rule.
		for _, t := range []struct {
			name string
			v    *int64
		}{{"defaultTtl", c.DefaultTTL}, {"maxTtl", c.MaxTTL}, {"clientTtl", c.ClientTTL}} {
			if t.v != nil {
				return Conflict(f+"."+t.name, fmt.Sprintf("Invalid value for field '%s.%s': %d. %s cannot be specified with cache mode USE_ORIGIN_HEADERS.", f, t.name, *t.v, t.name))
			}
		}
	case ForceCacheAll:
		if c.MaxTTL != nil {
			return Conflict(f+".maxTtl", fmt.Sprintf("Invalid value for field '%s.maxTtl': %d. maxTtl cannot be specified with cache mode FORCE_CACHE_ALL.", f, *c.MaxTTL))
		}
	}
	if c.DefaultTTL != nil && c.MaxTTL != nil && *c.DefaultTTL > *c.MaxTTL {
		return Invalid(f+".defaultTtl", *c.DefaultTTL, fmt.Sprintf("Must be less than or equal to maxTtl (%d).", *c.MaxTTL))
	}
	if c.ClientTTL != nil && c.MaxTTL != nil && *c.ClientTTL > *c.MaxTTL {
		return Invalid(f+".clientTtl", *c.ClientTTL, fmt.Sprintf("Must be less than or equal to maxTtl (%d).", *c.MaxTTL))
	}
	if c.ServeWhileStale != nil {
		if err := validateRange(f+".serveWhileStale", *c.ServeWhileStale, 0, MaxServeWhileStale); err != nil {
			return err
		}
	}
	if c.SignedURLCacheMaxAgeSec != nil {
		if err := validateRange(f+".signedUrlCacheMaxAgeSec", *c.SignedURLCacheMaxAgeSec, 0, MaxTTLSeconds); err != nil {
			return err
		}
	}
	return firstError(c.validateNegativeCaching(), c.validateBypassHeaders(), c.CacheKeyPolicy.validate())
}

func (c *CdnPolicy) validateNegativeCaching() error {
	const f = "resource.cdnPolicy.negativeCachingPolicy"
	if len(c.NegativeCachingPolicy) > 0 && (c.NegativeCaching == nil || !*c.NegativeCaching) {
		return Conflict(f, "Invalid value for field '"+f+"'. negativeCachingPolicy can only be specified when negativeCaching is enabled.")
	}
	seen := map[int64]bool{}
	for i, p := range c.NegativeCachingPolicy {
		field := fmt.Sprintf("%s[%d]", f, i)
		if !negativeCachingCodes[p.Code] {
			return Invalid(field+".code", p.Code, "Must be one of 300, 301, 302, 307, 308, 404, 405, 410, 421, 451 or 501.")
		}
		if seen[p.Code] {
			return Invalid(field+".code", p.Code, "Duplicate status code.")
		}
		seen[p.Code] = true
		if err := validateRange(field+".ttl", p.TTL, 0, MaxNegativeCachingTTL); err != nil {
			return err
		}
	}
	return nil
}

func (c *CdnPolicy) validateBypassHeaders() error {
	const f = "resource.cdnPolicy.bypassCacheOnRequestHeaders"
	if err := validateMax(f, len(c.BypassCacheOnRequestHeaders), MaxBypassCacheHeaders); err != nil {
		return err
	}
	for i, h := range c.BypassCacheOnRequestHeaders {
		if !isHeaderName(h.HeaderName) {
			return Invalid(fmt.Sprintf("%s[%d].headerName", f, i), h.HeaderName, "Must be a valid HTTP header name.")
		}
	}
	return nil
}

func (k *CacheKeyPolicy) validate() error {
	if k == nil {
		return nil
	}
	const f = "resource.cdnPolicy.cacheKeyPolicy"
	if len(k.QueryStringWhitelist) > 0 && len(k.QueryStringBlacklist) > 0 {
		return Conflict(f, "Invalid value for field '"+f+"': queryStringWhitelist and queryStringBlacklist cannot both be specified.")
	}
	if (len(k.QueryStringWhitelist) > 0 || len(k.QueryStringBlacklist) > 0) && k.IncludeQueryString != nil && !*k.IncludeQueryString {
		return Conflict(f, "Invalid value for field '"+f+"': a query string allow or deny list requires includeQueryString to be true.")
	}
	for i, h := range k.IncludeHTTPHeaders {
		field := fmt.Sprintf("%s.includeHttpHeaders[%d]", f, i)
		if !isHeaderName(h) {
			return Invalid(field, h, "Must be a valid HTTP header name.")
		}
		lh := strings.ToLower(h)
		for _, bad := range forbiddenCacheKeyHeaders {
			if lh == bad || (strings.HasSuffix(bad, "-") && strings.HasPrefix(lh, bad)) {
				return Invalid(field, h, "This header cannot be used in a cache key.")
			}
		}
	}
	return validateMax(f+".includeNamedCookies", len(k.IncludeNamedCookies), MaxCacheKeyNamedCookies)
}

func (o *OutlierDetection) validate() error {
	if o == nil {
		return nil
	}
	const f = "resource.outlierDetection"
	for _, p := range []struct {
		name     string
		v        *int64
		min, max int64
	}{
		{"consecutiveErrors", o.ConsecutiveErrors, 1, 1000},
		{"consecutiveGatewayFailure", o.ConsecutiveGatewayFailure, 1, 1000},
		{"enforcingConsecutiveErrors", o.EnforcingConsecutiveErrors, 0, 100},
		{"enforcingConsecutiveGatewayFailure", o.EnforcingConsecutiveGatewayFailure, 0, 100},
		{"enforcingSuccessRate", o.EnforcingSuccessRate, 0, 100},
		{"maxEjectionPercent", o.MaxEjectionPercent, 0, 100},
	} {
		if p.v != nil {
			if err := validateRange(f+"."+p.name, *p.v, p.min, p.max); err != nil {
				return err
			}
		}
	}
	return firstError(validateDuration(f+".interval", o.Interval), validateDuration(f+".baseEjectionTime", o.BaseEjectionTime))
}

func (l *LogConfig) validate() error {
	if l == nil {
		return nil
	}
	if l.SampleRate != nil && (*l.SampleRate < 0 || *l.SampleRate > 1) {
		return Invalid("resource.logConfig.sampleRate", *l.SampleRate, "Must be between 0.0 and 1.0.")
	}
	return oneOf("resource.logConfig.optionalMode", l.OptionalMode, "EXCLUDE_ALL_OPTIONAL", "INCLUDE_ALL_OPTIONAL", "CUSTOM")
}

// validateCustomHeaders checks "Name: value" lines of customRequestHeaders and
// customResponseHeaders ([HDR]); variables such as {client_ip_address} are checked by
// the data plane that expands them.
func validateCustomHeaders(field string, headers []string) error {
	for i, h := range headers {
		name, _, ok := strings.Cut(h, ":")
		if !ok || !isHeaderName(strings.TrimSpace(name)) || strings.TrimSpace(name) != name {
			return Invalid(fmt.Sprintf("%s[%d]", field, i), h, "Must be of the form 'Header-Name: value'.")
		}
	}
	return nil
}

func (b *BackendService) References() []Ref {
	var out []Ref
	for i := range b.Backends {
		out = append(out, ref(fmt.Sprintf("resource.backends[%d].group", i), &b.Backends[i].Group, "networkEndpointGroups")...)
	}
	out = append(out, refs("resource.healthChecks", b.HealthChecks, "healthChecks")...)
	out = append(out, ref("resource.securityPolicy", &b.SecurityPolicy, "securityPolicies")...)
	return out
}

// Redact hides signed URL key values; only their names are ever returned.
func (b *BackendService) Redact() { b.SignedURLKeys = nil }
