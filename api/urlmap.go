package api

import (
	"fmt"
	"regexp"
	"strings"
)

// URL map limits (reference §1 UrlMap).
const (
	maxURLMapTests      = 100
	maxRoutePriority    = 2147483647
	maxBackendWeight    = 1000
	maxRetries          = 25
	maxPathPrefixLength = 1024
	maxHostRewrite      = 255
)

var redirectCodes = []string{"MOVED_PERMANENTLY_DEFAULT", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT"}

var retryConditions = []string{"5xx", "gateway-error", "connect-failure", "retriable-4xx", "refused-stream", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}

func (u *UrlMap) SetDefaults() { u.Kind = "compute#urlMap" }

// Validate checks the whole URL map schema: every route has exactly one action, host
// rules name existing path matchers, paths and patterns are well formed. Running the
// map's tests needs the router and is the data plane's job.
func (u *UrlMap) Validate() error {
	if err := ValidateName("resource.name", u.Name); err != nil {
		return err
	}
	if err := validateDefaultAction("resource", u.DefaultService, u.DefaultRouteAction, u.DefaultURLRedirect); err != nil {
		return err
	}
	if err := firstError(
		validateRouteAction("resource.defaultRouteAction", u.DefaultRouteAction),
		validateRedirect("resource.defaultUrlRedirect", u.DefaultURLRedirect),
		validateHeaderAction("resource.headerAction", u.HeaderAction),
		u.validateHostRules(),
	); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range u.PathMatchers {
		pm := &u.PathMatchers[i]
		field := fmt.Sprintf("resource.pathMatchers[%d]", i)
		if names[pm.Name] {
			return Invalid(field+".name", pm.Name, "Duplicate path matcher name.")
		}
		names[pm.Name] = true
		if err := pm.validate(field); err != nil {
			return err
		}
	}
	return u.validateTests()
}

func (u *UrlMap) validateHostRules() error {
	matchers := map[string]bool{}
	for _, pm := range u.PathMatchers {
		matchers[pm.Name] = true
	}
	seenHost := map[string]bool{}
	for i, hr := range u.HostRules {
		field := fmt.Sprintf("resource.hostRules[%d]", i)
		if len(hr.Hosts) == 0 {
			return Required(field + ".hosts")
		}
		for j, h := range hr.Hosts {
			if err := validateHostPattern(fmt.Sprintf("%s.hosts[%d]", field, j), h); err != nil {
				return err
			}
			if seenHost[strings.ToLower(h)] {
				return Invalid(fmt.Sprintf("%s.hosts[%d]", field, j), h, "Duplicate host: a host may appear in only one host rule.")
			}
			seenHost[strings.ToLower(h)] = true
		}
		if hr.PathMatcher == "" {
			return Required(field + ".pathMatcher")
		}
		if !matchers[hr.PathMatcher] {
			return Invalid(field+".pathMatcher", hr.PathMatcher, "The path matcher is not defined in this URL map.")
		}
	}
	return nil
}

// validateHostPattern: a host, optionally with a port, or "*", or a leading "*." / "*-"
// wildcard; "*" is allowed only at the start ([D] HostRule.hosts).
func validateHostPattern(field, h string) error {
	if h == "*" {
		return nil
	}
	host := strings.TrimPrefix(h, "*")
	if strings.Contains(host, "*") || host == "" {
		return Invalid(field, h, "'*' is allowed only as the first character of a host pattern.")
	}
	if name, port, ok := strings.Cut(host, ":"); ok {
		if _, _, err := ParsePortRange(port); err != nil || strings.Contains(port, "-") {
			return Invalid(field, h, "The port of a host must be a number.")
		}
		host = name
	}
	host = strings.TrimLeft(host, ".-")
	if !isDomainName(host) {
		return Invalid(field, h, "Must be a valid host name.")
	}
	return nil
}

func (pm *PathMatcher) validate(field string) error {
	if err := ValidateName(field+".name", pm.Name); err != nil {
		return err
	}
	if err := validateDefaultAction(field, pm.DefaultService, pm.DefaultRouteAction, pm.DefaultURLRedirect); err != nil {
		return err
	}
	if len(pm.PathRules) > 0 && len(pm.RouteRules) > 0 {
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': a path matcher takes pathRules or routeRules, not both.", field))
	}
	if err := firstError(
		validateRouteAction(field+".defaultRouteAction", pm.DefaultRouteAction),
		validateRedirect(field+".defaultUrlRedirect", pm.DefaultURLRedirect),
		validateHeaderAction(field+".headerAction", pm.HeaderAction),
	); err != nil {
		return err
	}
	seenPath := map[string]bool{}
	for i, pr := range pm.PathRules {
		f := fmt.Sprintf("%s.pathRules[%d]", field, i)
		if len(pr.Paths) == 0 {
			return Required(f + ".paths")
		}
		for j, p := range pr.Paths {
			if err := ValidatePathRulePath(fmt.Sprintf("%s.paths[%d]", f, j), p); err != nil {
				return err
			}
			if seenPath[p] {
				return Invalid(fmt.Sprintf("%s.paths[%d]", f, j), p, "Duplicate path in the path matcher.")
			}
			seenPath[p] = true
		}
		if err := validateRouteTarget(f, pr.Service, pr.RouteAction, pr.URLRedirect); err != nil {
			return err
		}
	}
	seenPriority := map[int64]bool{}
	for i := range pm.RouteRules {
		rr := &pm.RouteRules[i]
		f := fmt.Sprintf("%s.routeRules[%d]", field, i)
		if err := validateRange(f+".priority", rr.Priority, 0, maxRoutePriority); err != nil {
			return err
		}
		if seenPriority[rr.Priority] {
			return Invalid(f+".priority", rr.Priority, "Route rule priorities must be unique within a path matcher.")
		}
		seenPriority[rr.Priority] = true
		if err := rr.validate(f); err != nil {
			return err
		}
	}
	return nil
}

func (rr *HttpRouteRule) validate(field string) error {
	for i, m := range rr.MatchRules {
		if err := m.validate(fmt.Sprintf("%s.matchRules[%d]", field, i)); err != nil {
			return err
		}
	}
	if err := validateRouteTarget(field, rr.Service, rr.RouteAction, rr.URLRedirect); err != nil {
		return err
	}
	return validateHeaderAction(field+".headerAction", rr.HeaderAction)
}

func (m *HttpRouteRuleMatch) validate(field string) error {
	set := 0
	for _, v := range []string{m.PrefixMatch, m.FullPathMatch, m.RegexMatch, m.PathTemplateMatch} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': only one of prefixMatch, fullPathMatch, regexMatch and pathTemplateMatch may be set.", field))
	}
	switch {
	case m.PrefixMatch != "" && !strings.HasPrefix(m.PrefixMatch, "/"):
		return Invalid(field+".prefixMatch", m.PrefixMatch, "Must start with '/'.")
	case m.FullPathMatch != "" && !strings.HasPrefix(m.FullPathMatch, "/"):
		return Invalid(field+".fullPathMatch", m.FullPathMatch, "Must start with '/'.")
	case m.RegexMatch != "":
		if _, err := regexp.Compile(m.RegexMatch); err != nil {
			return Invalid(field+".regexMatch", m.RegexMatch, "Must be an RE2 regular expression: "+err.Error())
		}
	case m.PathTemplateMatch != "":
		if _, err := ParsePathTemplate(m.PathTemplateMatch); err != nil {
			return Invalid(field+".pathTemplateMatch", m.PathTemplateMatch, err.Error())
		}
	}
	for i, h := range m.HeaderMatches {
		if err := h.validate(fmt.Sprintf("%s.headerMatches[%d]", field, i)); err != nil {
			return err
		}
	}
	for i, q := range m.QueryParameterMatches {
		if err := q.validate(fmt.Sprintf("%s.queryParameterMatches[%d]", field, i)); err != nil {
			return err
		}
	}
	return nil
}

func (h *HttpHeaderMatch) validate(field string) error {
	if !isHeaderName(h.HeaderName) {
		return Invalid(field+".headerName", h.HeaderName, "Must be a valid HTTP header name.")
	}
	set := 0
	for _, v := range []bool{h.ExactMatch != "", h.PrefixMatch != "", h.SuffixMatch != "", h.RegexMatch != "", h.PresentMatch != nil, h.RangeMatch != nil} {
		if v {
			set++
		}
	}
	if set != 1 {
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': exactly one of exactMatch, prefixMatch, suffixMatch, regexMatch, presentMatch and rangeMatch must be set.", field))
	}
	if h.RegexMatch != "" {
		if _, err := regexp.Compile(h.RegexMatch); err != nil {
			return Invalid(field+".regexMatch", h.RegexMatch, "Must be an RE2 regular expression: "+err.Error())
		}
	}
	if h.RangeMatch != nil && h.RangeMatch.RangeEnd <= h.RangeMatch.RangeStart {
		return Invalid(field+".rangeMatch.rangeEnd", h.RangeMatch.RangeEnd, "Must be greater than rangeStart.")
	}
	return nil
}

func (q *HttpQueryParameterMatch) validate(field string) error {
	if q.Name == "" {
		return Required(field + ".name")
	}
	set := 0
	for _, v := range []bool{q.ExactMatch != "", q.RegexMatch != "", q.PresentMatch != nil} {
		if v {
			set++
		}
	}
	if set != 1 {
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': exactly one of exactMatch, regexMatch and presentMatch must be set.", field))
	}
	if q.RegexMatch != "" {
		if _, err := regexp.Compile(q.RegexMatch); err != nil {
			return Invalid(field+".regexMatch", q.RegexMatch, "Must be an RE2 regular expression: "+err.Error())
		}
	}
	return nil
}

// validateDefaultAction: a URL map and each path matcher have exactly one default:
// a service, weighted services in a route action, or a redirect.
func validateDefaultAction(field, service string, action *HttpRouteAction, redirect *HttpRedirectAction) error {
	n := 0
	if service != "" {
		n++
	}
	if action != nil && len(action.WeightedBackendServices) > 0 {
		n++
	}
	if redirect != nil {
		n++
	}
	switch {
	case n == 0:
		return Required(field + ".defaultService")
	case n > 1:
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': only one of defaultService, defaultRouteAction.weightedBackendServices and defaultUrlRedirect may be set.", field))
	}
	return nil
}

// validateRouteTarget: a path rule or route rule has exactly one of service, a route
// action with weighted services, or a redirect. A route action may also accompany a
// service (for rewrites, timeouts and retries).
func validateRouteTarget(field, service string, action *HttpRouteAction, redirect *HttpRedirectAction) error {
	weighted := action != nil && len(action.WeightedBackendServices) > 0
	switch {
	case redirect != nil && (service != "" || action != nil):
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': urlRedirect cannot be combined with service or routeAction.", field))
	case service != "" && weighted:
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': service and routeAction.weightedBackendServices cannot both be set.", field))
	case service == "" && !weighted && redirect == nil:
		return Required(field + ".service")
	}
	return firstError(validateRouteAction(field+".routeAction", action), validateRedirect(field+".urlRedirect", redirect))
}

func validateRouteAction(field string, a *HttpRouteAction) error {
	if a == nil {
		return nil
	}
	total := int64(0)
	for i, w := range a.WeightedBackendServices {
		f := fmt.Sprintf("%s.weightedBackendServices[%d]", field, i)
		if w.BackendService == "" {
			return Required(f + ".backendService")
		}
		if err := firstError(validateRange(f+".weight", w.Weight, 0, maxBackendWeight), validateHeaderAction(f+".headerAction", w.HeaderAction)); err != nil {
			return err
		}
		total += w.Weight
	}
	if len(a.WeightedBackendServices) > 0 && total == 0 {
		return Invalid(field+".weightedBackendServices", 0, "The sum of weights must be greater than 0.")
	}
	if r := a.URLRewrite; r != nil {
		if len(r.PathPrefixRewrite) > maxPathPrefixLength || (r.PathPrefixRewrite != "" && !strings.HasPrefix(r.PathPrefixRewrite, "/")) {
			return Invalid(field+".urlRewrite.pathPrefixRewrite", r.PathPrefixRewrite, "Must start with '/' and be at most 1024 characters.")
		}
		if len(r.HostRewrite) > maxHostRewrite {
			return Invalid(field+".urlRewrite.hostRewrite", r.HostRewrite, "Must be at most 255 characters.")
		}
		if r.PathPrefixRewrite != "" && r.PathTemplateRewrite != "" {
			return Conflict(field+".urlRewrite", "Only one of pathPrefixRewrite and pathTemplateRewrite may be set.")
		}
	}
	if p := a.RetryPolicy; p != nil {
		if err := validateRange(field+".retryPolicy.numRetries", p.NumRetries, 0, maxRetries); err != nil {
			return err
		}
		for i, c := range p.RetryConditions {
			if err := oneOf(fmt.Sprintf("%s.retryPolicy.retryConditions[%d]", field, i), c, retryConditions...); err != nil {
				return err
			}
		}
		if err := validateDuration(field+".retryPolicy.perTryTimeout", p.PerTryTimeout); err != nil {
			return err
		}
	}
	return firstError(validateDuration(field+".timeout", a.Timeout), validateDuration(field+".maxStreamDuration", a.MaxStreamDuration))
}

func validateRedirect(field string, r *HttpRedirectAction) error {
	if r == nil {
		return nil
	}
	if r.PathRedirect != "" && r.PrefixRedirect != "" {
		return Conflict(field, fmt.Sprintf("Invalid value for field '%s': only one of pathRedirect and prefixRedirect may be set.", field))
	}
	if r.PathRedirect != "" && !strings.HasPrefix(r.PathRedirect, "/") {
		return Invalid(field+".pathRedirect", r.PathRedirect, "Must start with '/'.")
	}
	if r.PrefixRedirect != "" && !strings.HasPrefix(r.PrefixRedirect, "/") {
		return Invalid(field+".prefixRedirect", r.PrefixRedirect, "Must start with '/'.")
	}
	if r.HostRedirect != "" && !isDomainName(strings.Split(r.HostRedirect, ":")[0]) {
		return Invalid(field+".hostRedirect", r.HostRedirect, "Must be a valid host name.")
	}
	return oneOf(field+".redirectResponseCode", r.RedirectResponseCode, redirectCodes...)
}

func validateHeaderAction(field string, h *HttpHeaderAction) error {
	if h == nil {
		return nil
	}
	check := func(f string, names []string) error {
		for i, n := range names {
			if !isHeaderName(n) {
				return Invalid(fmt.Sprintf("%s[%d]", f, i), n, "Must be a valid HTTP header name.")
			}
		}
		return nil
	}
	opts := func(f string, add []HttpHeaderOption) error {
		for i, o := range add {
			if !isHeaderName(o.HeaderName) {
				return Invalid(fmt.Sprintf("%s[%d].headerName", f, i), o.HeaderName, "Must be a valid HTTP header name.")
			}
		}
		return nil
	}
	return firstError(
		opts(field+".requestHeadersToAdd", h.RequestHeadersToAdd),
		opts(field+".responseHeadersToAdd", h.ResponseHeadersToAdd),
		check(field+".requestHeadersToRemove", h.RequestHeadersToRemove),
		check(field+".responseHeadersToRemove", h.ResponseHeadersToRemove),
	)
}

// ValidatePathRulePath: a path rule's path starts with "/", may end with "/*" or "*"
// after a "/" as a prefix match, and holds no "?" or "#" ([D] PathRule.paths).
func ValidatePathRulePath(field, p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return Invalid(field, p, "Must start with '/'.")
	case strings.ContainsAny(p, "?#"):
		return Invalid(field, p, "Must not contain '?' or '#'.")
	case strings.Contains(strings.TrimSuffix(p, "/*"), "*"):
		return Invalid(field, p, "'*' is allowed only at the end, after a '/'.")
	case len(p) > maxPathPrefixLength:
		return Invalid(field, p, "Must be at most 1024 characters.")
	}
	return nil
}

func (u *UrlMap) validateTests() error {
	if err := validateMax("resource.tests", len(u.Tests), maxURLMapTests); err != nil {
		return err
	}
	for i, t := range u.Tests {
		f := fmt.Sprintf("resource.tests[%d]", i)
		if t.Path == "" {
			return Required(f + ".path")
		}
		if t.Service == "" && t.ExpectedOutputURL == "" {
			return Required(f + ".service")
		}
		if t.ExpectedRedirectResponseCode != 0 && t.ExpectedOutputURL == "" {
			return Required(f + ".expectedOutputUrl")
		}
	}
	return nil
}

func (u *UrlMap) References() []Ref {
	bs := []string{"backendServices", "backendBuckets"}
	out := ref("resource.defaultService", &u.DefaultService, bs...)
	out = append(out, routeActionRefs("resource.defaultRouteAction", u.DefaultRouteAction)...)
	for i := range u.PathMatchers {
		pm := &u.PathMatchers[i]
		f := fmt.Sprintf("resource.pathMatchers[%d]", i)
		out = append(out, ref(f+".defaultService", &pm.DefaultService, bs...)...)
		out = append(out, routeActionRefs(f+".defaultRouteAction", pm.DefaultRouteAction)...)
		for j := range pm.PathRules {
			pr := &pm.PathRules[j]
			out = append(out, ref(fmt.Sprintf("%s.pathRules[%d].service", f, j), &pr.Service, bs...)...)
			out = append(out, routeActionRefs(fmt.Sprintf("%s.pathRules[%d].routeAction", f, j), pr.RouteAction)...)
		}
		for j := range pm.RouteRules {
			rr := &pm.RouteRules[j]
			out = append(out, ref(fmt.Sprintf("%s.routeRules[%d].service", f, j), &rr.Service, bs...)...)
			out = append(out, routeActionRefs(fmt.Sprintf("%s.routeRules[%d].routeAction", f, j), rr.RouteAction)...)
		}
	}
	for i := range u.Tests {
		out = append(out, ref(fmt.Sprintf("resource.tests[%d].service", i), &u.Tests[i].Service, bs...)...)
	}
	return out
}

func routeActionRefs(field string, a *HttpRouteAction) []Ref {
	if a == nil {
		return nil
	}
	var out []Ref
	for i := range a.WeightedBackendServices {
		out = append(out, ref(fmt.Sprintf("%s.weightedBackendServices[%d].backendService", field, i), &a.WeightedBackendServices[i].BackendService, "backendServices", "backendBuckets")...)
	}
	return out
}
