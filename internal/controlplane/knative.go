package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"

	"meridian/api"
	"meridian/internal/store"
)

// The Cloud Run Admin API v1 is Knative's serving API, one endpoint per region. Meridian
// serves a region's endpoint under /regions/{region}/ (point a client's endpoint there)
// and also at v1/projects/{p}/locations/{region}/services. Services are stored at
// res/projects/{namespace}/regions/{region}/services/{name}; the region runtime (a
// later issue) runs them and writes their status.

func knativeKey(region, namespace, name string) string {
	return resKey(api.ResourcePath{Project: namespace, Region: region, Collection: "services", Name: name}.String())
}

func (s *Server) serveKnativeCollection(w http.ResponseWriter, r *http.Request) {
	region, ns := r.PathValue("region"), r.PathValue("namespace")
	var result any
	var err error
	switch r.Method {
	case http.MethodGet:
		result, err = s.listKnative(r.Context(), region, ns)
	case http.MethodPost:
		result, err = s.writeKnative(r, region, ns, "", true)
	default:
		err = &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path}
	}
	respondKnative(w, result, err)
}

func (s *Server) serveKnativeService(w http.ResponseWriter, r *http.Request) {
	region, ns, name := r.PathValue("region"), r.PathValue("namespace"), r.PathValue("name")
	var result any
	var err error
	switch r.Method {
	case http.MethodGet:
		result, _, err = s.loadKnative(r.Context(), region, ns, name)
	case http.MethodPut:
		result, err = s.writeKnative(r, region, ns, name, false)
	case http.MethodDelete:
		result, err = s.deleteKnative(r.Context(), region, ns, name)
	default:
		err = &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path}
	}
	respondKnative(w, result, err)
}

func respondKnative(w http.ResponseWriter, result any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, result)
}

func validateScopeNames(region, ns string) error {
	if region == allRegions {
		return errInvalid("A region is required: Cloud Run's global endpoint only lists services and revisions. Use the region's endpoint (--region).")
	}
	if err := api.ValidateName("region", region); err != nil {
		return err
	}
	return api.ValidateName("namespace", ns)
}

func (s *Server) loadKnative(ctx context.Context, region, ns, name string) (*api.KnativeService, int64, error) {
	if err := validateScopeNames(region, ns); err != nil {
		return nil, 0, err
	}
	kv, err := s.store.Get(ctx, knativeKey(region, ns, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, &apiError{404, "notFound", fmt.Sprintf("Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", name, region, ns)}
	}
	if err != nil {
		return nil, 0, err
	}
	var svc api.KnativeService
	if err := json.Unmarshal(kv.Value, &svc); err != nil {
		return nil, 0, fmt.Errorf("stored service %s is corrupt: %w", name, err)
	}
	locate(&svc.Metadata, region)
	return &svc, kv.ModRevision, nil
}

func (s *Server) listKnative(ctx context.Context, region, ns string) (any, error) {
	if err := validateListScope(region, ns); err != nil {
		return nil, err
	}
	kvs, err := s.listRegional(ctx, region, ns, "services")
	if err != nil {
		return nil, err
	}
	items := make([]api.KnativeService, 0, len(kvs))
	for _, kv := range kvs {
		var svc api.KnativeService
		if err := json.Unmarshal(kv.Value, &svc); err != nil {
			return nil, fmt.Errorf("stored service %s is corrupt: %w", kv.Key, err)
		}
		locate(&svc.Metadata, kv.region)
		items = append(items, svc)
	}
	return struct {
		APIVersion string               `json:"apiVersion"`
		Kind       string               `json:"kind"`
		Metadata   struct{}             `json:"metadata"`
		Items      []api.KnativeService `json:"items"`
	}{APIVersion: api.KnativeAPIVersion, Kind: "ServiceList", Items: items}, nil
}

// writeKnative creates (POST) or replaces (PUT) a service. A change of spec.template
// makes a new revision (a new latestCreatedRevisionName); any change of spec bumps the
// generation, as in Knative.
func (s *Server) writeKnative(r *http.Request, region, ns, pathName string, create bool) (any, error) {
	if err := validateScopeNames(region, ns); err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	// A replace without a resourceVersion that loses a race (typically with the region
	// runtime writing status) is simply tried again on the fresh service.
	return retryRaces(r.Context(), pathName, func() (any, error) {
		return s.tryWriteKnative(r.Context(), body, region, ns, pathName, create)
	})
}

func (s *Server) tryWriteKnative(ctx context.Context, body []byte, region, ns, pathName string, create bool) (any, error) {
	var svc api.KnativeService
	if err := decodeStrict(body, &svc, "service"); err != nil {
		return nil, err
	}
	if svc.Metadata.Namespace == "" {
		svc.Metadata.Namespace = ns
	}
	if svc.Metadata.Namespace != ns {
		return nil, errInvalid("Invalid value for field 'metadata.namespace': '%s'. It must match the namespace of the request, '%s'.", svc.Metadata.Namespace, ns)
	}
	if !create && svc.Metadata.Name != pathName {
		return nil, errInvalid("Invalid value for field 'metadata.name': '%s'. It must match the name in the request path, '%s'.", svc.Metadata.Name, pathName)
	}
	if err := svc.Validate(); err != nil {
		return nil, err
	}
	svc.SetDefaults()
	key := knativeKey(region, ns, svc.Metadata.Name)
	var prev *api.KnativeService
	cond := store.Condition{Key: key, Want: store.Absent}
	if !create {
		cur, rev, err := s.loadKnative(ctx, region, ns, pathName)
		if err != nil {
			return nil, err
		}
		if v := svc.Metadata.ResourceVersion; v != "" && v != cur.Metadata.ResourceVersion {
			return nil, &apiError{409, "conflict", fmt.Sprintf("Resource '%s' was modified concurrently: its resourceVersion is '%s', not '%s'. Fetch it and try again.", pathName, cur.Metadata.ResourceVersion, v)}
		}
		prev, cond = cur, store.Condition{Key: key, Want: rev}
	}
	// knativeStatus stamps the output-only resourceVersion: whether the caller set a
	// precondition is known only before it.
	unconditional := svc.Metadata.ResourceVersion == ""
	newRevision := s.knativeStatus(&svc, prev, region)
	change := store.Change{Conditions: []store.Condition{cond}, Puts: map[string][]byte{}}
	existing, err := s.revisionsOf(ctx, region, ns, svc.Metadata.Name)
	if err != nil {
		return nil, err
	}
	if newRevision != nil {
		if _, taken := existing[newRevision.Metadata.Name]; taken {
			return nil, &apiError{409, "alreadyExists", fmt.Sprintf("Revision named '%s' with different configuration already exists.", newRevision.Metadata.Name)}
		}
		revKey := revisionKey(region, ns, newRevision.Metadata.Name)
		data, err := json.Marshal(newRevision)
		if err != nil {
			return nil, err
		}
		change.Conditions = append(change.Conditions, store.Condition{Key: revKey, Want: store.Absent})
		change.Puts[revKey] = data
		existing[newRevision.Metadata.Name] = newRevision
	}
	for i, t := range svc.Spec.Traffic {
		if _, ok := existing[t.RevisionName]; t.RevisionName != "" && !ok {
			return nil, errInvalid("Invalid value for field 'spec.traffic[%d].revisionName': '%s'. Revision '%s' of service '%s' does not exist.", i, t.RevisionName, t.RevisionName, svc.Metadata.Name)
		}
	}
	data, err := json.Marshal(svc)
	if err != nil {
		return nil, err
	}
	change.Puts[key] = data
	if _, err := s.store.Apply(ctx, change); err != nil {
		var cf *store.ConditionFailed
		if errors.As(err, &cf) && create && cf.Condition.Key == key {
			return nil, &apiError{409, "alreadyExists", fmt.Sprintf("Resource '%s' already exists.", svc.Metadata.Name)}
		}
		if errors.As(err, &cf) && !create && cf.Condition.Key == key && unconditional {
			return nil, errRetry
		}
		if errors.As(err, &cf) {
			return nil, &apiError{409, "conflict", fmt.Sprintf("Resource '%s' was modified concurrently. Try again.", svc.Metadata.Name)}
		}
		return nil, err
	}
	return &svc, nil
}

// knativeStatus fills the output-only metadata and status of a written service, and
// returns the revision its template creates (nil when the template did not change).
func (s *Server) knativeStatus(svc, prev *api.KnativeService, region string) *api.KnativeRevision {
	m := &svc.Metadata
	locate(m, region)
	creator := apiUser
	if prev != nil && prev.Metadata.Annotations[api.CreatorAnnotation] != "" {
		creator = prev.Metadata.Annotations[api.CreatorAnnotation]
	}
	annotate(m, api.CreatorAnnotation, creator)
	annotate(m, api.LastModifierAnnotation, apiUser)
	m.SelfLink = fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/services/%s", m.Namespace, m.Name)
	if prev == nil {
		m.UID, m.Generation, m.CreationTimestamp = newUID(), 1, s.cfg.Now().UTC().Format("2006-01-02T15:04:05Z")
	} else {
		m.UID, m.Generation, m.CreationTimestamp = prev.Metadata.UID, prev.Metadata.Generation, prev.Metadata.CreationTimestamp
		if !reflect.DeepEqual(svc.Spec, prev.Spec) {
			m.Generation++
		}
	}
	status := &api.ServiceStatus{ObservedGeneration: m.Generation}
	if prev != nil && prev.Status != nil {
		*status = *prev.Status
		status.ObservedGeneration = m.Generation
	}
	now := s.cfg.Now().UTC().Format("2006-01-02T15:04:05Z")
	var revision *api.KnativeRevision
	if prev == nil || !reflect.DeepEqual(svc.Spec.Template, prev.Spec.Template) {
		name := svc.Spec.Template.Metadata.Name
		if name == "" {
			name = api.RevisionName(m.Name, m.Generation, newUID()[:3])
		}
		status.LatestCreatedRevisionName = name
		revision = newRevision(svc, name, now)
		locate(&revision.Metadata, region)
		annotate(&revision.Metadata, api.CreatorAnnotation, apiUser)
	}
	msg := fmt.Sprintf("Revision %s is waiting for the %s region runtime to run it.", status.LatestCreatedRevisionName, region)
	if status.LatestReadyRevisionName == status.LatestCreatedRevisionName && status.LatestReadyRevisionName != "" {
		msg = ""
	}
	if msg == "" && prev != nil && !reflect.DeepEqual(svc.Spec.Traffic, prev.Spec.Traffic) {
		// A new split is ready once the runtime routes it.
		status.Conditions = []api.Condition{
			{Type: "Ready", Status: "Unknown", Reason: "TrafficNotMigrated", Message: "Traffic is not yet migrated to the new split.", LastTransitionTime: now},
			{Type: "ConfigurationsReady", Status: "True", LastTransitionTime: now},
			{Type: "RoutesReady", Status: "Unknown", Reason: "TrafficNotMigrated", Message: "Traffic is not yet migrated to the new split.", LastTransitionTime: now},
		}
	}
	if msg != "" {
		status.Conditions = []api.Condition{
			{Type: "Ready", Status: "Unknown", Reason: "RevisionMissing", Message: msg, LastTransitionTime: now},
			{Type: "ConfigurationsReady", Status: "Unknown", Reason: "RevisionMissing", Message: msg, LastTransitionTime: now},
			{Type: "RoutesReady", Status: "Unknown", Reason: "RevisionMissing", Message: msg, LastTransitionTime: now},
		}
	}
	svc.Status = status
	m.ResourceVersion = resourceVersion(m.UID, m.Generation, now)
	return revision
}

func resourceVersion(uid string, generation int64, now string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s/%d", uid, generation, now, newID())))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// newRevision is the immutable revision a service's template makes.
func newRevision(svc *api.KnativeService, name, now string) *api.KnativeRevision {
	tm := svc.Spec.Template.Metadata
	labels := map[string]string{}
	for k, v := range tm.Labels {
		labels[k] = v
	}
	labels[api.ServiceLabel] = svc.Metadata.Name
	labels[api.ConfigurationLabel] = svc.Metadata.Name
	labels[api.ConfigurationGenerationLabel] = fmt.Sprint(svc.Metadata.Generation)
	uid := newUID()
	return &api.KnativeRevision{
		APIVersion: api.KnativeAPIVersion, Kind: "Revision",
		Metadata: api.ObjectMeta{
			Name: name, Namespace: svc.Metadata.Namespace, Labels: labels, Annotations: maps.Clone(tm.Annotations),
			UID: uid, Generation: 1, CreationTimestamp: now, ResourceVersion: resourceVersion(uid, 1, now),
			SelfLink: fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/revisions/%s", svc.Metadata.Namespace, name),
		},
		Spec: svc.Spec.Template.Spec,
		Status: &api.RevisionStatus{ObservedGeneration: 1, Conditions: []api.Condition{
			{Type: "Ready", Status: "Unknown", Reason: "Deploying", LastTransitionTime: now},
			{Type: "ContainerHealthy", Status: "Unknown", Reason: "Deploying", LastTransitionTime: now},
			{Type: "ResourcesAvailable", Status: "Unknown", Reason: "Deploying", LastTransitionTime: now},
		}},
	}
}

func (s *Server) deleteKnative(ctx context.Context, region, ns, name string) (any, error) {
	// The region runtime writes the service's status as it works: a delete that
	// races such a write reads the service again and retries (the caller set no
	// precondition).
	return retryRaces(ctx, name, func() (any, error) {
		svc, rev, err := s.loadKnative(ctx, region, ns, name)
		if err != nil {
			return nil, err
		}
		key := knativeKey(region, ns, name)
		revisions, err := s.revisionsOf(ctx, region, ns, name)
		if err != nil {
			return nil, err
		}
		deletes := []string{key}
		for r := range revisions {
			deletes = append(deletes, revisionKey(region, ns, r))
		}
		_, err = s.store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: key, Want: rev}}, Deletes: deletes})
		if cf := (*store.ConditionFailed)(nil); errors.As(err, &cf) {
			return nil, errRetry
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"apiVersion": "v1", "kind": "Status", "status": "Success",
			"details": map[string]string{"name": name, "group": "serving.knative.dev", "kind": "services", "uid": svc.Metadata.UID},
		}, nil
	})
}

// newUID returns a random RFC 4122 version 4 UUID, Kubernetes' form of uid.
func newUID() string {
	a, b := newID(), newID()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}
