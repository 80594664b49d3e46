package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"meridian/api"
	"meridian/internal/store"
)

// Knative revisions are immutable snapshots of a service's template, stored at
// res/projects/{namespace}/regions/{region}/revisions/{name} and written in the same
// transaction as the service change that creates them. Deleting a service deletes its
// revisions; a revision that serves traffic cannot be deleted on its own.

func revisionKey(region, namespace, name string) string {
	return resKey(api.ResourcePath{Project: namespace, Region: region, Collection: "revisions", Name: name}.String())
}

// revisionsOf returns the stored revisions of one service, by name.
func (s *Server) revisionsOf(ctx context.Context, region, ns, service string) (map[string]*api.KnativeRevision, error) {
	all, err := s.listRevisions(ctx, region, ns, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*api.KnativeRevision{}
	for _, r := range all {
		if r.Metadata.Labels[api.ServiceLabel] == service {
			out[r.Metadata.Name] = r
		}
	}
	return out, nil
}

func (s *Server) listRevisions(ctx context.Context, region, ns string, sel labelSelector) ([]*api.KnativeRevision, error) {
	kvs, err := s.listRegional(ctx, region, ns, "revisions")
	if err != nil {
		return nil, err
	}
	out := make([]*api.KnativeRevision, 0, len(kvs))
	for _, kv := range kvs {
		var r api.KnativeRevision
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("stored revision %s is corrupt: %w", kv.Key, err)
		}
		locate(&r.Metadata, kv.region)
		if sel.matches(r.Metadata.Labels) {
			out = append(out, &r)
		}
	}
	return out, nil
}

func (s *Server) serveRevisionCollection(w http.ResponseWriter, r *http.Request) {
	region, ns := r.PathValue("region"), r.PathValue("namespace")
	if r.Method != http.MethodGet {
		respondKnative(w, nil, &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path})
		return
	}
	if err := validateListScope(region, ns); err != nil {
		respondKnative(w, nil, err)
		return
	}
	sel, err := parseLabelSelector(r.URL.Query().Get("labelSelector"))
	if err != nil {
		respondKnative(w, nil, err)
		return
	}
	items, err := s.listRevisions(r.Context(), region, ns, sel)
	if err != nil {
		respondKnative(w, nil, err)
		return
	}
	respondKnative(w, struct {
		APIVersion string                 `json:"apiVersion"`
		Kind       string                 `json:"kind"`
		Metadata   struct{}               `json:"metadata"`
		Items      []*api.KnativeRevision `json:"items"`
	}{APIVersion: api.KnativeAPIVersion, Kind: "RevisionList", Items: items}, nil)
}

func (s *Server) serveRevision(w http.ResponseWriter, r *http.Request) {
	region, ns, name := r.PathValue("region"), r.PathValue("namespace"), r.PathValue("name")
	var result any
	var err error
	switch r.Method {
	case http.MethodGet:
		result, _, err = s.loadRevision(r.Context(), region, ns, name)
	case http.MethodDelete:
		result, err = s.deleteRevision(r.Context(), region, ns, name)
	default:
		err = &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path}
	}
	respondKnative(w, result, err)
}

func (s *Server) loadRevision(ctx context.Context, region, ns, name string) (*api.KnativeRevision, int64, error) {
	if err := validateScopeNames(region, ns); err != nil {
		return nil, 0, err
	}
	kv, err := s.store.Get(ctx, revisionKey(region, ns, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, &apiError{404, "notFound", fmt.Sprintf("Resource '%s' of kind 'REVISION' in region '%s' in project '%s' does not exist.", name, region, ns)}
	}
	if err != nil {
		return nil, 0, err
	}
	var rev api.KnativeRevision
	if err := json.Unmarshal(kv.Value, &rev); err != nil {
		return nil, 0, fmt.Errorf("stored revision %s is corrupt: %w", name, err)
	}
	locate(&rev.Metadata, region)
	return &rev, kv.ModRevision, nil
}

// deleteRevision deletes a revision that no traffic target names and that is not its
// service's latest; the write is conditioned on the service not changing meanwhile.
func (s *Server) deleteRevision(ctx context.Context, region, ns, name string) (any, error) {
	return retryRaces(ctx, name, func() (any, error) { return s.tryDeleteRevision(ctx, region, ns, name) })
}

func (s *Server) tryDeleteRevision(ctx context.Context, region, ns, name string) (any, error) {
	rev, revMod, err := s.loadRevision(ctx, region, ns, name)
	if err != nil {
		return nil, err
	}
	conds := []store.Condition{{Key: revisionKey(region, ns, name), Want: revMod}}
	service := rev.Metadata.Labels[api.ServiceLabel]
	svc, svcMod, err := s.loadKnative(ctx, region, ns, service)
	var apiErr *apiError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == 404:
		// An orphan revision: nothing serves it.
	case err != nil:
		return nil, err
	default:
		conds = append(conds, store.Condition{Key: knativeKey(region, ns, service), Want: svcMod})
		latestReady := ""
		if svc.Status != nil {
			latestReady = svc.Status.LatestReadyRevisionName
			if svc.Status.LatestCreatedRevisionName == name {
				return nil, &apiError{400, "failedPrecondition", fmt.Sprintf("Revision '%s' is the latest revision of service '%s' and cannot be deleted.", name, service)}
			}
		}
		for _, t := range api.ResolveTraffic(svc.Spec.Traffic, latestReady) {
			if t.Revision == name {
				return nil, &apiError{400, "failedPrecondition", fmt.Sprintf("Revision '%s' is serving traffic for service '%s' and cannot be deleted.", name, service)}
			}
		}
	}
	_, err = s.store.Apply(ctx, store.Change{Conditions: conds, Deletes: []string{revisionKey(region, ns, name)}})
	if cf := (*store.ConditionFailed)(nil); errors.As(err, &cf) {
		return nil, errRetry // the revision's status or its service changed meanwhile
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Status", "status": "Success",
		"details": map[string]string{"name": name, "group": "serving.knative.dev", "kind": "revisions", "uid": rev.Metadata.UID},
	}, nil
}

// labelSelector is a Kubernetes equality-based label selector: key=value, key==value
// and key!=value requirements joined by commas, all of which must hold.
type labelSelector []labelRequirement

type labelRequirement struct {
	key, value string
	negate     bool
}

func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		var req labelRequirement
		var k, v string
		var ok bool
		if k, v, ok = strings.Cut(part, "!="); ok {
			req.negate = true
		} else if k, v, ok = strings.Cut(part, "=="); !ok {
			k, v, ok = strings.Cut(part, "=")
		}
		req.key, req.value = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || req.key == "" || strings.ContainsAny(req.key, "=! ") || strings.ContainsAny(req.value, "=! ") {
			return nil, errInvalid("Invalid value for parameter 'labelSelector': '%s'. Expected comma-separated key=value, key==value or key!=value requirements.", s)
		}
		sel = append(sel, req)
	}
	return sel, nil
}

func (sel labelSelector) matches(labels map[string]string) bool {
	for _, r := range sel {
		if (labels[r.key] == r.value) == r.negate {
			return false
		}
	}
	return true
}
