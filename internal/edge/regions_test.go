package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meridian/internal/testutil"
)

// regionSet is one Cloud Run service deployed in several regions, each behind a relay
// that adds that region's latency, with a serverless NEG per region in one backend
// service, routed by a forwarding rule on 127.0.0.1:80. The region runtimes are stood
// in for by the test: it publishes each region's endpoint as a runtime would.
type regionSet struct {
	h      *harness
	relays map[string]*testutil.Relay
	client *http.Client
	addr   string
}

const regionsService = "projects/p/global/backendServices/app"

func newRegionSet(t *testing.T, delays map[string]time.Duration, backend func(region string) map[string]any, outlier map[string]any) *regionSet {
	t.Helper()
	h := newHarnessWith(t, func(c *Config) {
		c.Location = "us-central1" // by distance, us-central1 is closest
		c.ProbeInterval = 20 * time.Millisecond
		c.ProbeTimeout = 300 * time.Millisecond // loopback relays: far more than any round trip here
	})
	rs := &regionSet{h: h, relays: map[string]*testutil.Relay{}}
	var backends []any
	for region, delay := range delays {
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "region=%s", region)
		}))
		t.Cleanup(origin.Close)
		relay, err := testutil.NewRelay(origin.Listener.Addr().String(), delay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(relay.Stop)
		rs.relays[region] = relay
		ep, _ := json.Marshal(map[string]any{"url": "http://" + relay.Addr, "healthy": true})
		if _, err := h.st.Client().Put(context.Background(), h.st.Prefix()+"endpoints/regions/"+region+"/namespaces/p/services/app", string(ep)); err != nil {
			t.Fatal(err)
		}
		h.call("POST", "regions/"+region+"/networkEndpointGroups", map[string]any{"name": "app-" + region, "networkEndpointType": "SERVERLESS", "cloudRun": map[string]any{"service": "app"}})
		be := map[string]any{"group": "regions/" + region + "/networkEndpointGroups/app-" + region}
		if backend != nil {
			for k, v := range backend(region) {
				be[k] = v
			}
		}
		backends = append(backends, be)
	}
	bs := map[string]any{"name": "app", "loadBalancingScheme": "EXTERNAL_MANAGED", "backends": backends}
	if outlier != nil {
		bs["outlierDetection"] = outlier
	}
	h.call("POST", "global/backendServices", bs)
	h.call("POST", "global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/app"})
	h.call("POST", "global/targetHttpProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"})
	h.call("POST", "global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"})
	rs.addr = h.waitFor("the HTTP listener", func(a map[string]string) bool { return a["127.0.0.1:80"] != "" })["127.0.0.1:80"]
	rs.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", rs.addr)
	}}}
	t.Cleanup(rs.client.CloseIdleConnections)
	return rs
}

// get sends one request through the load balancer: status, body, statusDetails.
func (rs *regionSet) get() (int, string, string) {
	resp, err := rs.client.Get("http://app.example.com/")
	if err != nil {
		return 0, err.Error(), ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), resp.Header.Get("X-Meridian-Status-Details")
}

// measured waits until the edge has measured the round trip to every region.
func (rs *regionSet) measured(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		states := rs.h.edge.lb.States(regionsService)
		n := 0
		for _, st := range states {
			if st.RTT > 0 {
				n++
			}
		}
		if n == len(rs.relays) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("round trips not measured: %+v", states)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTrafficGoesToTheClosestRegion(t *testing.T) {
	// By distance us-central1 is closest to the edge, but its measured latency is the
	// highest: measurement wins.
	rs := newRegionSet(t, map[string]time.Duration{"us-central1": 40 * time.Millisecond, "europe-west1": 2 * time.Millisecond, "asia-east1": 15 * time.Millisecond}, nil, nil)
	rs.measured(t)
	counts := map[string]int{}
	for range 50 {
		code, body, _ := rs.get()
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		counts[body]++
	}
	if counts["region=europe-west1"] != 50 {
		t.Errorf("requests went to %v, want all to europe-west1 (the lowest measured RTT)", counts)
	}
}

func TestFailoverUnderLoadAndReturn(t *testing.T) {
	rs := newRegionSet(t, map[string]time.Duration{"us-central1": 20 * time.Millisecond, "europe-west1": 1 * time.Millisecond, "asia-east1": 5 * time.Millisecond}, nil,
		map[string]any{"baseEjectionTime": map[string]any{"nanos": 300_000_000}})
	rs.measured(t)

	// A bounded load: 4 workers until 1,200 requests or 15 s. The closest region dies
	// after 300 requests and comes back after 600.
	var sent, failed atomic.Int64
	var mu sync.Mutex
	var byRegion []string // the region of each response, in order
	var killedAt, restoredAt int64
	deadline := time.Now().Add(15 * time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := sent.Add(1)
				if n > 1200 {
					return
				}
				if n == 300 {
					rs.relays["europe-west1"].Stop()
					killedAt = n
				}
				if n == 600 {
					rs.relays["europe-west1"].Start()
					restoredAt = n
				}
				code, body, _ := rs.get()
				if code != 200 {
					failed.Add(1)
					continue
				}
				mu.Lock()
				byRegion = append(byRegion, body)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d requests failed while the closest region died", failed.Load())
	}
	if killedAt == 0 || restoredAt == 0 {
		t.Fatal("the load ended before the region was killed and restored")
	}
	// Right after the kill, traffic shifted to the next closest region.
	mu.Lock()
	defer mu.Unlock()
	shifted := 0
	for _, b := range byRegion[killedAt+10 : restoredAt-10] {
		if b == "region=asia-east1" {
			shifted++
		}
	}
	if want := int(restoredAt - killedAt - 20); shifted != want {
		t.Errorf("%d of %d responses while europe-west1 was down came from asia-east1", shifted, want)
	}
	// After the restore and the ejection time, traffic came back to the closest.
	tail := byRegion[len(byRegion)-50:]
	for _, b := range tail {
		if b != "region=europe-west1" {
			t.Errorf("the last responses did not return to europe-west1: %v", tail)
			break
		}
	}
}

func TestAllRegionsDownThenOneBack(t *testing.T) {
	rs := newRegionSet(t, map[string]time.Duration{"us-central1": 5 * time.Millisecond, "europe-west1": 1 * time.Millisecond}, nil, nil)
	rs.measured(t)
	for _, r := range rs.relays {
		r.Stop()
	}
	for range 5 {
		if code, body, detail := rs.get(); code != 503 || detail != "failed_to_pick_backend" {
			t.Fatalf("every region down: %d %q %q", code, body, detail)
		}
	}
	// getHealth reports, per edge, the ejected backend with its ejection's end, and the
	// measured round trip.
	deadline := time.Now().Add(10 * time.Second)
	for ejected := ""; ejected == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("getHealth never reported the ejection")
		}
		for region := range rs.relays {
			health := rs.h.call("POST", "global/backendServices/app/getHealth", map[string]any{"group": "regions/" + region + "/networkEndpointGroups/app-" + region})
			statuses, _ := health["healthStatus"].([]any)
			if health["kind"] != "compute#backendServiceGroupHealth" || len(statuses) != 1 {
				continue
			}
			st := statuses[0].(map[string]any)
			ann := st["annotations"].(map[string]any)
			if ann["meridian.rttMs"] == nil || ann["meridian.location"] != "us-central1" {
				t.Errorf("annotations %v", ann)
			}
			if st["healthState"] == "UNHEALTHY" && ann["meridian.ejectedUntil"] != nil {
				ejected = region
			}
		}
	}
	if err := rs.relays["us-central1"].Start(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := rs.get(); code != 200 || body != "region=us-central1" {
		t.Fatalf("one region back: %d %s", code, body)
	}
}

func TestRateCapacitySpillsToTheNextRegion(t *testing.T) {
	const capacity = 40 // requests per second
	// The regions' latencies differ by far more than load adds on this machine, so the
	// order stays put while the load runs.
	rs := newRegionSet(t, map[string]time.Duration{"europe-west1": 1 * time.Millisecond, "us-central1": 60 * time.Millisecond},
		func(region string) map[string]any {
			if region != "europe-west1" {
				return nil // the next region has room
			}
			return map[string]any{"balancingMode": "RATE", "maxRatePerEndpoint": capacity}
		}, nil)
	rs.measured(t)
	// Open-loop load well above the cap: 150 requests per second for 2 s (300 requests),
	// each on its own, so slow spilled requests do not hold the rate down.
	var mu sync.Mutex
	counts := map[string]int{}
	start := time.Now()
	tick := time.NewTicker(time.Second / 150)
	var wg sync.WaitGroup
	for range 300 {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, _ := rs.get()
			mu.Lock()
			counts[fmt.Sprint(code, " ", body)]++
			mu.Unlock()
		}()
	}
	tick.Stop()
	elapsed := time.Since(start).Seconds()
	wg.Wait()
	closest := counts["200 region=europe-west1"]
	want := capacity * elapsed
	if float64(closest) < 0.9*want || float64(closest) > 1.1*want+capacity/10 {
		t.Errorf("the closest region took %d requests in %.1fs at a cap of %d/s (want %.0f ±10%%): %v", closest, elapsed, capacity, want, counts)
	}
	if counts["200 region=us-central1"] == 0 || len(counts) != 2 {
		t.Errorf("nothing spilled, or something failed: %v", counts)
	}
}

// TestWaitOnADeadHostMoves: a region's host stops answering without refusing anything
// (a host cut off the network). A request already written to it would wait for the
// backend timeout (30 s); the failed round-trip probe of that host moves it to the
// next region instead, within the probe's timeout.
func TestWaitOnADeadHostMoves(t *testing.T) {
	rs := newRegionSet(t, map[string]time.Duration{"europe-west1": time.Millisecond, "asia-east1": 10 * time.Millisecond}, nil, nil)
	rs.measured(t)
	if code, body, _ := rs.get(); code != 200 || body != "region=europe-west1" {
		t.Fatalf("before: %d %s", code, body)
	}
	rs.relays["europe-west1"].Silence(true) // the kept-alive connection stays open, mute
	// The client gives up after 10 s, well before the backend timeout.
	code, body, detail := rs.get()
	if code != 200 || body != "region=asia-east1" {
		t.Fatalf("a request waiting on a dead host: %d %s (%s), want it answered by asia-east1", code, body, detail)
	}
}
