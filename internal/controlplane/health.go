package controlplane

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"

	"meridian/api"
)

// getHealth answers backendServices.getHealth for one backend group: one healthStatus
// per live edge that balances the backend service, from the reports edges publish under
// their membership lease (an edge that stops drops out with its lease). GCP's fields
// are kept; what GCP does not have (which edge, its location, the measured round trip,
// an ejection's end) goes in annotations.
func (s *Server) getHealth(ctx context.Context, k *kind, rt route, body []byte) (any, error) {
	var req struct {
		Group string `json:"group"`
	}
	if err := decodeStrict(body, &req, "request"); err != nil {
		return nil, err
	}
	path := pathOf(k, rt, rt.name)
	res, _, err := s.load(ctx, k, path)
	if err != nil {
		return nil, err
	}
	if req.Group == "" {
		return nil, errInvalid("Required field 'group' not specified.")
	}
	group, err := parseRef(req.Group, rt, []string{"networkEndpointGroups", "instanceGroups"})
	if err != nil {
		return nil, errInvalid("Invalid value for field 'group': '%s'. %v", req.Group, err)
	}
	found := false
	for _, b := range res.(*api.BackendService).Backends {
		if bp, err := api.ParseResourcePath(b.Group, rt.project); err == nil && bp == group {
			found = true
		}
	}
	if !found {
		return nil, errInvalid("Invalid value for field 'group': '%s'. It is not a backend of backend service '%s'.", req.Group, rt.name)
	}
	kvs, _, err := s.store.ListAll(ctx, api.HealthReportsPrefix)
	if err != nil {
		return nil, err
	}
	type status struct {
		HealthState string            `json:"healthState"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	var statuses []status
	for _, kv := range kvs {
		var report api.HealthReport
		if json.Unmarshal(kv.Value, &report) != nil {
			continue
		}
		h, ok := report.Services[path.String()][group.String()]
		if !ok {
			continue
		}
		st := status{HealthState: h.State, Annotations: map[string]string{"meridian.edge": report.Edge, "meridian.location": report.Location}}
		if h.State == "DRAINING" {
			st.HealthState = "HEALTHY" // GCP's healthState has no draining; say why instead
			st.Annotations["meridian.draining"] = "true"
		}
		if h.Reason != "" {
			st.Annotations["meridian.reason"] = h.Reason
		}
		if h.EjectedUntil != "" {
			st.Annotations["meridian.ejectedUntil"] = h.EjectedUntil
		}
		if h.RTTMillis > 0 {
			st.Annotations["meridian.rttMs"] = strconv.FormatFloat(h.RTTMillis, 'f', 1, 64)
		}
		statuses = append(statuses, st)
	}
	sort.Slice(statuses, func(i, j int) bool {
		return statuses[i].Annotations["meridian.edge"] < statuses[j].Annotations["meridian.edge"]
	})
	return struct {
		Kind         string   `json:"kind"`
		HealthStatus []status `json:"healthStatus,omitempty"`
	}{Kind: "compute#backendServiceGroupHealth", HealthStatus: statuses}, nil
}
