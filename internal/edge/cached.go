package edge

import (
	"context"
	"net/http"
	"time"

	"meridian/api"
	"meridian/internal/cdn"
	"meridian/internal/cdn/signed"
	"meridian/internal/observe"
	"meridian/internal/router"
	"meridian/internal/snapshot"
)

// cdnVarsKey carries the cache's outcome to the custom header variables
// {cdn_cache_status} and {cdn_cache_id}.
type cdnVarsKey struct{}

type cdnVars struct{ status, id string }

// cdnRoute is what the cache needs of a request's route.
func (p *proxy) cdnRoute(r *http.Request, svc *snapshot.BackendService, res router.Result, scheme string) cdn.Route {
	bs := svc.Resource
	return cdn.Route{
		Policy: bs.CdnPolicy, Service: svc.Path, Scheme: scheme, Timeout: timeoutFor(bs, res.Action),
		Decorate: func(h http.Header, status string) {
			applyHeaderActions(h, res.HeaderActions, false)
			vr := r.WithContext(context.WithValue(r.Context(), cdnVarsKey{}, cdnVars{status: status, id: p.edge.cache.Name()}))
			applyCustomHeaders(h, bs.CustomResponseHeaders, vr)
		},
	}
}

// serveCached answers a request on a CDN-enabled backend service through the edge's
// cache; the cache calls back into the load balancer for fills and validations.
func (p *proxy) serveCached(w *recorder, r *http.Request, svc *snapshot.BackendService, res router.Result, scheme, addr string, entry observe.Entry) observe.Entry {
	bs := svc.Resource
	route := p.cdnRoute(r, svc, res, scheme)
	peer := fromPeer(r)
	if peer {
		// Another edge fills its cache: the stored response as stored, undecorated.
		route.Peer, route.Decorate = true, nil
	}
	origin := func(fw http.ResponseWriter, fr *http.Request) {
		// A miss asks the edge of the group that owns the URL first, unless this
		// request came from a peer (one hop in the group) or is signed (verified here,
		// not there).
		if !peer && !route.Signed {
			if m := p.edge.group.Owner(scheme + "://" + fr.Host + fr.URL.RequestURI()); m != nil && p.fillFromPeer(fw, fr, m, addr, scheme) {
				return
			}
		}
		// Then the parent tier, which a group owner asks too (a parent's own parent
		// is asked in turn, up to a few hops).
		if m := p.edge.parent(); m != nil && !route.Signed && p.fillFromPeer(fw, fr, m, addr, scheme) {
			return
		}
		attempts, detail, msg := p.plan(svc, fr)
		if len(attempts) == 0 {
			errorResponse(fw, http.StatusServiceUnavailable, detail, msg)
			return
		}
		p.forward(fw, fr, svc, attempts, res, scheme, true)
	}
	if len(bs.SignedURLKeys) > 0 {
		switch outcome, reason := p.verifySigned(r, bs, scheme); outcome {
		case signed.Invalid:
			errorResponse(w, http.StatusForbidden, detailSignedURL, "the request's signed URL or cookie is not valid: "+reason)
			return entry
		case signed.Valid:
			// Cached apart from unsigned responses, under the URL without its signature
			// (one entry for every signed URL of the object), and fetched without it.
			route.Signed = true
			r = r.Clone(r.Context())
			r.URL.RawQuery = signed.StripQuery(r.URL.RawQuery)
			r.RequestURI = r.URL.RequestURI()
		}
	}
	result := p.edge.cache.Serve(w, r, route, origin)
	w.detail = result.Detail
	if d := w.Header().Get("X-Meridian-Status-Details"); d != "" {
		w.detail = d // the load balancer's own error, passed through the cache
	}
	entry.CacheLookup, entry.CacheHit, entry.CacheValidated = result.Lookup, result.Hit, result.Validated
	entry.CacheFillBytes, entry.CacheID, entry.CacheDecision = result.FillBytes, p.edge.cache.Name(), result.Decision
	entry.CacheFillFromPeer = result.PeerFill
	if result.PeerFill && w.detail == "response_sent_by_backend" {
		w.detail = detailFromPeer
	}
	entry.CacheStatus = result.Status
	return entry
}

// detailSignedURL is the statusDetails of a request refused for its signature.
const detailSignedURL = "denied_by_signed_url"

// verifySigned checks a request on a backend service with signed URL keys.
func (p *proxy) verifySigned(r *http.Request, bs *api.BackendService, scheme string) (signed.Outcome, string) {
	sr := signed.Request{Method: r.Method, Scheme: scheme, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	if c, err := r.Cookie(signed.CookieName); err == nil {
		sr.Cookie = c.Value
	}
	now := time.Now
	if p.edge.cfg.Now != nil {
		now = p.edge.cfg.Now
	}
	return signed.Verify(sr, bs.SignedURLKeys, now())
}
