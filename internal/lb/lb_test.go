package lb

import (
	"reflect"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestBalancer() (*Balancer, *clock) {
	c := &clock{t: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	b := New(c.now)
	b.enforce = func(p int64) bool { return p >= 100 }
	return b, c
}

func regions() []Candidate {
	return []Candidate{
		{Group: "us", Prior: 100 * time.Millisecond, Healthy: true, Scaler: 1},
		{Group: "eu", Prior: 10 * time.Millisecond, Healthy: true, Scaler: 1},
		{Group: "asia", Prior: 200 * time.Millisecond, Healthy: true, Scaler: 1},
	}
}

func groups(c []Candidate, order []int) []string {
	var out []string
	for _, i := range order {
		out = append(out, c[i].Group)
	}
	return out
}

func TestPlanOrdersByPriorThenMeasurement(t *testing.T) {
	b, _ := newTestBalancer()
	c := regions()
	if got := groups(c, b.Plan("s", c)); !reflect.DeepEqual(got, []string{"eu", "us", "asia"}) {
		t.Errorf("by prior: %v", got)
	}
	// Measurements override the prior: asia turns out to be closest.
	for range 10 {
		b.ObserveRTT("s", "asia", 5*time.Millisecond)
		b.ObserveRTT("s", "eu", 50*time.Millisecond)
	}
	if got := groups(c, b.Plan("s", c)); !reflect.DeepEqual(got, []string{"asia", "eu", "us"}) {
		t.Errorf("by measurement: %v", got)
	}
	// The EWMA follows a change by a weighted step: 0.3 × 500 ms + 0.7 × 5 ms.
	b.ObserveRTT("s", "asia", 500*time.Millisecond)
	if st := b.States("s")["asia"]; st.RTT < 153*time.Millisecond || st.RTT > 154*time.Millisecond {
		t.Errorf("EWMA after one slow sample: %v", st.RTT)
	}
}

func TestPlanDrainedUnhealthyAndEjected(t *testing.T) {
	b, _ := newTestBalancer()
	c := regions()
	c[0].Scaler = 0      // us drained
	c[1].Healthy = false // eu down: last resort
	if got := groups(c, b.Plan("s", c)); !reflect.DeepEqual(got, []string{"asia", "eu"}) {
		t.Errorf("got %v", got)
	}
}

func TestOutlierEjectionAndReturn(t *testing.T) {
	b, clk := newTestBalancer()
	c := regions()
	od := DefaultOutlier()
	// Two gateway failures do not eject; the third does (consecutiveGatewayFailure 3).
	b.Observe("s", "eu", GatewayFailure, od, 3)
	b.Observe("s", "eu", GatewayFailure, od, 3)
	if got := groups(c, b.Plan("s", c)); got[0] != "eu" {
		t.Fatalf("ejected too early: %v", got)
	}
	b.Observe("s", "eu", GatewayFailure, od, 3)
	if got := groups(c, b.Plan("s", c)); !reflect.DeepEqual(got, []string{"us", "asia", "eu"}) {
		t.Fatalf("after three gateway failures: %v", got)
	}
	if st := b.States("s")["eu"]; !st.EjectedUntil.Equal(clk.t.Add(30 * time.Second)) {
		t.Errorf("ejected until %v", st.EjectedUntil)
	}
	// With maxEjectionPercent 50 of 3 backends, a second one is not ejected.
	for range 3 {
		b.Observe("s", "us", GatewayFailure, od, 3)
	}
	if got := groups(c, b.Plan("s", c)); got[0] != "us" {
		t.Errorf("a second ejection exceeded maxEjectionPercent: %v", got)
	}
	// After the base ejection time the backend is back, first again.
	clk.advance(30*time.Second + time.Millisecond)
	if got := groups(c, b.Plan("s", c)); got[0] != "eu" {
		t.Errorf("not back after the ejection time: %v", got)
	}
	// Failing again at once ejects it for twice as long.
	for range 3 {
		b.Observe("s", "eu", GatewayFailure, od, 3)
	}
	if st := b.States("s")["eu"]; !st.EjectedUntil.Equal(clk.t.Add(60*time.Second)) || st.Ejections != 2 {
		t.Errorf("second ejection: %+v", st)
	}
	// Plain 5xx errors do not eject at enforcingConsecutiveErrors 0 (GCP's default).
	for range 10 {
		b.Observe("s", "asia", Error, od, 3)
	}
	if st := b.States("s")["asia"]; !st.EjectedUntil.IsZero() {
		t.Errorf("errors ejected with enforcing 0: %+v", st)
	}
	// A success resets the count.
	b.Observe("s", "asia", GatewayFailure, od, 3)
	b.Observe("s", "asia", GatewayFailure, od, 3)
	b.Observe("s", "asia", Success, od, 3)
	b.Observe("s", "asia", GatewayFailure, od, 3)
	if st := b.States("s")["asia"]; !st.EjectedUntil.IsZero() {
		t.Errorf("a success did not reset the count: %+v", st)
	}
}

// A region's runtime dies and a standby on another host takes the region over: the
// new endpoint is not held to the ejection the dead one earned.
func TestNewEndpointEndsAnEjection(t *testing.T) {
	b, _ := newTestBalancer()
	c := regions()
	for i := range c {
		c[i].Endpoint = "http://" + c[i].Group + "-1"
	}
	b.Plan("s", c)
	b.ObserveRTT("s", "eu", 5*time.Second) // its probes timed out
	for range 3 {
		b.Observe("s", "eu", GatewayFailure, DefaultOutlier(), 3)
	}
	if got := groups(c, b.Plan("s", c)); got[0] == "eu" {
		t.Fatalf("not ejected: %v", got)
	}
	c[1].Endpoint = "http://eu-2" // regions()[1] is eu
	if got := groups(c, b.Plan("s", c)); got[0] != "eu" {
		t.Fatalf("the new endpoint is still ejected: %v", got)
	}
	if st := b.States("s")["eu"]; !st.EjectedUntil.IsZero() || st.Ejections != 0 {
		t.Errorf("state after the new endpoint: %+v", st)
	}
}

func TestSingleBackendCanBeEjected(t *testing.T) {
	b, _ := newTestBalancer()
	for range 3 {
		b.Observe("s", "only", GatewayFailure, DefaultOutlier(), 1)
	}
	if st := b.States("s")["only"]; st.EjectedUntil.IsZero() {
		t.Error("one backend must be ejectable")
	}
	// It is still tried, last (every region failed: try anyway).
	c := []Candidate{{Group: "only", Healthy: true, Scaler: 1}}
	if got := b.Plan("s", c); len(got) != 1 {
		t.Errorf("plan %v", got)
	}
}

func TestRateCapacitySpillsToNext(t *testing.T) {
	b, clk := newTestBalancer()
	c := regions()
	c[1].MaxRate = 100 // eu takes 100 rps
	counts := map[string]int{}
	// 300 requests per second for 10 seconds, evenly spaced.
	for range 3000 {
		clk.advance(time.Second / 300)
		counts[c[b.Plan("s", c)[0]].Group]++
	}
	if eu := counts["eu"]; eu < 900 || eu > 1100 {
		t.Errorf("eu took %d of 3000 at a cap of 100/s for 10 s: %v", eu, counts)
	}
	if counts["us"] != 3000-counts["eu"] {
		t.Errorf("spill went past the next closest: %v", counts)
	}
	// capacityScaler scales the cap.
	c[1].Scaler = 0.5
	counts = map[string]int{}
	for range 3000 {
		clk.advance(time.Second / 300)
		counts[c[b.Plan("s", c)[0]].Group]++
	}
	if eu := counts["eu"]; eu < 450 || eu > 560 {
		t.Errorf("eu took %d at half capacity: %v", eu, counts)
	}
}

func TestRetain(t *testing.T) {
	b, _ := newTestBalancer()
	b.ObserveRTT("s", "a", time.Millisecond)
	b.ObserveRTT("s", "b", time.Millisecond)
	b.ObserveRTT("gone", "a", time.Millisecond)
	b.Retain(map[string]map[string]bool{"s": {"a": true}})
	if len(b.States("s")) != 1 || len(b.States("gone")) != 0 {
		t.Errorf("retain kept %v %v", b.States("s"), b.States("gone"))
	}
}

func TestMeasurementsWithinNoiseKeepTheDistanceOrder(t *testing.T) {
	b, _ := newTestBalancer()
	c := regions() // priors: eu 10 ms, us 100 ms, asia 200 ms
	// On one machine every region measures a fraction of a millisecond, in any order.
	b.ObserveRTT("s", "asia", 200*time.Microsecond)
	b.ObserveRTT("s", "us", 300*time.Microsecond)
	b.ObserveRTT("s", "eu", 400*time.Microsecond)
	if got := groups(c, b.Plan("s", c)); !reflect.DeepEqual(got, []string{"eu", "us", "asia"}) {
		t.Errorf("loopback noise reordered the regions: %v", got)
	}
	// Twice as fast decides, whatever the distance says.
	b2, _ := newTestBalancer()
	b2.ObserveRTT("s", "eu", 22*time.Millisecond)
	b2.ObserveRTT("s", "us", 20*time.Millisecond)
	b2.ObserveRTT("s", "asia", 10*time.Millisecond)
	if got := groups(c, b2.Plan("s", c)); got[0] != "asia" {
		t.Errorf("a real difference did not decide: %v", got)
	}
	if rttBucket(500*time.Microsecond) != 0 || rttBucket(20*time.Millisecond) >= rttBucket(40*time.Millisecond) {
		t.Error("buckets")
	}
}
