package controlplane

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"

	"meridian/api"
	"meridian/internal/store"
)

// Google's clients reach Cloud Run through two kinds of endpoint: the global one
// (run.googleapis.com), which lists every region's services, and one per region
// (us-central1-run.googleapis.com), which does everything else. gcloud derives a
// regional endpoint from the global one by prefixing its host with "REGION-", so
// Meridian serves Knative's paths on any host and reads the region from the host name.
// The same paths under /regions/{region}/ and v1's locations/{region} name the
// region in the path instead (Meridian's own CLI uses those).

// allRegions is the region of the global endpoint and of v1's "locations/-": it lists
// every region; reading or writing one resource needs a region.
const allRegions = "-"

// regionalHost matches a host gcloud derived: "us-central1-" followed by the global
// endpoint's host (a name or an address).
var regionalHost = regexp.MustCompile(`^([a-z][a-z0-9]*-[a-z]+[0-9]+)-(.+)$`)

// regionOfHost returns the region a regional endpoint's Host names, or allRegions.
func regionOfHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if m := regionalHost.FindStringSubmatch(host); m != nil {
		return m[1]
	}
	return allRegions
}

// handleGlobalEndpoints registers what Google's clients call outside Compute's
// /compute/v1/ and Meridian's /regions/{region}/: Cloud Run's Knative paths with the
// region in the host, Resource Manager's projects.get and Service Usage's
// services.get.
func (s *Server) handleGlobalEndpoints(mux *http.ServeMux) {
	const knative = "/apis/serving.knative.dev/v1/namespaces/{namespace}/"
	mux.HandleFunc(knative+"services", regionFromHost(s.serveKnativeCollection))
	mux.HandleFunc(knative+"services/{name}", regionFromHost(s.serveKnativeService))
	mux.HandleFunc(knative+"revisions", regionFromHost(s.serveRevisionCollection))
	mux.HandleFunc(knative+"revisions/{name}", regionFromHost(s.serveRevision))
	mux.HandleFunc("GET /v1/projects/{project}", s.serveProject)
	mux.HandleFunc("GET /v1/projects/{project}/services/{service}", s.serveServiceUsage)
}

func regionFromHost(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("region", regionOfHost(r.Host))
		h(w, r)
	}
}

// validateListScope checks a list's region and namespace: a list may span every region.
func validateListScope(region, ns string) error {
	if region == allRegions {
		return api.ValidateName("namespace", ns)
	}
	return validateScopeNames(region, ns)
}

// listRegional reads one regional collection of a namespace, in one region or in all
// of them, with each item's region.
func (s *Server) listRegional(ctx context.Context, region, ns, collection string) ([]regionalKV, error) {
	prefix := resKey(api.ResourcePath{Project: ns, Region: region, Collection: collection}.String())
	if region == allRegions {
		prefix = resKey("projects/" + ns + "/regions/")
	}
	kvs, _, err := s.store.List(ctx, prefix, "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]regionalKV, 0, len(kvs))
	for _, kv := range kvs {
		p, err := api.ParseResourcePath(strings.TrimPrefix(kv.Key, api.ResourcesPrefix), ns)
		if err == nil && p.Collection == collection && p.Region != "" {
			out = append(out, regionalKV{kv, p.Region})
		}
	}
	return out, nil
}

type regionalKV struct {
	store.KV
	region string
}

// locationLabel is the label Cloud Run puts on services and revisions to say where
// they run; gcloud prints it as the REGION of `run services list`.
const locationLabel = "cloud.googleapis.com/location"

// annotate sets one annotation of a Knative object.
func annotate(m *api.ObjectMeta, key, value string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = value
}

// locate labels a Knative object with its region.
func locate(m *api.ObjectMeta, region string) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[locationLabel] = region
}
