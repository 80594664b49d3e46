package edge

import (
	"net/http"
	"net/netip"
	"time"

	"meridian/internal/armor"
	"meridian/internal/observe"
	"meridian/internal/snapshot"
)

// The request log's statusDetails of a request a security policy answered.
const (
	detailDeniedByPolicy     = "denied_by_security_policy"
	detailRedirectedByPolicy = "redirected_by_security_policy"
)

// policyVerdict is a security policy's decision on one request, made once: by the
// fast path before a hit, or by the general handler before the cache and the origin.
type policyVerdict struct {
	svc      *snapshot.BackendService // the backend service whose policy decided
	decision armor.Decision
}

// checkPolicy evaluates a backend service's security policy on a request, before the
// cache and before any backend. Requests from the cache group's other edges were
// checked by the edge their client reached, and are not checked (or counted) again.
func (p *proxy) checkPolicy(svc *snapshot.BackendService, r *http.Request, scheme string) policyVerdict {
	if svc.Armor == nil || fromPeer(r) {
		return policyVerdict{svc: svc}
	}
	req := armor.Request{
		// The path as sent, not decoded: Cloud Armor's request.path is not normalised
		// (a rule decodes it with .urlDecode()).
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Scheme: scheme, Host: r.Host,
		Header: r.Header, IP: clientAddr(r.RemoteAddr), Locate: p.edge.cfg.ClientRegions.Lookup,
	}
	if r.TLS != nil {
		req.SNI = r.TLS.ServerName
	}
	now := time.Now()
	if p.edge.cfg.Now != nil {
		now = p.edge.cfg.Now()
	}
	return policyVerdict{svc: svc, decision: svc.Armor.Evaluate(&req, svc.Path, p.edge.limits, now)}
}

// clientAddr is the address of a request's peer.
func clientAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// enforce applies a verdict: it notes the matched rules in the request log entry and
// either answers the request (true) or adds the deciding rule's request headers and
// lets it go on.
func (v *policyVerdict) enforce(w http.ResponseWriter, r *http.Request, entry *observe.Entry) bool {
	d := &v.decision
	logPolicy(entry, d)
	if !d.Blocked() {
		for _, h := range d.AddHeaders {
			r.Header.Set(h[0], h[1])
		}
		return false
	}
	if d.Location != "" {
		if rec, ok := w.(*recorder); ok {
			rec.detail = detailRedirectedByPolicy
		}
		w.Header().Set("Location", d.Location)
		w.WriteHeader(d.Status)
		return true
	}
	errorResponse(w, d.Status, detailDeniedByPolicy, "The request was refused by the backend service's security policy.")
	return true
}

// logPolicy copies a decision's rules into the request log entry.
func logPolicy(entry *observe.Entry, d *armor.Decision) {
	if d.Enforced.Policy == "" {
		return
	}
	entry.EnforcedPolicy = policyMatch(&d.Enforced)
	if d.Preview != nil {
		entry.PreviewPolicy = policyMatch(d.Preview)
	}
}

func policyMatch(m *armor.Match) observe.PolicyMatch {
	return observe.PolicyMatch{
		Name: m.Policy, Priority: m.Priority, ConfiguredAction: m.ConfiguredAction, Outcome: m.Outcome,
		RateLimitKey: m.RateLimitKey, RateLimitOutcome: m.RateLimitOutcome,
	}
}
