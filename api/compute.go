// Package api holds Meridian's resource types: the subset of Compute Engine v1 that the
// global external Application Load Balancer uses, and Knative serving.knative.dev/v1
// Services. The JSON shapes are Google's (field names, string enums, int64 as strings),
// so that Google's own clients can drive Meridian. This package is pure data: types,
// defaults and validation; it imports the standard library only.
//
// References between resources (a backend's group, a URL map's defaultService, …) are
// stored as relative resource paths ("projects/p/global/backendServices/b"); the API
// layer renders them as full URLs and accepts either form.
package api

import "encoding/json"

// Meta is the set of fields every Compute resource has.
type Meta struct {
	Kind              string `json:"kind,omitempty"`
	ID                uint64 `json:"id,omitempty,string"`
	Name              string `json:"name,omitempty"`
	Description       string `json:"description,omitempty"`
	CreationTimestamp string `json:"creationTimestamp,omitempty"`
	SelfLink          string `json:"selfLink,omitempty"`
}

// Duration is Compute's google.protobuf.Duration shape.
type Duration struct {
	Seconds int64 `json:"seconds,omitempty,string"`
	Nanos   int64 `json:"nanos,omitempty"`
}

// NetworkEndpointGroup is a NEG: regional SERVERLESS ones point at a Cloud Run service,
// global INTERNET_* ones hold a list of network endpoints (any HTTP origin).
type NetworkEndpointGroup struct {
	Meta
	NetworkEndpointType string            `json:"networkEndpointType,omitempty"`
	CloudRun            *NEGCloudRun      `json:"cloudRun,omitempty"`
	AppEngine           json.RawMessage   `json:"appEngine,omitempty"`
	CloudFunction       json.RawMessage   `json:"cloudFunction,omitempty"`
	DefaultPort         int64             `json:"defaultPort,omitempty"`
	Network             string            `json:"network,omitempty"`
	Subnetwork          string            `json:"subnetwork,omitempty"`
	Annotations         map[string]string `json:"annotations,omitempty"`
	Region              string            `json:"region,omitempty"`
	Zone                string            `json:"zone,omitempty"`
	Size                int64             `json:"size,omitempty"`
	PscTargetService    string            `json:"pscTargetService,omitempty"`

	// Endpoints are the network endpoints of an INTERNET_* NEG. GCP keeps them in a
	// sub-collection (attach/detach/listNetworkEndpoints), so they never appear in the
	// resource's API JSON; Meridian stores them with the NEG under this private name
	// and the API strips it on the way in and out.
	Endpoints []NetworkEndpoint `json:"meridianNetworkEndpoints,omitempty"`
}

// NEGCloudRun selects a Cloud Run service (and optionally a tag) for a serverless NEG.
type NEGCloudRun struct {
	Service string `json:"service,omitempty"`
	Tag     string `json:"tag,omitempty"`
	URLMask string `json:"urlMask,omitempty"`
}

// NetworkEndpoint is one endpoint of an INTERNET_FQDN_PORT or INTERNET_IP_PORT NEG.
type NetworkEndpoint struct {
	Fqdn                  string            `json:"fqdn,omitempty"`
	IPAddress             string            `json:"ipAddress,omitempty"`
	IPv6Address           string            `json:"ipv6Address,omitempty"`
	Port                  int64             `json:"port,omitempty"`
	Instance              string            `json:"instance,omitempty"`
	ClientDestinationPort int64             `json:"clientDestinationPort,omitempty"`
	Annotations           map[string]string `json:"annotations,omitempty"`
}

// BackendService is a global backend service: its backends (NEGs), CDN policy, outlier
// detection and custom headers.
type BackendService struct {
	Meta
	Fingerprint           string            `json:"fingerprint,omitempty"`
	Backends              []Backend         `json:"backends,omitempty"`
	HealthChecks          []string          `json:"healthChecks,omitempty"`
	TimeoutSec            int64             `json:"timeoutSec,omitempty"`
	Port                  int64             `json:"port,omitempty"`
	Protocol              string            `json:"protocol,omitempty"`
	PortName              string            `json:"portName,omitempty"`
	EnableCDN             bool              `json:"enableCDN,omitempty"`
	CdnPolicy             *CdnPolicy        `json:"cdnPolicy,omitempty"`
	SessionAffinity       string            `json:"sessionAffinity,omitempty"`
	AffinityCookieTTLSec  int64             `json:"affinityCookieTtlSec,omitempty"`
	LoadBalancingScheme   string            `json:"loadBalancingScheme,omitempty"`
	LocalityLbPolicy      string            `json:"localityLbPolicy,omitempty"`
	OutlierDetection      *OutlierDetection `json:"outlierDetection,omitempty"`
	CustomRequestHeaders  []string          `json:"customRequestHeaders,omitempty"`
	CustomResponseHeaders []string          `json:"customResponseHeaders,omitempty"`
	LogConfig             *LogConfig        `json:"logConfig,omitempty"`
	SecurityPolicy        string            `json:"securityPolicy,omitempty"`
	EdgeSecurityPolicy    string            `json:"edgeSecurityPolicy,omitempty"`
	CompressionMode       string            `json:"compressionMode,omitempty"`
	Region                string            `json:"region,omitempty"`
	Network               string            `json:"network,omitempty"`
	UsedBy                []UsedBy          `json:"usedBy,omitempty"`
	MaxStreamDuration     *Duration         `json:"maxStreamDuration,omitempty"`

	// Stored as given, not interpreted by Meridian (yet): accepted so that clients that
	// set them are not refused.
	ConnectionDraining json.RawMessage   `json:"connectionDraining,omitempty"`
	CircuitBreakers    json.RawMessage   `json:"circuitBreakers,omitempty"`
	ConsistentHash     json.RawMessage   `json:"consistentHash,omitempty"`
	Iap                json.RawMessage   `json:"iap,omitempty"`
	SecuritySettings   json.RawMessage   `json:"securitySettings,omitempty"`
	Metadatas          map[string]string `json:"metadatas,omitempty"`

	// SignedURLKeys holds the keys added with addSignedUrlKey. GCP never returns key
	// values (only their names, in cdnPolicy.signedUrlKeyNames), so, like a NEG's
	// endpoints, this private field is stored but stripped from API input and output.
	SignedURLKeys []SignedURLKey `json:"meridianSignedUrlKeys,omitempty"`
}

// UsedBy names a resource that refers to a backend service.
type UsedBy struct {
	Reference string `json:"reference,omitempty"`
}

// SignedURLKey is a key for Cloud CDN signed URLs and cookies.
type SignedURLKey struct {
	KeyName  string `json:"keyName,omitempty"`
	KeyValue string `json:"keyValue,omitempty"`
}

// Backend is one backend (a NEG) of a backend service.
type Backend struct {
	Group                     string   `json:"group,omitempty"`
	Description               string   `json:"description,omitempty"`
	BalancingMode             string   `json:"balancingMode,omitempty"`
	CapacityScaler            *float64 `json:"capacityScaler,omitempty"`
	MaxRate                   int64    `json:"maxRate,omitempty"`
	MaxRatePerInstance        float64  `json:"maxRatePerInstance,omitempty"`
	MaxRatePerEndpoint        float64  `json:"maxRatePerEndpoint,omitempty"`
	MaxConnections            int64    `json:"maxConnections,omitempty"`
	MaxConnectionsPerInstance int64    `json:"maxConnectionsPerInstance,omitempty"`
	MaxConnectionsPerEndpoint int64    `json:"maxConnectionsPerEndpoint,omitempty"`
	MaxUtilization            float64  `json:"maxUtilization,omitempty"`
	Failover                  bool     `json:"failover,omitempty"`
	Preference                string   `json:"preference,omitempty"`
}

// CdnPolicy is a backend service's Cloud CDN configuration.
type CdnPolicy struct {
	CacheMode                   string                  `json:"cacheMode,omitempty"`
	DefaultTTL                  *int64                  `json:"defaultTtl,omitempty"`
	MaxTTL                      *int64                  `json:"maxTtl,omitempty"`
	ClientTTL                   *int64                  `json:"clientTtl,omitempty"`
	NegativeCaching             *bool                   `json:"negativeCaching,omitempty"`
	NegativeCachingPolicy       []NegativeCachingPolicy `json:"negativeCachingPolicy,omitempty"`
	ServeWhileStale             *int64                  `json:"serveWhileStale,omitempty"`
	RequestCoalescing           *bool                   `json:"requestCoalescing,omitempty"`
	SignedURLCacheMaxAgeSec     *int64                  `json:"signedUrlCacheMaxAgeSec,omitempty,string"`
	SignedURLKeyNames           []string                `json:"signedUrlKeyNames,omitempty"`
	BypassCacheOnRequestHeaders []BypassCacheHeader     `json:"bypassCacheOnRequestHeaders,omitempty"`
	CacheKeyPolicy              *CacheKeyPolicy         `json:"cacheKeyPolicy,omitempty"`
}

// NegativeCachingPolicy sets the TTL of one status code when negative caching is on.
type NegativeCachingPolicy struct {
	Code int64 `json:"code,omitempty"`
	TTL  int64 `json:"ttl,omitempty"`
}

// BypassCacheHeader names a request header whose presence bypasses the cache.
type BypassCacheHeader struct {
	HeaderName string `json:"headerName,omitempty"`
}

// CacheKeyPolicy selects the parts of a request that make up its cache key.
type CacheKeyPolicy struct {
	IncludeHost          *bool    `json:"includeHost,omitempty"`
	IncludeProtocol      *bool    `json:"includeProtocol,omitempty"`
	IncludeQueryString   *bool    `json:"includeQueryString,omitempty"`
	QueryStringWhitelist []string `json:"queryStringWhitelist,omitempty"`
	QueryStringBlacklist []string `json:"queryStringBlacklist,omitempty"`
	IncludeHTTPHeaders   []string `json:"includeHttpHeaders,omitempty"`
	IncludeNamedCookies  []string `json:"includeNamedCookies,omitempty"`
}

// OutlierDetection ejects backends that keep failing.
type OutlierDetection struct {
	ConsecutiveErrors                  *int64    `json:"consecutiveErrors,omitempty"`
	ConsecutiveGatewayFailure          *int64    `json:"consecutiveGatewayFailure,omitempty"`
	EnforcingConsecutiveErrors         *int64    `json:"enforcingConsecutiveErrors,omitempty"`
	EnforcingConsecutiveGatewayFailure *int64    `json:"enforcingConsecutiveGatewayFailure,omitempty"`
	EnforcingSuccessRate               *int64    `json:"enforcingSuccessRate,omitempty"`
	Interval                           *Duration `json:"interval,omitempty"`
	BaseEjectionTime                   *Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent                 *int64    `json:"maxEjectionPercent,omitempty"`
	SuccessRateMinimumHosts            *int64    `json:"successRateMinimumHosts,omitempty"`
	SuccessRateRequestVolume           *int64    `json:"successRateRequestVolume,omitempty"`
	SuccessRateStdevFactor             *int64    `json:"successRateStdevFactor,omitempty"`
}

// LogConfig controls request logging for a backend service.
type LogConfig struct {
	Enable         bool     `json:"enable,omitempty"`
	SampleRate     *float64 `json:"sampleRate,omitempty"`
	OptionalMode   string   `json:"optionalMode,omitempty"`
	OptionalFields []string `json:"optionalFields,omitempty"`
}

// UrlMap routes requests by host and path to backend services, or redirects them.
type UrlMap struct {
	Meta
	Fingerprint        string              `json:"fingerprint,omitempty"`
	DefaultService     string              `json:"defaultService,omitempty"`
	DefaultRouteAction *HttpRouteAction    `json:"defaultRouteAction,omitempty"`
	DefaultURLRedirect *HttpRedirectAction `json:"defaultUrlRedirect,omitempty"`
	HeaderAction       *HttpHeaderAction   `json:"headerAction,omitempty"`
	HostRules          []HostRule          `json:"hostRules,omitempty"`
	PathMatchers       []PathMatcher       `json:"pathMatchers,omitempty"`
	Tests              []UrlMapTest        `json:"tests,omitempty"`
	Region             string              `json:"region,omitempty"`

	DefaultCustomErrorResponsePolicy json.RawMessage `json:"defaultCustomErrorResponsePolicy,omitempty"`
}

// HostRule sends the requests for some hosts to a path matcher.
type HostRule struct {
	Description string   `json:"description,omitempty"`
	Hosts       []string `json:"hosts,omitempty"`
	PathMatcher string   `json:"pathMatcher,omitempty"`
}

// PathMatcher routes by path, with either pathRules or routeRules.
type PathMatcher struct {
	Name               string              `json:"name,omitempty"`
	Description        string              `json:"description,omitempty"`
	DefaultService     string              `json:"defaultService,omitempty"`
	DefaultRouteAction *HttpRouteAction    `json:"defaultRouteAction,omitempty"`
	DefaultURLRedirect *HttpRedirectAction `json:"defaultUrlRedirect,omitempty"`
	HeaderAction       *HttpHeaderAction   `json:"headerAction,omitempty"`
	PathRules          []PathRule          `json:"pathRules,omitempty"`
	RouteRules         []HttpRouteRule     `json:"routeRules,omitempty"`

	DefaultCustomErrorResponsePolicy json.RawMessage `json:"defaultCustomErrorResponsePolicy,omitempty"`
}

// PathRule matches paths (longest match wins).
type PathRule struct {
	Paths       []string            `json:"paths,omitempty"`
	Service     string              `json:"service,omitempty"`
	RouteAction *HttpRouteAction    `json:"routeAction,omitempty"`
	URLRedirect *HttpRedirectAction `json:"urlRedirect,omitempty"`

	CustomErrorResponsePolicy json.RawMessage `json:"customErrorResponsePolicy,omitempty"`
}

// HttpRouteRule is a prioritised rule with match conditions.
type HttpRouteRule struct {
	Priority     int64                `json:"priority"`
	Description  string               `json:"description,omitempty"`
	MatchRules   []HttpRouteRuleMatch `json:"matchRules,omitempty"`
	Service      string               `json:"service,omitempty"`
	RouteAction  *HttpRouteAction     `json:"routeAction,omitempty"`
	URLRedirect  *HttpRedirectAction  `json:"urlRedirect,omitempty"`
	HeaderAction *HttpHeaderAction    `json:"headerAction,omitempty"`

	CustomErrorResponsePolicy json.RawMessage `json:"customErrorResponsePolicy,omitempty"`
}

// HttpRouteRuleMatch is one set of conditions of a route rule; all must hold.
type HttpRouteRuleMatch struct {
	PrefixMatch           string                    `json:"prefixMatch,omitempty"`
	FullPathMatch         string                    `json:"fullPathMatch,omitempty"`
	RegexMatch            string                    `json:"regexMatch,omitempty"`
	PathTemplateMatch     string                    `json:"pathTemplateMatch,omitempty"`
	IgnoreCase            bool                      `json:"ignoreCase,omitempty"`
	HeaderMatches         []HttpHeaderMatch         `json:"headerMatches,omitempty"`
	QueryParameterMatches []HttpQueryParameterMatch `json:"queryParameterMatches,omitempty"`
	MetadataFilters       json.RawMessage           `json:"metadataFilters,omitempty"`
}

// HttpHeaderMatch matches one request header.
type HttpHeaderMatch struct {
	HeaderName   string           `json:"headerName,omitempty"`
	ExactMatch   string           `json:"exactMatch,omitempty"`
	PrefixMatch  string           `json:"prefixMatch,omitempty"`
	SuffixMatch  string           `json:"suffixMatch,omitempty"`
	RegexMatch   string           `json:"regexMatch,omitempty"`
	PresentMatch *bool            `json:"presentMatch,omitempty"`
	RangeMatch   *Int64RangeMatch `json:"rangeMatch,omitempty"`
	InvertMatch  bool             `json:"invertMatch,omitempty"`
}

// Int64RangeMatch matches a header whose integer value is in [RangeStart, RangeEnd).
type Int64RangeMatch struct {
	RangeStart int64 `json:"rangeStart,omitempty,string"`
	RangeEnd   int64 `json:"rangeEnd,omitempty,string"`
}

// HttpQueryParameterMatch matches one query parameter.
type HttpQueryParameterMatch struct {
	Name         string `json:"name,omitempty"`
	ExactMatch   string `json:"exactMatch,omitempty"`
	RegexMatch   string `json:"regexMatch,omitempty"`
	PresentMatch *bool  `json:"presentMatch,omitempty"`
}

// HttpRouteAction is what a matched route does besides choosing a service.
type HttpRouteAction struct {
	WeightedBackendServices []WeightedBackendService `json:"weightedBackendServices,omitempty"`
	URLRewrite              *URLRewrite              `json:"urlRewrite,omitempty"`
	Timeout                 *Duration                `json:"timeout,omitempty"`
	RetryPolicy             *HttpRetryPolicy         `json:"retryPolicy,omitempty"`
	MaxStreamDuration       *Duration                `json:"maxStreamDuration,omitempty"`
	CorsPolicy              json.RawMessage          `json:"corsPolicy,omitempty"`
	FaultInjectionPolicy    json.RawMessage          `json:"faultInjectionPolicy,omitempty"`
	RequestMirrorPolicy     json.RawMessage          `json:"requestMirrorPolicy,omitempty"`
	CachePolicy             json.RawMessage          `json:"cachePolicy,omitempty"`
}

// WeightedBackendService splits traffic by weight.
type WeightedBackendService struct {
	BackendService string            `json:"backendService,omitempty"`
	Weight         int64             `json:"weight"`
	HeaderAction   *HttpHeaderAction `json:"headerAction,omitempty"`
}

// URLRewrite rewrites the request before it reaches the backend.
type URLRewrite struct {
	PathPrefixRewrite   string `json:"pathPrefixRewrite,omitempty"`
	HostRewrite         string `json:"hostRewrite,omitempty"`
	PathTemplateRewrite string `json:"pathTemplateRewrite,omitempty"`
}

// HttpRetryPolicy says when and how often to retry.
type HttpRetryPolicy struct {
	RetryConditions []string  `json:"retryConditions,omitempty"`
	NumRetries      int64     `json:"numRetries,omitempty"`
	PerTryTimeout   *Duration `json:"perTryTimeout,omitempty"`
}

// HttpRedirectAction answers with a redirect.
type HttpRedirectAction struct {
	HostRedirect         string `json:"hostRedirect,omitempty"`
	PathRedirect         string `json:"pathRedirect,omitempty"`
	PrefixRedirect       string `json:"prefixRedirect,omitempty"`
	HTTPSRedirect        bool   `json:"httpsRedirect,omitempty"`
	RedirectResponseCode string `json:"redirectResponseCode,omitempty"`
	StripQuery           bool   `json:"stripQuery,omitempty"`
}

// HttpHeaderAction adds and removes request and response headers.
type HttpHeaderAction struct {
	RequestHeadersToAdd     []HttpHeaderOption `json:"requestHeadersToAdd,omitempty"`
	RequestHeadersToRemove  []string           `json:"requestHeadersToRemove,omitempty"`
	ResponseHeadersToAdd    []HttpHeaderOption `json:"responseHeadersToAdd,omitempty"`
	ResponseHeadersToRemove []string           `json:"responseHeadersToRemove,omitempty"`
}

// HttpHeaderOption is one header to add.
type HttpHeaderOption struct {
	HeaderName  string `json:"headerName,omitempty"`
	HeaderValue string `json:"headerValue,omitempty"`
	Replace     bool   `json:"replace,omitempty"`
}

// UrlMapTest is an expectation checked when the URL map is written.
type UrlMapTest struct {
	Description                  string             `json:"description,omitempty"`
	Host                         string             `json:"host,omitempty"`
	Path                         string             `json:"path,omitempty"`
	Headers                      []UrlMapTestHeader `json:"headers,omitempty"`
	Service                      string             `json:"service,omitempty"`
	ExpectedOutputURL            string             `json:"expectedOutputUrl,omitempty"`
	ExpectedRedirectResponseCode int64              `json:"expectedRedirectResponseCode,omitempty"`
}

// UrlMapTestHeader is a request header of a URL map test.
type UrlMapTestHeader struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// SslCertificate is a self-managed (PEM) or managed (ACME) certificate.
type SslCertificate struct {
	Meta
	Type                    string              `json:"type,omitempty"`
	Certificate             string              `json:"certificate,omitempty"`
	PrivateKey              string              `json:"privateKey,omitempty"`
	SelfManaged             *SelfManagedSslCert `json:"selfManaged,omitempty"`
	Managed                 *ManagedSslCert     `json:"managed,omitempty"`
	SubjectAlternativeNames []string            `json:"subjectAlternativeNames,omitempty"`
	ExpireTime              string              `json:"expireTime,omitempty"`
	Region                  string              `json:"region,omitempty"`
}

// SelfManagedSslCert is the selfManaged form of a certificate and its key.
type SelfManagedSslCert struct {
	Certificate string `json:"certificate,omitempty"`
	PrivateKey  string `json:"privateKey,omitempty"`
}

// ManagedSslCert is a certificate Meridian obtains for domains.
type ManagedSslCert struct {
	Domains      []string          `json:"domains,omitempty"`
	Status       string            `json:"status,omitempty"`
	DomainStatus map[string]string `json:"domainStatus,omitempty"`
}

// TargetHttpsProxy terminates TLS and hands requests to a URL map.
type TargetHttpsProxy struct {
	Meta
	Fingerprint             string   `json:"fingerprint,omitempty"`
	URLMap                  string   `json:"urlMap,omitempty"`
	SslCertificates         []string `json:"sslCertificates,omitempty"`
	CertificateMap          string   `json:"certificateMap,omitempty"`
	SslPolicy               string   `json:"sslPolicy,omitempty"`
	QuicOverride            string   `json:"quicOverride,omitempty"`
	TLSEarlyData            string   `json:"tlsEarlyData,omitempty"`
	HTTPKeepAliveTimeoutSec int64    `json:"httpKeepAliveTimeoutSec,omitempty"`
	ServerTLSPolicy         string   `json:"serverTlsPolicy,omitempty"`
	ProxyBind               bool     `json:"proxyBind,omitempty"`
	Region                  string   `json:"region,omitempty"`
}

// TargetHttpProxy hands plain HTTP requests to a URL map.
type TargetHttpProxy struct {
	Meta
	Fingerprint             string `json:"fingerprint,omitempty"`
	URLMap                  string `json:"urlMap,omitempty"`
	HTTPKeepAliveTimeoutSec int64  `json:"httpKeepAliveTimeoutSec,omitempty"`
	ProxyBind               bool   `json:"proxyBind,omitempty"`
	Region                  string `json:"region,omitempty"`
}

// Address is a reserved global IP address.
type Address struct {
	Meta
	Address          string            `json:"address,omitempty"`
	AddressType      string            `json:"addressType,omitempty"`
	IPVersion        string            `json:"ipVersion,omitempty"`
	NetworkTier      string            `json:"networkTier,omitempty"`
	Purpose          string            `json:"purpose,omitempty"`
	PrefixLength     int64             `json:"prefixLength,omitempty"`
	Status           string            `json:"status,omitempty"`
	Users            []string          `json:"users,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	LabelFingerprint string            `json:"labelFingerprint,omitempty"`
	Network          string            `json:"network,omitempty"`
	Subnetwork       string            `json:"subnetwork,omitempty"`
	Region           string            `json:"region,omitempty"`
}

// ForwardingRule binds an address and port range to a target proxy.
type ForwardingRule struct {
	Meta
	Fingerprint         string            `json:"fingerprint,omitempty"`
	IPAddress           string            `json:"IPAddress,omitempty"`
	IPProtocol          string            `json:"IPProtocol,omitempty"`
	PortRange           string            `json:"portRange,omitempty"`
	Ports               []string          `json:"ports,omitempty"`
	Target              string            `json:"target,omitempty"`
	LoadBalancingScheme string            `json:"loadBalancingScheme,omitempty"`
	NetworkTier         string            `json:"networkTier,omitempty"`
	IPVersion           string            `json:"ipVersion,omitempty"`
	Labels              map[string]string `json:"labels,omitempty"`
	LabelFingerprint    string            `json:"labelFingerprint,omitempty"`
	Network             string            `json:"network,omitempty"`
	Subnetwork          string            `json:"subnetwork,omitempty"`
	Region              string            `json:"region,omitempty"`
	BackendService      string            `json:"backendService,omitempty"`
	AllPorts            bool              `json:"allPorts,omitempty"`
}

// HealthCheck probes backends.
type HealthCheck struct {
	Meta
	Type               string           `json:"type,omitempty"`
	CheckIntervalSec   int64            `json:"checkIntervalSec,omitempty"`
	TimeoutSec         int64            `json:"timeoutSec,omitempty"`
	HealthyThreshold   int64            `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int64            `json:"unhealthyThreshold,omitempty"`
	HTTPHealthCheck    *HTTPHealthCheck `json:"httpHealthCheck,omitempty"`
	HTTPSHealthCheck   *HTTPHealthCheck `json:"httpsHealthCheck,omitempty"`
	HTTP2HealthCheck   *HTTPHealthCheck `json:"http2HealthCheck,omitempty"`
	TCPHealthCheck     *TCPHealthCheck  `json:"tcpHealthCheck,omitempty"`
	SSLHealthCheck     *TCPHealthCheck  `json:"sslHealthCheck,omitempty"`
	GRPCHealthCheck    json.RawMessage  `json:"grpcHealthCheck,omitempty"`
	LogConfig          json.RawMessage  `json:"logConfig,omitempty"`
	Region             string           `json:"region,omitempty"`
}

// HTTPHealthCheck is the HTTP, HTTPS or HTTP/2 probe of a health check.
type HTTPHealthCheck struct {
	Port              int64  `json:"port,omitempty"`
	PortName          string `json:"portName,omitempty"`
	PortSpecification string `json:"portSpecification,omitempty"`
	Host              string `json:"host,omitempty"`
	RequestPath       string `json:"requestPath,omitempty"`
	Response          string `json:"response,omitempty"`
	ProxyHeader       string `json:"proxyHeader,omitempty"`
}

// TCPHealthCheck is the TCP or SSL probe of a health check.
type TCPHealthCheck struct {
	Port              int64  `json:"port,omitempty"`
	PortName          string `json:"portName,omitempty"`
	PortSpecification string `json:"portSpecification,omitempty"`
	Request           string `json:"request,omitempty"`
	Response          string `json:"response,omitempty"`
	ProxyHeader       string `json:"proxyHeader,omitempty"`
}

// Operation is the result of every mutating call.
type Operation struct {
	Kind                string          `json:"kind,omitempty"`
	ID                  uint64          `json:"id,omitempty,string"`
	Name                string          `json:"name,omitempty"`
	OperationType       string          `json:"operationType,omitempty"`
	Status              string          `json:"status,omitempty"`
	Progress            int64           `json:"progress,omitempty"`
	TargetLink          string          `json:"targetLink,omitempty"`
	TargetID            uint64          `json:"targetId,omitempty,string"`
	User                string          `json:"user,omitempty"`
	ClientOperationID   string          `json:"clientOperationId,omitempty"`
	InsertTime          string          `json:"insertTime,omitempty"`
	StartTime           string          `json:"startTime,omitempty"`
	EndTime             string          `json:"endTime,omitempty"`
	CreationTimestamp   string          `json:"creationTimestamp,omitempty"`
	SelfLink            string          `json:"selfLink,omitempty"`
	Region              string          `json:"region,omitempty"`
	Zone                string          `json:"zone,omitempty"`
	Description         string          `json:"description,omitempty"`
	Error               *OperationError `json:"error,omitempty"`
	HTTPErrorStatusCode int64           `json:"httpErrorStatusCode,omitempty"`
	HTTPErrorMessage    string          `json:"httpErrorMessage,omitempty"`
}

// OperationError lists the errors of a failed operation.
type OperationError struct {
	Errors []OperationErrorItem `json:"errors,omitempty"`
}

// OperationErrorItem is one error of a failed operation.
type OperationErrorItem struct {
	Code     string `json:"code,omitempty"`
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
}

// CacheInvalidationRule is the body of urlMaps.invalidateCache.
type CacheInvalidationRule struct {
	Path      string   `json:"path,omitempty"`
	Host      string   `json:"host,omitempty"`
	CacheTags []string `json:"cacheTags,omitempty"`
	// Soft (Meridian's, beyond GCP) marks matching entries stale, so they are
	// revalidated with the origin instead of fetched again.
	Soft bool `json:"meridianSoft,omitempty"`
}

// UrlMapValidationResult is the answer of urlMaps.validate.
type UrlMapValidationResult struct {
	LoadErrors    []string      `json:"loadErrors,omitempty"`
	LoadSucceeded bool          `json:"loadSucceeded"`
	TestFailures  []TestFailure `json:"testFailures,omitempty"`
	TestPassed    bool          `json:"testPassed"`
}

// TestFailure is one failed URL map test.
type TestFailure struct {
	Host                         string `json:"host,omitempty"`
	Path                         string `json:"path,omitempty"`
	ExpectedService              string `json:"expectedService,omitempty"`
	ActualService                string `json:"actualService,omitempty"`
	ExpectedOutputURL            string `json:"expectedOutputUrl,omitempty"`
	ActualOutputURL              string `json:"actualOutputUrl,omitempty"`
	ExpectedRedirectResponseCode int64  `json:"expectedRedirectResponseCode,omitempty"`
	ActualRedirectResponseCode   int64  `json:"actualRedirectResponseCode,omitempty"`
}
