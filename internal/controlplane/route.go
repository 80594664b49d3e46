package controlplane

import (
	"net/http"
	"strings"

	"meridian/api"
)

// route is a parsed Compute API path.
type route struct {
	project    string
	region     string // empty: global
	collection string
	name       string
	action     string
	aggregated bool // projects/{p}/aggregated/{collection}
}

// parseComputePath splits /compute/v1/projects/{p}/(global|regions/{r})/{c}[/{n}[/{a}]]
// and the action paths GCP keeps outside "global", such as
// /compute/v1/projects/{p}/targetHttpsProxies/{n}/setUrlMap.
func parseComputePath(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/compute/v1/projects/")
	if !ok {
		return route{}, false
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return route{}, false
		}
	}
	r := route{project: seg[0]}
	seg = seg[1:]
	switch {
	case len(seg) >= 2 && seg[0] == "global":
		seg = seg[1:]
	case len(seg) >= 3 && seg[0] == "regions":
		r.region, seg = seg[1], seg[2:]
	case len(seg) == 2 && seg[0] == "aggregated":
		r.aggregated, seg = true, seg[1:]
	case len(seg) == 3 && (seg[0] == "targetHttpsProxies" || seg[0] == "targetHttpProxies"):
		// Global proxies' setUrlMap and setSslCertificates live here, without /global/.
	default:
		return route{}, false
	}
	if len(seg) > 3 {
		return route{}, false
	}
	r.collection = seg[0]
	if len(seg) > 1 {
		r.name = seg[1]
	}
	if len(seg) > 2 {
		r.action = seg[2]
	}
	return r, true
}

func (s *Server) serveCompute(w http.ResponseWriter, r *http.Request) {
	rt, ok := parseComputePath(r.URL.Path)
	if !ok {
		writeError(w, &apiError{404, "notFound", "The requested URL " + r.URL.Path + " was not found on this server."})
		return
	}
	var result any
	var err error
	if rt.collection == "operations" {
		result, err = s.serveOperation(r, rt)
	} else {
		result, err = s.serveResource(r, rt)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.render(s.baseURL(r), result))
}

func (s *Server) serveResource(r *http.Request, rt route) (any, error) {
	k, err := s.kindOf(rt)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	switch {
	case rt.aggregated && r.Method == http.MethodGet:
		return s.aggregatedList(ctx, k, rt.project, r.URL.Query())
	case rt.name == "" && r.Method == http.MethodGet:
		return s.list(ctx, k, rt, r.URL.Query())
	case rt.name == "" && r.Method == http.MethodPost:
		return s.insert(ctx, k, rt, r)
	case rt.collection == "sslPolicies" && rt.name == "listAvailableFeatures" && rt.action == "" && r.Method == http.MethodGet:
		return map[string]any{"features": api.SslFeatures}, nil
	case rt.action == "" && r.Method == http.MethodGet:
		return s.get(ctx, k, rt)
	case rt.action == "" && r.Method == http.MethodDelete:
		return s.delete(ctx, k, rt, r)
	case rt.action == "" && r.Method == http.MethodPatch && k.patch:
		return s.modify(ctx, k, rt, r, "patch")
	case rt.action == "" && r.Method == http.MethodPut && k.update:
		return s.modify(ctx, k, rt, r, "update")
	case rt.action != "" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		return s.action(ctx, k, rt, r)
	}
	return nil, &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path}
}

// kindOf checks that the collection exists in the route's scope.
func (s *Server) kindOf(rt route) (*kind, error) {
	k, ok := s.kinds[rt.collection]
	if ok && rt.aggregated {
		return k, nil
	}
	if !ok || (rt.region == "" && !k.global) || (rt.region != "" && !k.regional) {
		scope := "global"
		if rt.region != "" {
			scope = "regional"
		}
		return nil, &apiError{404, "notFound", "Meridian has no " + scope + " collection '" + rt.collection + "'."}
	}
	return k, nil
}

// baseURL is where rendered links point: the configured public URL, else the address
// the client used.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
