// Package armor evaluates Cloud Armor security policies: a policy's rules, by priority,
// the first match deciding, with source-range and expression matches (Cloud Armor's
// CEL subset, compiled with cel-go), deny, redirect, throttle and rate-based-ban
// actions, and preview rules that are reported but do not act. It is pure: the rate
// limits' counters live in a Limits the caller owns, and time is the caller's.
package armor

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"meridian/api"
)

// Request is what a policy sees of a request.
type Request struct {
	Method, Path, Query, Scheme, Host string
	Header                            http.Header
	// IP is the client's address as the edge saw it (the connection's peer).
	IP netip.Addr
	// RegionCode is the client's ISO 3166-1 alpha-2 country, "" when not known; when
	// it is "" and Locate is set, Locate finds it, only if an expression asks.
	RegionCode string
	Locate     func(netip.Addr) string
	// SNI is the TLS server name the client asked for ("" over plain HTTP).
	SNI string
}

// Policy is a compiled security policy, immutable; one per stored policy in an
// edge's configuration snapshot.
type Policy struct {
	Name  string // the policy's name, as request logs carry it
	rules []rule
}

type rule struct {
	priority   int32
	action     string // as configured: "allow", "deny(403)", "throttle", …
	configured string // as logs name it: ALLOW, DENY, THROTTLE, …
	preview    bool
	everyone   bool // srcIpRanges ["*"]
	ranges     []netip.Prefix
	expr       *program
	status     int    // a deny's status
	location   string // a redirect's target
	rate       *rateRule
	headers    [][2]string // headerAction.requestHeadersToAdds
}

// Compile prepares a stored policy for evaluation. A policy the control plane
// accepted compiles; an error means it was stored by something that did not check it.
func Compile(p *api.SecurityPolicy) (*Policy, error) {
	out := &Policy{Name: p.Name}
	for i := range p.Rules {
		r, err := compileRule(p.SelfLink, &p.Rules[i])
		if err != nil {
			return nil, fmt.Errorf("security policy %s, rule %d: %w", p.Name, p.Rules[i].Priority, err)
		}
		out.rules = append(out.rules, r)
	}
	// Stored rules are kept sorted; sort again for policies that were not.
	slices.SortStableFunc(out.rules, func(a, b rule) int { return cmp.Compare(a.priority, b.priority) })
	return out, nil
}

// CheckRule compiles one rule, as the control plane does before it stores it: the
// error is the expression's problem, in words.
func CheckRule(r *api.SecurityPolicyRule) error {
	if r.Match == nil || r.Match.Expr == nil {
		return nil
	}
	_, err := compileExpr(r.Match.Expr.Expression)
	return err
}

func compileRule(policy string, ar *api.SecurityPolicyRule) (rule, error) {
	r := rule{priority: ar.Priority, action: ar.Action, preview: ar.Preview, configured: configuredAction(ar.Action)}
	if m := ar.Match; m != nil && m.Expr != nil {
		prg, err := compileExpr(m.Expr.Expression)
		if err != nil {
			return r, err
		}
		r.expr = prg
	} else if m != nil && m.Config != nil {
		for _, s := range m.Config.SrcIPRanges {
			if s == "*" {
				r.everyone = true
				continue
			}
			p, err := api.ParseSrcIPRange(s)
			if err != nil {
				return r, fmt.Errorf("source range %q: %w", s, err)
			}
			r.ranges = append(r.ranges, p)
		}
	}
	if status, ok := api.DenyStatus(ar.Action); ok {
		r.status = status
	}
	if o := ar.RedirectOptions; o != nil {
		r.location = o.Target
	}
	if o := ar.RateLimitOptions; o != nil && (ar.Action == api.ActionThrottle || ar.Action == api.ActionRateBasedBan) {
		rr, err := compileRate(policy, ar)
		if err != nil {
			return r, err
		}
		r.rate = rr
	}
	if h := ar.HeaderAction; h != nil {
		for _, add := range h.RequestHeadersToAdds {
			r.headers = append(r.headers, [2]string{add.HeaderName, add.HeaderValue})
		}
	}
	return r, nil
}

// configuredAction is an action as request logs name it.
func configuredAction(action string) string {
	switch {
	case strings.HasPrefix(action, "deny"):
		return "DENY"
	case action == api.ActionRateBasedBan:
		return "RATE_BASED_BAN"
	case action == api.ActionRedirect:
		return api.RedirectExternal302 // the only redirect Meridian has
	}
	return strings.ToUpper(action)
}

func (r *rule) matches(req *Request, a *activation) bool {
	if r.expr != nil {
		return r.expr.eval(a)
	}
	if r.everyone {
		return true
	}
	ip := req.IP.Unmap()
	for _, p := range r.ranges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Outcomes, as request logs spell them.
const (
	OutcomeAccept   = "ACCEPT"
	OutcomeDeny     = "DENY"
	OutcomeRedirect = "REDIRECT"
)

// Match is one rule's part in a decision.
type Match struct {
	Policy           string
	Priority         int32
	ConfiguredAction string // ALLOW, DENY, EXTERNAL_302, THROTTLE, RATE_BASED_BAN
	Outcome          string // ACCEPT, DENY or REDIRECT
	// For rate limits: the key counted and what the count said
	// (RATE_LIMIT_THRESHOLD_CONFORM, RATE_LIMIT_THRESHOLD_EXCEED, BAN_THRESHOLD_EXCEED).
	RateLimitKey, RateLimitOutcome string
}

// Decision is what a policy says of one request.
type Decision struct {
	// Enforced is the rule that decided. Every policy has a default rule, so it is
	// set whenever a policy was evaluated.
	Enforced Match
	// Preview is the first preview rule that matched before the deciding one, had it
	// been enforced; nil if none did.
	Preview *Match
	// Status is 0 when the request goes on; otherwise the edge answers with it (a
	// redirect's with Location).
	Status   int
	Location string
	// AddHeaders are request headers the deciding rule adds on the way to the backend.
	AddHeaders [][2]string
}

// Blocked reports whether the request is answered by the policy.
func (d Decision) Blocked() bool { return d.Status != 0 }

// Evaluate decides a request to a backend service (scope: its path) at time now,
// counting it in limits' rate limits for that backend service.
func (p *Policy) Evaluate(req *Request, scope string, limits *Limits, now time.Time) Decision {
	a := activation{req: req}
	var d Decision
	for i := range p.rules {
		r := &p.rules[i]
		if !r.matches(req, &a) {
			continue
		}
		m, status, location := r.apply(p.Name, req, scope, limits, now)
		if r.preview {
			if d.Preview == nil {
				d.Preview = &m
			}
			continue
		}
		d.Enforced, d.Status, d.Location = m, status, location
		if status == 0 {
			d.AddHeaders = r.headers
		}
		return d
	}
	// No rule matched: only a policy without its default rule gets here; GCP's
	// default rule allows.
	d.Enforced = Match{Policy: p.Name, Priority: api.DefaultRulePriority, ConfiguredAction: "ALLOW", Outcome: OutcomeAccept}
	return d
}

// apply works out what a matching rule does with a request.
func (r *rule) apply(policy string, req *Request, scope string, limits *Limits, now time.Time) (Match, int, string) {
	m := Match{Policy: policy, Priority: r.priority, ConfiguredAction: r.configured, Outcome: OutcomeAccept}
	switch {
	case r.status != 0:
		m.Outcome = OutcomeDeny
		return m, r.status, ""
	case r.action == api.ActionRedirect:
		m.Outcome = OutcomeRedirect
		return m, http.StatusFound, r.location
	case r.rate != nil:
		key := r.rate.key(req)
		m.RateLimitKey = key
		m.RateLimitOutcome = limits.count(r.rate, scope, key, now)
		if m.RateLimitOutcome == RateConform {
			return m, 0, ""
		}
		if r.rate.exceedLocation != "" {
			m.Outcome = OutcomeRedirect
			return m, http.StatusFound, r.rate.exceedLocation
		}
		m.Outcome = OutcomeDeny
		return m, r.rate.exceedStatus, ""
	}
	return m, 0, ""
}
