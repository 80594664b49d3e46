package edge

import (
	"context"
	"net/http"

	"meridian/internal/cdn"
	"meridian/internal/observe"
	"meridian/internal/router"
	"meridian/internal/snapshot"
)

// cdnVarsKey carries the cache's outcome to the custom header variables
// {cdn_cache_status} and {cdn_cache_id}.
type cdnVarsKey struct{}

type cdnVars struct{ status, id string }

// serveCached answers a request on a CDN-enabled backend service through the edge's
// cache; the cache calls back into the load balancer for fills and validations.
func (p *proxy) serveCached(w *recorder, r *http.Request, svc *snapshot.BackendService, res router.Result, scheme string, entry observe.Entry) observe.Entry {
	bs := svc.Resource
	origin := func(fw http.ResponseWriter, fr *http.Request) {
		attempts, detail, msg := p.plan(svc, fr)
		if len(attempts) == 0 {
			errorResponse(fw, http.StatusServiceUnavailable, detail, msg)
			return
		}
		p.forward(fw, fr, svc, attempts, res, scheme, true)
	}
	route := cdn.Route{
		Policy: bs.CdnPolicy, Service: svc.Path, Scheme: scheme, Timeout: timeoutFor(bs, res.Action),
		Decorate: func(h http.Header, status string) {
			applyHeaderActions(h, res.HeaderActions, false)
			vr := r.WithContext(context.WithValue(r.Context(), cdnVarsKey{}, cdnVars{status: status, id: p.edge.cache.Name()}))
			applyCustomHeaders(h, bs.CustomResponseHeaders, vr)
		},
	}
	result := p.edge.cache.Serve(w, r, route, origin)
	w.detail = result.Detail
	if d := w.Header().Get("X-Meridian-Status-Details"); d != "" {
		w.detail = d // the load balancer's own error, passed through the cache
	}
	entry.CacheLookup, entry.CacheHit, entry.CacheValidated = result.Lookup, result.Hit, result.Validated
	entry.CacheFillBytes, entry.CacheID, entry.CacheDecision = result.FillBytes, p.edge.cache.Name(), result.Decision
	entry.CacheStatus = result.Status
	return entry
}
