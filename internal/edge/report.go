package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"meridian/api"
	"meridian/internal/snapshot"
)

// reportInterval is how often the edge checks whether its view of backend health
// changed, and publishes it if so.
const reportInterval = time.Second

// reportHealth publishes the edge's view of every backend's health under its lease
// whenever it changes, until ctx is done.
func (e *Edge) reportHealth(ctx context.Context) {
	id := e.group.ID()
	var last []byte
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		report := e.healthReport(id)
		if data, err := json.Marshal(report); err == nil && !bytes.Equal(data, last) {
			if err := e.group.Publish(ctx, api.HealthReportsPrefix+id, data); err == nil {
				last = data
			} else if ctx.Err() == nil {
				fmt.Fprintf(e.cfg.Log, "edge: health report: %v\n", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// healthReport is the edge's current view: each backend is DRAINING at capacityScaler
// 0, UNHEALTHY when ejected or when its region has no ready instance, else HEALTHY.
func (e *Edge) healthReport(id string) api.HealthReport {
	snap := e.snap.Load()
	now := time.Now()
	r := api.HealthReport{Edge: id, Location: e.cfg.Location, Services: map[string]map[string]api.BackendHealth{}}
	for path, svc := range snap.Services {
		states := e.lb.States(path)
		backends := map[string]api.BackendHealth{}
		for _, b := range svc.Backends {
			st := states[b.Group]
			h := api.BackendHealth{State: "HEALTHY", Requests: st.Requests}
			if st.RTT > 0 {
				h.RTTMillis = float64(st.RTT.Microseconds()) / 1000
			}
			switch {
			case b.CapacityScaler == 0:
				h.State, h.Reason = "DRAINING", "capacityScaler is 0"
			case !st.EjectedUntil.IsZero() && st.EjectedUntil.After(now):
				h.State, h.Reason = "UNHEALTHY", "ejected by outlier detection"
				h.EjectedUntil = st.EjectedUntil.UTC().Format(time.RFC3339)
			case svc.HealthCheck != nil && len(b.Endpoints) > 0 && e.pickEndpoint(svc, &b, schemeOf(svc.Resource)) == "":
				h.State, h.Reason = "UNHEALTHY", "every endpoint fails the health check"
			default:
				h.State, h.Reason = backendReadiness(&b)
			}
			backends[b.Group] = h
		}
		r.Services[path] = backends
	}
	return r
}

// backendReadiness is what the configuration says of a backend: a serverless NEG whose
// service runs nowhere, or whose region keeps minimum instances but has none ready, is
// unhealthy.
func backendReadiness(b *snapshot.Backend) (string, string) {
	if b.Type != api.NEGServerless || b.CloudRun == nil || b.CloudRun.URLMask != "" {
		if len(b.Endpoints) == 0 && b.Type != api.NEGServerless {
			return "UNHEALTHY", "the network endpoint group has no endpoints"
		}
		return "HEALTHY", ""
	}
	ep, ok := b.Services[b.CloudRun.Service]
	switch {
	case !ok:
		return "UNHEALTHY", fmt.Sprintf("Cloud Run service %q runs nowhere in %s", b.CloudRun.Service, b.Region)
	case !ep.Healthy:
		return "UNHEALTHY", "no ready instance in the region"
	}
	return "HEALTHY", ""
}
