package api

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// SecurityPolicy is a Cloud Armor security policy: rules, each a match and an action,
// evaluated by priority (lowest number first), the first match deciding. A backend
// service names one in securityPolicy (backendServices.setSecurityPolicy).
type SecurityPolicy struct {
	Meta
	Fingerprint string               `json:"fingerprint,omitempty"`
	Type        string               `json:"type,omitempty"`
	Rules       []SecurityPolicyRule `json:"rules,omitempty"`
	Region      string               `json:"region,omitempty"`
}

// SecurityPolicyRule is one rule of a security policy.
type SecurityPolicyRule struct {
	Kind             string                     `json:"kind,omitempty"`
	Description      string                     `json:"description,omitempty"`
	Priority         int32                      `json:"priority"`
	Match            *SecurityPolicyRuleMatcher `json:"match,omitempty"`
	Action           string                     `json:"action,omitempty"`
	Preview          bool                       `json:"preview,omitempty"`
	RateLimitOptions *RateLimitOptions          `json:"rateLimitOptions,omitempty"`
	RedirectOptions  *RuleRedirectOptions       `json:"redirectOptions,omitempty"`
	HeaderAction     *RuleHeaderAction          `json:"headerAction,omitempty"`
}

// SecurityPolicyRuleMatcher is a rule's match: source IP ranges (versionedExpr
// SRC_IPS_V1 with config.srcIpRanges) or an expression in Cloud Armor's CEL subset.
type SecurityPolicyRuleMatcher struct {
	VersionedExpr string              `json:"versionedExpr,omitempty"`
	Config        *RuleMatcherConfig  `json:"config,omitempty"`
	Expr          *SecurityPolicyExpr `json:"expr,omitempty"`
}

// RuleMatcherConfig holds a SRC_IPS_V1 match's ranges: CIDR blocks, bare addresses,
// or "*" for every address.
type RuleMatcherConfig struct {
	SrcIPRanges []string `json:"srcIpRanges,omitempty"`
}

// SecurityPolicyExpr is a google.type.Expr.
type SecurityPolicyExpr struct {
	Expression  string `json:"expression,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Location    string `json:"location,omitempty"`
}

// RateLimitOptions configures a throttle or rate_based_ban rule.
type RateLimitOptions struct {
	RateLimitThreshold    *RateLimitThreshold  `json:"rateLimitThreshold,omitempty"`
	ConformAction         string               `json:"conformAction,omitempty"`
	ExceedAction          string               `json:"exceedAction,omitempty"`
	ExceedRedirectOptions *RuleRedirectOptions `json:"exceedRedirectOptions,omitempty"`
	EnforceOnKey          string               `json:"enforceOnKey,omitempty"`
	EnforceOnKeyName      string               `json:"enforceOnKeyName,omitempty"`
	BanThreshold          *RateLimitThreshold  `json:"banThreshold,omitempty"`
	BanDurationSec        int32                `json:"banDurationSec,omitempty"`
}

// RateLimitThreshold is a count of requests per interval.
type RateLimitThreshold struct {
	Count       int32 `json:"count,omitempty"`
	IntervalSec int32 `json:"intervalSec,omitempty"`
}

// RuleRedirectOptions is where a redirect rule sends a client.
type RuleRedirectOptions struct {
	Type   string `json:"type,omitempty"`
	Target string `json:"target,omitempty"`
}

// RuleHeaderAction adds request headers to what an allowed request carries to the
// backend.
type RuleHeaderAction struct {
	RequestHeadersToAdds []RuleHeader `json:"requestHeadersToAdds,omitempty"`
}

// RuleHeader is one header a rule adds.
type RuleHeader struct {
	HeaderName  string `json:"headerName,omitempty"`
	HeaderValue string `json:"headerValue,omitempty"`
}

// Security policy constants, in GCP's spelling.
const (
	SecurityPolicyCloudArmor = "CLOUD_ARMOR"
	DefaultRulePriority      = 2147483647
	SrcIPsV1                 = "SRC_IPS_V1"

	ActionAllow        = "allow"
	ActionRedirect     = "redirect"
	ActionThrottle     = "throttle"
	ActionRateBasedBan = "rate_based_ban"

	RedirectExternal302 = "EXTERNAL_302"

	EnforceOnKeyAll        = "ALL"
	EnforceOnKeyIP         = "IP"
	EnforceOnKeyHTTPHeader = "HTTP_HEADER"
	EnforceOnKeyXFFIP      = "XFF_IP"
	EnforceOnKeyHTTPCookie = "HTTP_COOKIE"
	EnforceOnKeyHTTPPath   = "HTTP_PATH"
	EnforceOnKeySNI        = "SNI"
	EnforceOnKeyRegionCode = "REGION_CODE"
	EnforceOnKeyUserIP     = "USER_IP"

	// Cloud Armor's limit of source ranges per rule, and Meridian's of an
	// expression's length (Cloud Armor documents five subexpressions, not a length).
	MaxSrcIPRanges     = 10
	MaxExpressionBytes = 2048
	MaxRuleDescription = 64
)

// RateLimitIntervals are the intervals, in seconds, a rate limit threshold may count
// over; BanDurations the lengths a ban may have.
var (
	RateLimitIntervals = []int32{10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600}
	BanDurations       = []int32{60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600}
)

// Cloud Armor's bounds on a threshold's count: a throttle's, and a ban's.
const (
	MaxThrottleCount = 1_000_000
	MaxBanCount      = 10_000
)

// DenyStatus reads a deny action, "deny(403)", "deny(404)", "deny(429)" or
// "deny(502)", as its status code; false for any other action.
func DenyStatus(action string) (int, bool) {
	switch action {
	case "deny(403)":
		return 403, true
	case "deny(404)":
		return 404, true
	case "deny(429)":
		return 429, true
	case "deny(502)":
		return 502, true
	}
	return 0, false
}

// DefaultSecurityPolicyRule is the rule a policy created without one gets: allow
// every source at the lowest priority.
func DefaultSecurityPolicyRule() SecurityPolicyRule {
	return SecurityPolicyRule{
		Kind:        "compute#securityPolicyRule",
		Description: "default rule",
		Priority:    DefaultRulePriority,
		Match:       &SecurityPolicyRuleMatcher{VersionedExpr: SrcIPsV1, Config: &RuleMatcherConfig{SrcIPRanges: []string{"*"}}},
		Action:      ActionAllow,
	}
}

func (p *SecurityPolicy) SetDefaults() {
	p.Kind = "compute#securityPolicy"
	if p.Type == "" {
		p.Type = SecurityPolicyCloudArmor
	}
	if !slices.ContainsFunc(p.Rules, func(r SecurityPolicyRule) bool { return r.Priority == DefaultRulePriority }) {
		p.Rules = append(p.Rules, DefaultSecurityPolicyRule())
	}
	for i := range p.Rules {
		p.Rules[i].SetDefaults()
	}
	slices.SortStableFunc(p.Rules, func(a, b SecurityPolicyRule) int { return cmp.Compare(a.Priority, b.Priority) })
}

// SetDefaults fills a rule's kind and a rate limit's key.
func (r *SecurityPolicyRule) SetDefaults() {
	r.Kind = "compute#securityPolicyRule"
	if o := r.RateLimitOptions; o != nil && o.EnforceOnKey == "" {
		o.EnforceOnKey = EnforceOnKeyAll
	}
}

func (p *SecurityPolicy) Validate() error {
	if err := ValidateName("resource.name", p.Name); err != nil {
		return err
	}
	if p.Type != SecurityPolicyCloudArmor {
		return Invalid("resource.type", p.Type, "Meridian enforces security policies of type CLOUD_ARMOR only.")
	}
	seen := map[int32]bool{}
	for i, r := range p.Rules {
		if seen[r.Priority] {
			return Invalid(fmt.Sprintf("resource.rules[%d].priority", i), r.Priority, "Cannot have rules with the same priorities.")
		}
		seen[r.Priority] = true
		if err := r.Validate(fmt.Sprintf("resource.rules[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks one rule on its own; field prefixes its fields' names in errors.
// An expression's syntax is checked by the caller (it needs a CEL compiler).
func (r *SecurityPolicyRule) Validate(field string) error {
	if r.Priority < 0 {
		return Invalid(field+".priority", r.Priority, "Must be between 0 and 2147483647.")
	}
	if len(r.Description) > MaxRuleDescription {
		return Invalid(field+".description", r.Description, fmt.Sprintf("A rule's description is at most %d characters.", MaxRuleDescription))
	}
	if err := r.validateMatch(field + ".match"); err != nil {
		return err
	}
	if r.Priority == DefaultRulePriority {
		if m := r.Match; m.Expr != nil || !slices.Equal(m.Config.SrcIPRanges, []string{"*"}) {
			return Invalid(field+".match", "", "The default rule (priority 2147483647) must match every source: srcIpRanges ['*'].")
		}
	}
	switch status, deny := DenyStatus(r.Action); {
	case status == 429:
		return Invalid(field+".action", r.Action, "A rule denies with 403, 404 or 502; 429 is a rate limit's exceedAction.")
	case deny, r.Action == ActionAllow:
		if r.RateLimitOptions != nil {
			return Invalid(field+".rateLimitOptions", "", errRateLimitOptions)
		}
		if r.RedirectOptions != nil {
			return Conflict(field+".redirectOptions", fmt.Sprintf("Redirect options are for the redirect action only, not '%s'.", r.Action))
		}
	case r.Action == ActionRedirect:
		if r.RateLimitOptions != nil {
			return Invalid(field+".rateLimitOptions", "", errRateLimitOptions)
		}
		if err := validateRuleRedirect(field+".redirectOptions", r.RedirectOptions); err != nil {
			return err
		}
	case r.Action == ActionThrottle, r.Action == ActionRateBasedBan:
		if r.RedirectOptions != nil {
			return Conflict(field+".redirectOptions", fmt.Sprintf("A %s rule takes no redirectOptions; use rateLimitOptions.exceedRedirectOptions.", r.Action))
		}
		if err := r.validateRateLimit(field + ".rateLimitOptions"); err != nil {
			return err
		}
	case r.Action == "":
		return Required(field + ".action")
	default:
		return Invalid(field+".action", r.Action, "Must be one of allow, deny(403), deny(404), deny(502), redirect, throttle or rate_based_ban.")
	}
	if r.HeaderAction != nil {
		if r.Action != ActionAllow && r.Action != ActionThrottle && r.Action != ActionRateBasedBan {
			return Conflict(field+".headerAction", "Headers are added only to requests a rule lets through (allow, throttle, rate_based_ban).")
		}
		for i, h := range r.HeaderAction.RequestHeadersToAdds {
			if !isHeaderName(h.HeaderName) {
				return Invalid(fmt.Sprintf("%s.headerAction.requestHeadersToAdds[%d].headerName", field, i), h.HeaderName, "Must be an HTTP header name.")
			}
			if strings.ContainsAny(h.HeaderValue, "\r\n\x00") {
				return Invalid(fmt.Sprintf("%s.headerAction.requestHeadersToAdds[%d].headerValue", field, i), h.HeaderValue, "A header value is one line.")
			}
		}
	}
	return nil
}

func (r *SecurityPolicyRule) validateMatch(field string) error {
	m := r.Match
	if m == nil {
		return Required(field)
	}
	switch {
	case m.Expr != nil && (m.VersionedExpr != "" || m.Config != nil):
		return Conflict(field, "A match is either an expression (expr) or source ranges (versionedExpr and config), not both.")
	case m.Expr != nil:
		e := strings.TrimSpace(m.Expr.Expression)
		if e == "" {
			return Required(field + ".expr.expression")
		}
		if len(m.Expr.Expression) > MaxExpressionBytes {
			return Invalid(field+".expr.expression", "…", fmt.Sprintf("An expression is at most %d characters.", MaxExpressionBytes))
		}
		return nil
	case m.VersionedExpr == "":
		return Required(field + ".versionedExpr")
	case m.VersionedExpr != SrcIPsV1:
		return Invalid(field+".versionedExpr", m.VersionedExpr, "Must be SRC_IPS_V1.")
	case m.Config == nil || len(m.Config.SrcIPRanges) == 0:
		return Required(field + ".config.srcIpRanges")
	case len(m.Config.SrcIPRanges) > MaxSrcIPRanges:
		return Invalid(field+".config.srcIpRanges", len(m.Config.SrcIPRanges), fmt.Sprintf("A rule matches at most %d source ranges.", MaxSrcIPRanges))
	}
	for i, s := range m.Config.SrcIPRanges {
		if _, err := ParseSrcIPRange(s); err != nil {
			return Invalid(fmt.Sprintf("%s.config.srcIpRanges[%d]", field, i), s, "Must be an IPv4 or IPv6 address or CIDR range, or '*'.")
		}
	}
	return nil
}

// ParseSrcIPRange reads one of a rule's source ranges: "*" (every address, as the
// zero Prefix), an address, or a CIDR block.
func ParseSrcIPRange(s string) (netip.Prefix, error) {
	if s == "*" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *SecurityPolicyRule) validateRateLimit(field string) error {
	o := r.RateLimitOptions
	if o == nil {
		return Invalid(field, "", errRateLimitOptions)
	}
	maxCount := int32(MaxThrottleCount)
	if r.Action == ActionRateBasedBan {
		maxCount = MaxBanCount
	}
	if err := validateThreshold(field+".rateLimitThreshold", o.RateLimitThreshold, maxCount); err != nil {
		return err
	}
	if o.ConformAction != ActionAllow {
		if o.ConformAction == "" {
			return Required(field + ".conformAction")
		}
		return Invalid(field+".conformAction", o.ConformAction, "Must be allow.")
	}
	switch _, deny := DenyStatus(o.ExceedAction); {
	case deny:
		if o.ExceedRedirectOptions != nil {
			return Conflict(field+".exceedRedirectOptions", "exceedRedirectOptions is for exceedAction redirect only.")
		}
	case o.ExceedAction == ActionRedirect:
		if err := validateRuleRedirect(field+".exceedRedirectOptions", o.ExceedRedirectOptions); err != nil {
			return err
		}
	case o.ExceedAction == "":
		return Required(field + ".exceedAction")
	default:
		return Invalid(field+".exceedAction", o.ExceedAction, "Must be deny(403), deny(404), deny(429), deny(502) or redirect.")
	}
	switch o.EnforceOnKey {
	case EnforceOnKeyAll, EnforceOnKeyIP, EnforceOnKeyXFFIP, EnforceOnKeyHTTPPath, EnforceOnKeySNI, EnforceOnKeyRegionCode, EnforceOnKeyUserIP:
		if o.EnforceOnKeyName != "" {
			return Conflict(field+".enforceOnKeyName", fmt.Sprintf("enforceOnKeyName is for enforceOnKey HTTP_HEADER and HTTP_COOKIE only, not %s.", o.EnforceOnKey))
		}
	case EnforceOnKeyHTTPHeader, EnforceOnKeyHTTPCookie:
		if o.EnforceOnKeyName == "" {
			return Required(field + ".enforceOnKeyName")
		}
		if !isHeaderName(o.EnforceOnKeyName) {
			return Invalid(field+".enforceOnKeyName", o.EnforceOnKeyName, "Must be an HTTP header or cookie name.")
		}
	default:
		return Invalid(field+".enforceOnKey", o.EnforceOnKey, "Meridian keys rate limits on ALL, IP, HTTP_HEADER, XFF_IP, HTTP_COOKIE, HTTP_PATH, SNI, REGION_CODE or USER_IP.")
	}
	if r.Action == ActionThrottle {
		if o.BanThreshold != nil || o.BanDurationSec != 0 {
			return Conflict(field, "banThreshold and banDurationSec are for rate_based_ban rules only.")
		}
		return nil
	}
	switch {
	case o.BanDurationSec == 0:
		return Required(field + ".banDurationSec")
	case !slices.Contains(BanDurations, o.BanDurationSec):
		return Invalid(field+".banDurationSec", o.BanDurationSec, "Must be one of 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700 or 3600 seconds.")
	case o.BanThreshold != nil:
		return validateThreshold(field+".banThreshold", o.BanThreshold, MaxBanCount)
	}
	return nil
}

// errRateLimitOptions is GCP's word on rate limit options where they do not belong,
// or missing where they do.
const errRateLimitOptions = "Rate limit options must be specified if the action is 'rate_based_ban' or 'throttle'. It cannot be specified for any other actions."

func validateThreshold(field string, t *RateLimitThreshold, maxCount int32) error {
	switch {
	case t == nil:
		return Required(field)
	case t.Count <= 0 || t.Count > maxCount:
		return Invalid(field+".count", t.Count, fmt.Sprintf("Must be between 1 and %d requests.", maxCount))
	case !slices.Contains(RateLimitIntervals, t.IntervalSec):
		return Invalid(field+".intervalSec", t.IntervalSec, "Must be one of 10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700 or 3600 seconds.")
	}
	return nil
}

func validateRuleRedirect(field string, o *RuleRedirectOptions) error {
	switch {
	case o == nil:
		return Required(field)
	case o.Type == "GOOGLE_RECAPTCHA":
		return Invalid(field+".type", o.Type, "Meridian has no reCAPTCHA; use EXTERNAL_302.")
	case o.Type != RedirectExternal302:
		return Invalid(field+".type", o.Type, "Must be EXTERNAL_302.")
	case o.Target == "":
		return Required(field + ".target")
	}
	return nil
}

func (p *SecurityPolicy) References() []Ref { return nil }

func (p *SecurityPolicy) FingerprintField() *string { return &p.Fingerprint }

// Rule returns the rule at a priority, or nil.
func (p *SecurityPolicy) Rule(priority int32) *SecurityPolicyRule {
	for i := range p.Rules {
		if p.Rules[i].Priority == priority {
			return &p.Rules[i]
		}
	}
	return nil
}
