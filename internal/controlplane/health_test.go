package controlplane

import (
	"context"
	"encoding/json"
	"testing"

	"meridian/api"
)

func TestGetHealthFromEdgeReports(t *testing.T) {
	c := newTestServer(t, Config{})
	c.must("POST", "/compute/v1/projects/p/regions/us-central1/networkEndpointGroups", `{"name":"neg","networkEndpointType":"SERVERLESS","cloudRun":{"service":"app"}}`)
	c.must("POST", "/compute/v1/projects/p/global/backendServices", `{"name":"bs","backends":[{"group":"regions/us-central1/networkEndpointGroups/neg"}]}`)
	const hp = "/compute/v1/projects/p/global/backendServices/bs/getHealth"
	group := `{"group":"https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/neg"}`

	// No edge has reported: no statuses.
	if got := c.must("POST", hp, group); got["kind"] != "compute#backendServiceGroupHealth" || got["healthStatus"] != nil {
		t.Errorf("no reports: %v", got)
	}
	// Two edges report; each is one status.
	for id, h := range map[string]api.BackendHealth{
		"edge-a": {State: "UNHEALTHY", Reason: "ejected by outlier detection", EjectedUntil: "2026-11-23T03:00:00Z", RTTMillis: 12.34},
		"edge-b": {State: "DRAINING", Reason: "capacityScaler is 0"},
	} {
		data, _ := json.Marshal(api.HealthReport{Edge: id, Location: "europe-west1", Services: map[string]map[string]api.BackendHealth{
			"projects/p/global/backendServices/bs": {"projects/p/regions/us-central1/networkEndpointGroups/neg": h}}})
		if _, err := c.st.Client().Put(context.Background(), c.st.Prefix()+api.HealthReportsPrefix+id, string(data)); err != nil {
			t.Fatal(err)
		}
	}
	got := c.must("POST", hp, group)
	statuses := got["healthStatus"].([]any)
	if len(statuses) != 2 {
		t.Fatalf("statuses %v", got)
	}
	a, b := statuses[0].(map[string]any), statuses[1].(map[string]any)
	annA, annB := a["annotations"].(map[string]any), b["annotations"].(map[string]any)
	if a["healthState"] != "UNHEALTHY" || annA["meridian.ejectedUntil"] != "2026-11-23T03:00:00Z" || annA["meridian.rttMs"] != "12.3" || annA["meridian.edge"] != "edge-a" {
		t.Errorf("edge-a: %v", a)
	}
	if b["healthState"] != "HEALTHY" || annB["meridian.draining"] != "true" {
		t.Errorf("edge-b: %v", b)
	}

	c.wantError("POST", hp, `{"group":"regions/us-central1/networkEndpointGroups/other"}`, 400, "invalid")
	c.wantError("POST", hp, `{}`, 400, "invalid")
	c.wantError("POST", "/compute/v1/projects/p/global/backendServices/nope/getHealth", group, 404, "notFound")
}

func TestHealthChecksOnlyForInternetNEGs(t *testing.T) {
	c := newTestServer(t, Config{})
	g := "/compute/v1/projects/p/global/"
	c.must("POST", g+"healthChecks", `{"name":"hc","type":"HTTP","httpHealthCheck":{"requestPath":"/healthz"}}`)
	c.must("POST", g+"networkEndpointGroups", `{"name":"internet","networkEndpointType":"INTERNET_FQDN_PORT"}`)
	c.must("POST", "/compute/v1/projects/p/regions/us-central1/networkEndpointGroups", `{"name":"run","networkEndpointType":"SERVERLESS","cloudRun":{"service":"app"}}`)
	c.must("POST", g+"backendServices", `{"name":"web","healthChecks":["global/healthChecks/hc"],"backends":[{"group":"global/networkEndpointGroups/internet"}]}`)
	c.wantError("POST", g+"backendServices", `{"name":"app","healthChecks":["global/healthChecks/hc"],"backends":[{"group":"regions/us-central1/networkEndpointGroups/run"}]}`, 400, "invalid")
}
