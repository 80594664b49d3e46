package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

func backendServiceType() *resourceType {
	return &resourceType{
		collection: "backendServices", noun: "backend service", plural: "backend services", regional: true,
		listFormat: "table(name, backends[].group.scoped_suffixes().list():label=BACKENDS, protocol)",
	}
}

// backendServicesCommand is `compute backend-services`.
func (a *app) backendServicesCommand() *cobra.Command {
	rt := backendServiceType()
	return a.group("backend-services", "List, create, and delete backend services.",
		a.backendServiceAddBackendCommand(rt),
		a.backendServiceAddSignedURLKeyCommand(rt),
		a.backendServiceCreateCommand(rt),
		a.deleteCommand(rt),
		a.backendServiceDeleteSignedURLKeyCommand(rt),
		a.describeCommand(rt),
		a.backendServiceGetHealthCommand(rt),
		a.listCommand(rt),
		a.backendServiceRemoveBackendCommand(rt),
		a.backendServiceUpdateCommand(rt),
		a.backendServiceUpdateBackendCommand(rt),
	)
}

// backendServiceFlags are the flags of create and update; update adds the --no-…
// flags that clear a setting.
type backendServiceFlags struct {
	description, scheme, protocol, portName, sessionAffinity, localityPolicy *optional[string]
	compressionMode, securityPolicy, edgeSecurityPolicy                      *optional[string]
	timeout, affinityCookieTTL, drainingTimeout                              *optional[int64]
	healthChecks                                                             *listValue
	healthChecksRegion                                                       *optional[string]
	globalHealthChecks                                                       bool
	customRequestHeaders, customResponseHeaders                              *repeated
	enableLogging                                                            *optionalBool
	loggingSampleRate                                                        *optional[float64]
	loggingOptional                                                          *optional[string]
	loggingOptionalFields                                                    *listValue

	enableCDN, negativeCaching, requestCoalescing                        *optionalBool
	cacheMode                                                            *optional[string]
	defaultTTL, maxTTL, clientTTL, serveWhileStale, signedURLCacheMaxAge *optional[int64]
	negativeCachingPolicy                                                *optional[[]api.NegativeCachingPolicy]
	bypassCacheHeaders                                                   *listValue
	includeHost, includeProtocol, includeQueryString                     *optionalBool
	queryStringWhitelist, queryStringBlacklist                           *listValue
	includeHTTPHeaders, includeNamedCookies                              *listValue

	// update's flags that remove a setting
	noRequestHeaders, noResponseHeaders, noHealthChecks    bool
	noDefaultTTL, noMaxTTL, noClientTTL, noServeWhileStale bool
	noNegativeCachingPolicies, noBypassCacheHeaders        bool
}

func addBackendServiceFlags(fs *pflag.FlagSet, forUpdate bool) *backendServiceFlags {
	f := &backendServiceFlags{}
	f.description = addString(fs, "description", "An optional, textual description for the backend service.")
	f.scheme = addEnum(fs, "load-balancing-scheme", "Load balancer the backend service is for (default EXTERNAL).",
		"EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL", "INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED")
	f.protocol = addEnum(fs, "protocol", "Protocol for incoming requests (default HTTP).", "HTTP", "HTTPS", "HTTP2", "H2C", "TCP", "SSL", "UDP", "GRPC", "UNSPECIFIED")
	f.portName = addString(fs, "port-name", "Named port of instance group backends.")
	f.timeout = addDuration(fs, "timeout", "Time the load balancer waits for a backend's response, e.g. 30s.")
	f.sessionAffinity = addEnum(fs, "session-affinity", "Type of session affinity.", "NONE", "CLIENT_IP", "GENERATED_COOKIE",
		"HEADER_FIELD", "HTTP_COOKIE", "STRONG_COOKIE_AFFINITY", "CLIENT_IP_PORT_PROTO", "CLIENT_IP_PROTO", "CLIENT_IP_NO_DESTINATION")
	f.affinityCookieTTL = addDuration(fs, "affinity-cookie-ttl", "TTL of the affinity cookie.")
	f.localityPolicy = addEnum(fs, "locality-lb-policy", "Load balancing algorithm within a locality.", "ROUND_ROBIN", "LEAST_REQUEST",
		"RING_HASH", "RANDOM", "ORIGINAL_DESTINATION", "MAGLEV", "WEIGHTED_MAGLEV", "WEIGHTED_ROUND_ROBIN")
	f.compressionMode = addEnum(fs, "compression-mode", "Compress text responses.", "DISABLED", "AUTOMATIC")
	f.securityPolicy = addString(fs, "security-policy", "Security policy of the backend service; empty removes it.")
	f.edgeSecurityPolicy = addString(fs, "edge-security-policy", "Edge security policy of the backend service; empty removes it.")
	f.healthChecks = addList(fs, "health-checks", "Health checks of the backend service (at most one).")
	f.healthChecksRegion = addString(fs, "health-checks-region", "Region of the health checks.")
	fs.BoolVar(&f.globalHealthChecks, "global-health-checks", false, "If set, the health checks are global (the default).")
	f.drainingTimeout = addDuration(fs, "connection-draining-timeout", "Time to let connections to a removed backend finish.")
	f.customRequestHeaders = addRepeated(fs, "custom-request-header", `Header the load balancer adds to requests, "Name: value".`)
	f.customResponseHeaders = addRepeated(fs, "custom-response-header", `Header the load balancer adds to responses, "Name: value".`)
	f.enableLogging = addOptionalBool(fs, "enable-logging", "Log the requests served by this backend service.")
	f.loggingSampleRate = addFloat(fs, "logging-sample-rate", "Fraction of requests to log, from 0.0 to 1.0.")
	f.loggingOptional = addEnum(fs, "logging-optional", "Which optional fields request logs include.", "EXCLUDE_ALL_OPTIONAL", "INCLUDE_ALL_OPTIONAL", "CUSTOM")
	f.loggingOptionalFields = addList(fs, "logging-optional-fields", "Optional fields request logs include with --logging-optional=CUSTOM, e.g. tls.protocol,tls.cipher.")

	f.enableCDN = addOptionalBool(fs, "enable-cdn", "Enable Cloud CDN for the backend service.")
	f.cacheMode = addEnum(fs, "cache-mode", "Cache setting for all responses from this backend.", "CACHE_ALL_STATIC", "USE_ORIGIN_HEADERS", "FORCE_CACHE_ALL")
	f.defaultTTL = addDuration(fs, "default-ttl", "TTL of cached responses without a TTL of their own, e.g. 3600s or 1h.")
	f.maxTTL = addDuration(fs, "max-ttl", "Maximum TTL of cached content.")
	f.clientTTL = addDuration(fs, "client-ttl", "Maximum TTL clients are told.")
	f.serveWhileStale = addDuration(fs, "serve-while-stale", "How long stale content may be served while it is revalidated; 0 disables.")
	f.signedURLCacheMaxAge = addDuration(fs, "signed-url-cache-max-age", "How long responses to signed URL requests are cached.")
	f.negativeCaching = addOptionalBool(fs, "negative-caching", "Cache error and redirect responses per status code.")
	f.negativeCachingPolicy = addOptional(fs, "negative-caching-policy", "CODE=TTL,...", "TTLs of status codes, e.g. 404=60,301=120.", parseNegativeCachingPolicy)
	f.requestCoalescing = addOptionalBool(fs, "request-coalescing", "Combine concurrent cache fills of the same content.")
	f.bypassCacheHeaders = addList(fs, "bypass-cache-on-request-headers", "Request headers whose presence bypasses the cache. Repeatable.")
	f.includeHost = addOptionalBool(fs, "cache-key-include-host", "Include the host in cache keys.")
	f.includeProtocol = addOptionalBool(fs, "cache-key-include-protocol", "Include the protocol in cache keys.")
	f.includeQueryString = addOptionalBool(fs, "cache-key-include-query-string", "Include the query string in cache keys.")
	f.queryStringWhitelist = addList(fs, "cache-key-query-string-whitelist", "Query parameters to include in cache keys (all others are left out).")
	f.queryStringBlacklist = addList(fs, "cache-key-query-string-blacklist", "Query parameters to leave out of cache keys.")
	f.includeHTTPHeaders = addList(fs, "cache-key-include-http-header", "Request headers to include in cache keys.")
	f.includeNamedCookies = addList(fs, "cache-key-include-named-cookie", "Cookies to include in cache keys.")
	if forUpdate {
		fs.BoolVar(&f.noRequestHeaders, "no-custom-request-headers", false, "Remove all custom request headers.")
		fs.BoolVar(&f.noResponseHeaders, "no-custom-response-headers", false, "Remove all custom response headers.")
		fs.BoolVar(&f.noHealthChecks, "no-health-checks", false, "Remove all health checks.")
		fs.BoolVar(&f.noDefaultTTL, "no-default-ttl", false, "Clear the default TTL.")
		fs.BoolVar(&f.noMaxTTL, "no-max-ttl", false, "Clear the maximum TTL.")
		fs.BoolVar(&f.noClientTTL, "no-client-ttl", false, "Clear the client TTL.")
		fs.BoolVar(&f.noServeWhileStale, "no-serve-while-stale", false, "Clear the serve-while-stale duration.")
		fs.BoolVar(&f.noNegativeCachingPolicies, "no-negative-caching-policies", false, "Remove all negative caching policies.")
		fs.BoolVar(&f.noBypassCacheHeaders, "no-bypass-cache-on-request-headers", false, "Remove all cache bypass headers.")
	}
	return f
}

// apply sets the fields of bs the flags give.
func (f *backendServiceFlags) apply(bs *api.BackendService, project string) {
	f.description.apply(&bs.Description)
	f.scheme.apply(&bs.LoadBalancingScheme)
	f.protocol.apply(&bs.Protocol)
	f.portName.apply(&bs.PortName)
	f.timeout.apply(&bs.TimeoutSec)
	f.sessionAffinity.apply(&bs.SessionAffinity)
	f.affinityCookieTTL.apply(&bs.AffinityCookieTTLSec)
	f.localityPolicy.apply(&bs.LocalityLbPolicy)
	f.compressionMode.apply(&bs.CompressionMode)
	if f.securityPolicy.set {
		bs.SecurityPolicy = optionalRef(project, "securityPolicies", f.securityPolicy.value)
	}
	if f.edgeSecurityPolicy.set {
		bs.EdgeSecurityPolicy = optionalRef(project, "securityPolicies", f.edgeSecurityPolicy.value)
	}
	if f.healthChecks.set {
		bs.HealthChecks = refs(project, location{region: f.healthChecksRegion.value}, "healthChecks", f.healthChecks.items)
	}
	if f.drainingTimeout.set {
		bs.ConnectionDraining = json.RawMessage(fmt.Sprintf(`{"drainingTimeoutSec":%d}`, f.drainingTimeout.value))
	}
	if f.noHealthChecks {
		bs.HealthChecks = nil
	}
	replaceList(&bs.CustomRequestHeaders, f.customRequestHeaders.items, f.noRequestHeaders)
	replaceList(&bs.CustomResponseHeaders, f.customResponseHeaders.items, f.noResponseHeaders)
	if f.enableCDN.set {
		bs.EnableCDN = f.enableCDN.value
	}
	f.applyLogging(bs)
	f.applyCDNPolicy(bs)
}

// replaceList replaces *dst with values when some were given, or empties it.
func replaceList(dst *[]string, values []string, clear bool) {
	switch {
	case clear:
		*dst = nil
	case len(values) > 0:
		*dst = values
	}
}

func (f *backendServiceFlags) applyLogging(bs *api.BackendService) {
	if !f.enableLogging.set && !f.loggingSampleRate.set && !f.loggingOptional.set && !f.loggingOptionalFields.set {
		return
	}
	if bs.LogConfig == nil {
		bs.LogConfig = &api.LogConfig{}
	}
	if f.enableLogging.set {
		bs.LogConfig.Enable = f.enableLogging.value
	}
	f.loggingSampleRate.applyPtr(&bs.LogConfig.SampleRate)
	if f.loggingOptional.set {
		bs.LogConfig.OptionalMode = f.loggingOptional.value
	}
	if f.loggingOptionalFields.set {
		bs.LogConfig.OptionalFields = f.loggingOptionalFields.items
	}
}

// applyCDNPolicy sets cdnPolicy from the CDN flags. Like gcloud, a change of cache mode
// drops the TTLs the new mode does not take unless they are given too.
func (f *backendServiceFlags) applyCDNPolicy(bs *api.BackendService) {
	if !f.anyCDNPolicyFlag() {
		return
	}
	if bs.CdnPolicy == nil {
		bs.CdnPolicy = &api.CdnPolicy{}
	}
	p := bs.CdnPolicy
	if f.cacheMode.set && f.cacheMode.value != p.CacheMode {
		if f.cacheMode.value == api.UseOriginHeaders {
			p.DefaultTTL, p.ClientTTL, p.MaxTTL = nil, nil, nil
		}
		if f.cacheMode.value == api.ForceCacheAll {
			p.MaxTTL = nil
		}
		p.CacheMode = f.cacheMode.value
	}
	for _, ttl := range []struct {
		flag  *optional[int64]
		clear bool
		field **int64
	}{
		{f.defaultTTL, f.noDefaultTTL, &p.DefaultTTL},
		{f.maxTTL, f.noMaxTTL, &p.MaxTTL},
		{f.clientTTL, f.noClientTTL, &p.ClientTTL},
		{f.serveWhileStale, f.noServeWhileStale, &p.ServeWhileStale},
	} {
		ttl.flag.applyPtr(ttl.field)
		if ttl.clear {
			*ttl.field = nil
		}
	}
	f.signedURLCacheMaxAge.applyPtr(&p.SignedURLCacheMaxAgeSec)
	f.negativeCaching.applyPtr(&p.NegativeCaching)
	f.negativeCachingPolicy.apply(&p.NegativeCachingPolicy)
	if f.noNegativeCachingPolicies {
		p.NegativeCachingPolicy = nil
	}
	f.requestCoalescing.applyPtr(&p.RequestCoalescing)
	if f.bypassCacheHeaders.set {
		p.BypassCacheOnRequestHeaders = nil
		for _, h := range f.bypassCacheHeaders.items {
			p.BypassCacheOnRequestHeaders = append(p.BypassCacheOnRequestHeaders, api.BypassCacheHeader{HeaderName: h})
		}
	}
	if f.noBypassCacheHeaders {
		p.BypassCacheOnRequestHeaders = nil
	}
	f.applyCacheKeyPolicy(p)
}

func (f *backendServiceFlags) applyCacheKeyPolicy(p *api.CdnPolicy) {
	if !f.anyCacheKeyFlag() {
		return
	}
	if p.CacheKeyPolicy == nil {
		p.CacheKeyPolicy = &api.CacheKeyPolicy{}
	}
	k := p.CacheKeyPolicy
	f.includeHost.applyPtr(&k.IncludeHost)
	f.includeProtocol.applyPtr(&k.IncludeProtocol)
	f.includeQueryString.applyPtr(&k.IncludeQueryString)
	// The allow and deny lists exclude each other: setting one drops the other, and
	// either needs the query string in the key.
	if f.queryStringWhitelist.set {
		k.QueryStringWhitelist, k.QueryStringBlacklist = f.queryStringWhitelist.items, nil
	}
	if f.queryStringBlacklist.set {
		k.QueryStringBlacklist, k.QueryStringWhitelist = f.queryStringBlacklist.items, nil
	}
	if (len(k.QueryStringWhitelist) > 0 || len(k.QueryStringBlacklist) > 0) && !f.includeQueryString.set {
		yes := true
		k.IncludeQueryString = &yes
	}
	if f.includeHTTPHeaders.set {
		k.IncludeHTTPHeaders = f.includeHTTPHeaders.items
	}
	if f.includeNamedCookies.set {
		k.IncludeNamedCookies = f.includeNamedCookies.items
	}
}

func (f *backendServiceFlags) anyCacheKeyFlag() bool {
	return f.includeHost.set || f.includeProtocol.set || f.includeQueryString.set || f.queryStringWhitelist.set ||
		f.queryStringBlacklist.set || f.includeHTTPHeaders.set || f.includeNamedCookies.set
}

func (f *backendServiceFlags) anyCDNPolicyFlag() bool {
	clearing := f.noDefaultTTL || f.noMaxTTL || f.noClientTTL || f.noServeWhileStale || f.noNegativeCachingPolicies || f.noBypassCacheHeaders
	return clearing || f.cacheMode.set || f.defaultTTL.set || f.maxTTL.set || f.clientTTL.set || f.serveWhileStale.set ||
		f.signedURLCacheMaxAge.set || f.negativeCaching.set || f.negativeCachingPolicy.set || f.requestCoalescing.set ||
		f.bypassCacheHeaders.set || f.anyCacheKeyFlag()
}

// refs turns names (or URLs) into references in one collection.
func refs(project string, loc location, collection string, names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, resourceRef(project, loc, collection, n))
	}
	return out
}

// optionalRef is a global reference, or "" (no reference) for an empty name.
func optionalRef(project, collection, name string) string {
	if name == "" {
		return ""
	}
	return resourceRef(project, location{}, collection, name)
}

func (a *app) backendServiceCreateCommand(rt *resourceType) *cobra.Command {
	var flags *backendServiceFlags
	cmd := a.resourceCommand(rt, "create", "Create a backend service.", "create", func(s *session, t target) error {
		bs := api.BackendService{Meta: api.Meta{Name: t.name}}
		flags.apply(&bs, t.project)
		return s.insert(rt, t.loc, &bs, t.name)
	})
	flags = addBackendServiceFlags(cmd.Flags(), false)
	return cmd
}

func (a *app) backendServiceUpdateCommand(rt *resourceType) *cobra.Command {
	var flags *backendServiceFlags
	cmd := a.resourceCommand(rt, "update", "Update a backend service.", "update", func(s *session, t target) error {
		if !s.flagsGiven("global", "region") {
			return errNoChange
		}
		return readModifyWrite(s, t.path(rt.collection), func(bs *api.BackendService) error {
			flags.apply(bs, t.project)
			return nil
		})
	})
	flags = addBackendServiceFlags(cmd.Flags(), true)
	return cmd
}

// backendFlags select the backend (a NEG) of add-backend, remove-backend and
// update-backend.
type backendFlags struct {
	group, groupRegion, groupZone, instanceGroup *optional[string]
	globalGroup                                  bool
}

func addBackendFlags(fs *pflag.FlagSet) *backendFlags {
	b := &backendFlags{}
	b.group = addString(fs, "network-endpoint-group", "Name or URL of the network endpoint group.")
	b.groupRegion = addString(fs, "network-endpoint-group-region", "Region of the network endpoint group (serverless NEGs).")
	b.groupZone = addString(fs, "network-endpoint-group-zone", "Zone of the network endpoint group (not supported by Meridian).")
	fs.BoolVar(&b.globalGroup, "global-network-endpoint-group", false, "If set, the network endpoint group is global (internet NEGs).")
	b.instanceGroup = addString(fs, "instance-group", "Instance group backend (not supported by Meridian).")
	return b
}

// groupRef is the reference to the selected NEG and how to name it in messages.
func (b *backendFlags) groupRef(project string) (ref, where string, err error) {
	switch {
	case b.instanceGroup.set:
		return "", "", errors.New("Meridian has no instance groups: use --network-endpoint-group with a serverless or internet network endpoint group.")
	case !b.group.set:
		return "", "", errors.New("argument --network-endpoint-group: Must be specified.")
	case b.groupZone.set:
		return "", "", errors.New("Meridian has no zonal network endpoint groups: use --network-endpoint-group-region or --global-network-endpoint-group.")
	case b.groupRegion.set && b.globalGroup:
		return "", "", errors.New("argument --global-network-endpoint-group: At most one of --global-network-endpoint-group | --network-endpoint-group-region may be specified.")
	case b.groupRegion.set:
		return resourceRef(project, location{region: b.groupRegion.value}, "networkEndpointGroups", b.group.value), "region [" + b.groupRegion.value + "]", nil
	case b.globalGroup || strings.Contains(b.group.value, "/"):
		return resourceRef(project, location{}, "networkEndpointGroups", b.group.value), "global", nil
	}
	return "", "", errors.New("Underspecified resource [" + b.group.value + "]. Specify one of the [--network-endpoint-group-region, --global-network-endpoint-group] flags.")
}

// findBackend returns the index of the backend whose group is ref, or -1.
func findBackend(bs *api.BackendService, ref, project string) int {
	want, err := api.ParseResourcePath(ref, project)
	if err != nil {
		return -1
	}
	for i, b := range bs.Backends {
		if have, err := api.ParseResourcePath(b.Group, project); err == nil && have == want {
			return i
		}
	}
	return -1
}

// balancingFlags are the capacity settings of one backend.
type balancingFlags struct {
	description, mode                           *optional[string]
	capacityScaler, maxRatePerEndpoint          *optional[float64]
	maxRatePerInstance, maxUtilization          *optional[float64]
	maxRate, maxConnections, maxConnPerEndpoint *optional[int64]
	failover                                    *optionalBool
}

func addBalancingFlags(fs *pflag.FlagSet) *balancingFlags {
	f := &balancingFlags{}
	f.description = addString(fs, "description", "An optional, textual description for the backend.")
	f.mode = addEnum(fs, "balancing-mode", "How to measure whether the backend can take more load.", "UTILIZATION", "RATE", "CONNECTION", "IN_FLIGHT", "CUSTOM_METRICS")
	f.capacityScaler = addFloat(fs, "capacity-scaler", "Fraction of the backend's capacity to use, 0.0 or 0.1 to 1.0.")
	f.maxRate = addInt(fs, "max-rate", "Maximum requests per second of the whole backend.")
	f.maxRatePerEndpoint = addFloat(fs, "max-rate-per-endpoint", "Maximum requests per second of each endpoint.")
	f.maxRatePerInstance = addFloat(fs, "max-rate-per-instance", "Maximum requests per second of each instance.")
	f.maxUtilization = addFloat(fs, "max-utilization", "Target utilization, 0.0 to 1.0.")
	f.maxConnections = addInt(fs, "max-connections", "Maximum concurrent connections of the whole backend.")
	f.maxConnPerEndpoint = addInt(fs, "max-connections-per-endpoint", "Maximum concurrent connections of each endpoint.")
	f.failover = addOptionalBool(fs, "failover", "Use the backend only for failover.")
	return f
}

func (f *balancingFlags) apply(b *api.Backend) {
	f.description.apply(&b.Description)
	f.mode.apply(&b.BalancingMode)
	f.capacityScaler.applyPtr(&b.CapacityScaler)
	f.maxRate.apply(&b.MaxRate)
	f.maxRatePerEndpoint.apply(&b.MaxRatePerEndpoint)
	f.maxRatePerInstance.apply(&b.MaxRatePerInstance)
	f.maxUtilization.apply(&b.MaxUtilization)
	f.maxConnections.apply(&b.MaxConnections)
	f.maxConnPerEndpoint.apply(&b.MaxConnectionsPerEndpoint)
	if f.failover.set {
		b.Failover = f.failover.value
	}
}

// backendCommand builds add-backend, update-backend and remove-backend, which differ
// only in what they do to the backend list. add-backend needs the group not to be a
// backend yet, the others need it to be one; change gets the backend's index, or -1.
func (a *app) backendCommand(rt *resourceType, use, short string, adding, balancing bool,
	change func(bs *api.BackendService, at int, group string, bal *balancingFlags)) *cobra.Command {
	var backend *backendFlags
	var bal *balancingFlags
	cmd := a.resourceCommand(rt, use, short, "update", func(s *session, t target) error {
		group, where, err := backend.groupRef(t.project)
		if err != nil {
			return err
		}
		return readModifyWrite(s, t.path(rt.collection), func(bs *api.BackendService) error {
			at := findBackend(bs, group, t.project)
			switch {
			case adding && at >= 0:
				return fmt.Errorf("Backend [%s] in %s already exists in backend service [%s].", api.LastSegment(group), where, bs.Name)
			case !adding && at < 0:
				return fmt.Errorf("Backend [%s] in %s is not a backend of backend service [%s].", api.LastSegment(group), where, bs.Name)
			}
			change(bs, at, group, bal)
			return nil
		})
	})
	backend = addBackendFlags(cmd.Flags())
	if balancing {
		bal = addBalancingFlags(cmd.Flags())
	}
	return cmd
}

func (a *app) backendServiceAddBackendCommand(rt *resourceType) *cobra.Command {
	return a.backendCommand(rt, "add-backend", "Add a backend to a backend service.", true, true,
		func(bs *api.BackendService, _ int, group string, bal *balancingFlags) {
			b := api.Backend{Group: group}
			bal.apply(&b)
			bs.Backends = append(bs.Backends, b)
		})
}

func (a *app) backendServiceUpdateBackendCommand(rt *resourceType) *cobra.Command {
	return a.backendCommand(rt, "update-backend", "Update an existing backend of a backend service.", false, true,
		func(bs *api.BackendService, at int, _ string, bal *balancingFlags) { bal.apply(&bs.Backends[at]) })
}

func (a *app) backendServiceRemoveBackendCommand(rt *resourceType) *cobra.Command {
	return a.backendCommand(rt, "remove-backend", "Remove a backend from a backend service.", false, false,
		func(bs *api.BackendService, at int, _ string, _ *balancingFlags) {
			bs.Backends = append(bs.Backends[:at], bs.Backends[at+1:]...)
		})
}

// backendServiceGetHealthCommand asks getHealth for every backend and prints one
// document per backend, {backend, status}, as gcloud does.
func (a *app) backendServiceGetHealthCommand(rt *resourceType) *cobra.Command {
	cmd := a.resourceCommand(rt, "get-health", "Get the health of the backends of a backend service.", "get the health of", func(s *session, t target) error {
		var bs api.BackendService
		if err := s.get(t.path(rt.collection), &bs); err != nil {
			return err
		}
		var results []any
		for _, b := range bs.Backends {
			var health any
			if err := s.client.do(s.ctx, http.MethodPost, t.path(rt.collection, "getHealth"), map[string]string{"group": b.Group}, &health); err != nil {
				return err
			}
			results = append(results, map[string]any{"backend": b.Group, "status": health})
		}
		if len(results) == 0 {
			return nil
		}
		return s.show("yaml", results, false)
	})
	return cmd
}

func (a *app) backendServiceAddSignedURLKeyCommand(rt *resourceType) *cobra.Command {
	var keyName, keyFile *optional[string]
	cmd := a.resourceCommand(rt, "add-signed-url-key", "Add a Cloud CDN signed URL key to a backend service.", "add a key to", func(s *session, t target) error {
		if !keyName.set || !keyFile.set {
			return errors.New("argument --key-name and --key-file: Must be specified.")
		}
		key, err := os.ReadFile(keyFile.value)
		if err != nil {
			return errors.New("Unable to read the key file [" + keyFile.value + "]: " + err.Error())
		}
		body := api.SignedURLKey{KeyName: keyName.value, KeyValue: strings.TrimSpace(string(key))}
		return s.post(t.path(rt.collection, "addSignedUrlKey"), body)
	})
	keyName = addString(cmd.Flags(), "key-name", "Name of the signed URL key.")
	keyFile = addString(cmd.Flags(), "key-file", "File holding the 128-bit key, encoded in base64url (RFC 4648 section 5).")
	return cmd
}

func (a *app) backendServiceDeleteSignedURLKeyCommand(rt *resourceType) *cobra.Command {
	var keyName *optional[string]
	cmd := a.resourceCommand(rt, "delete-signed-url-key", "Delete a Cloud CDN signed URL key from a backend service.", "delete a key from", func(s *session, t target) error {
		if !keyName.set {
			return errors.New("argument --key-name: Must be specified.")
		}
		return s.post(t.path(rt.collection, "deleteSignedUrlKey")+"?keyName="+url.QueryEscape(keyName.value), nil)
	})
	keyName = addString(cmd.Flags(), "key-name", "Name of the signed URL key.")
	return cmd
}
