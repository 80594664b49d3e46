package geo

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// gcpRegions is every public Google Cloud region as of early 2026.
var gcpRegions = []string{
	"us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
	"us-west1", "us-west2", "us-west3", "us-west4",
	"northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
	"southamerica-east1", "southamerica-west1",
	"europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6",
	"europe-west8", "europe-west9", "europe-west10", "europe-west12",
	"europe-north1", "europe-north2", "europe-central2", "europe-southwest1",
	"me-west1", "me-central1", "me-central2", "africa-south1",
	"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "asia-southeast3",
	"australia-southeast1", "australia-southeast2",
}

// requiredMetros are the PoP codes the table must know.
var requiredMetros = []string{
	"iad", "ord", "dfw", "lax", "sfo", "sea", "jfk", "nyc", "mia", "atl", "den", "yyz",
	"gru", "lhr", "ams", "fra", "cdg", "mad", "mxp", "arn", "waw", "zrh", "hel", "tlv",
	"dxb", "bom", "del", "sin", "hkg", "nrt", "tyo", "kix", "icn", "syd", "mel", "jnb",
}

func TestBuiltins(t *testing.T) {
	for _, name := range gcpRegions {
		if _, ok := regions[name]; !ok {
			t.Errorf("region %s missing", name)
		}
	}
	if len(regions) != len(gcpRegions) {
		t.Errorf("%d regions in the table, %d expected", len(regions), len(gcpRegions))
	}
	for _, name := range requiredMetros {
		if _, ok := metros[name]; !ok {
			t.Errorf("metro %s missing", name)
		}
	}
	for name := range metros {
		if _, dup := regions[name]; dup {
			t.Errorf("%s is both a region and a metro", name)
		}
	}
	if len(builtins) != len(regions)+len(metros) {
		t.Errorf("builtins has %d entries, want %d", len(builtins), len(regions)+len(metros))
	}
	for name, p := range builtins {
		if err := checkName(name); err != nil {
			t.Errorf("built-in name: %v", err)
		}
		if err := checkPoint(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRegionsNearTheirMetro cross-checks the two tables: a region and the metro code of
// the same city (or the nearest big one) must be close.
func TestRegionsNearTheirMetro(t *testing.T) {
	pairs := []struct {
		region, metro string
		maxKm         float64
	}{
		{"us-central1", "mci", 300}, // Council Bluffs is near Omaha
		{"us-east1", "atl", 500},
		{"us-east4", "iad", 60},
		{"us-east5", "cmh", 10},
		{"us-south1", "dfw", 10},
		{"us-west1", "pdx", 150},
		{"us-west2", "lax", 10},
		{"us-west3", "slc", 10},
		{"us-west4", "las", 10},
		{"northamerica-northeast1", "yul", 10},
		{"northamerica-northeast2", "yyz", 10},
		{"northamerica-south1", "mex", 250},
		{"southamerica-east1", "gru", 30},
		{"southamerica-west1", "scl", 10},
		{"europe-west1", "bru", 80},
		{"europe-west2", "lhr", 10},
		{"europe-west3", "fra", 10},
		{"europe-west4", "ams", 200},
		{"europe-west6", "zrh", 10},
		{"europe-west8", "mxp", 10},
		{"europe-west9", "cdg", 10},
		{"europe-west10", "ber", 10},
		{"europe-west12", "trn", 10},
		{"europe-north1", "hel", 150},
		{"europe-north2", "arn", 10},
		{"europe-central2", "waw", 10},
		{"europe-southwest1", "mad", 10},
		{"me-west1", "tlv", 10},
		{"me-central1", "doh", 10},
		{"me-central2", "dmm", 10},
		{"africa-south1", "jnb", 10},
		{"asia-east1", "tpe", 200},
		{"asia-east2", "hkg", 10},
		{"asia-northeast1", "nrt", 10},
		{"asia-northeast2", "kix", 10},
		{"asia-northeast3", "icn", 10},
		{"asia-south1", "bom", 10},
		{"asia-south2", "del", 10},
		{"asia-southeast1", "sin", 20},
		{"asia-southeast2", "cgk", 10},
		{"asia-southeast3", "bkk", 10},
		{"australia-southeast1", "syd", 10},
		{"australia-southeast2", "mel", 10},
	}
	seen := map[string]bool{}
	for _, pc := range pairs {
		seen[pc.region] = true
		r, ok1 := Lookup(pc.region)
		m, ok2 := Lookup(pc.metro)
		if !ok1 || !ok2 {
			t.Errorf("%s or %s unknown", pc.region, pc.metro)
			continue
		}
		if d := Distance(r, m); d > pc.maxKm {
			t.Errorf("%s is %.0f km from %s, want at most %.0f", pc.region, d, pc.metro, pc.maxKm)
		}
	}
	for _, name := range gcpRegions {
		if !seen[name] {
			t.Errorf("region %s not cross-checked", name)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		want   Point
		wantOK bool
	}{
		{"us-central1", Point{41.2619, -95.8608}, true},
		{"europe-west4", Point{53.4386, 6.8336}, true},
		{"fra", Point{50.1109, 8.6821}, true},
		{"nrt", Point{35.6762, 139.6503}, true},
		{"tyo", Point{35.6762, 139.6503}, true},
		{"US-Central1", Point{41.2619, -95.8608}, true},
		{"FRA", Point{50.1109, 8.6821}, true},
		{"Jfk", Point{40.7128, -74.0060}, true},
		{"mars-north1", Point{}, false},
		{"", Point{}, false},
		{" fra", Point{}, false},
	}
	for _, tt := range tests {
		got, ok := Lookup(tt.name)
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
		got, ok = NewTable().Lookup(tt.name)
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("Table.Lookup(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func mustLookup(t *testing.T, name string) Point {
	t.Helper()
	p, ok := Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) failed", name)
	}
	return p
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b     Point
		wantKm   float64
		tolerant float64 // relative
	}{
		// London–Paris, centre to centre: 343.5 km.
		{mustLookup(t, "lhr"), mustLookup(t, "cdg"), 344, 0.02},
		// New York–London: about 5570 km.
		{mustLookup(t, "jfk"), mustLookup(t, "lhr"), 5570, 0.02},
		// Sydney–Melbourne: about 714 km.
		{mustLookup(t, "syd"), mustLookup(t, "mel"), 714, 0.02},
		// A quarter of the equator and pole to pole: πR/2 and πR.
		{Point{0, 0}, Point{0, 90}, math.Pi * EarthRadiusKm / 2, 1e-9},
		{Point{90, 0}, Point{-90, 0}, math.Pi * EarthRadiusKm, 1e-9},
		// Antipodes and the antimeridian.
		{Point{10, 20}, Point{-10, -160}, math.Pi * EarthRadiusKm, 1e-9},
		{Point{0, 179.5}, Point{0, -179.5}, math.Pi * EarthRadiusKm / 180, 1e-9},
	}
	for _, tt := range tests {
		got := Distance(tt.a, tt.b)
		if math.Abs(got-tt.wantKm) > tt.tolerant*tt.wantKm {
			t.Errorf("Distance(%v, %v) = %.2f km, want %.2f within %g%%", tt.a, tt.b, got, tt.wantKm, tt.tolerant*100)
		}
		if back := Distance(tt.b, tt.a); math.Abs(back-got) > 1e-9 {
			t.Errorf("Distance is not symmetric: %v vs %v", got, back)
		}
	}
	if d := Distance(Point{12.5, -7}, Point{12.5, -7}); d != 0 {
		t.Errorf("Distance to itself = %v, want 0", d)
	}
	// Iowa to Belgium is about 7000 km.
	if d := Distance(mustLookup(t, "us-central1"), mustLookup(t, "europe-west1")); d < 6700 || d > 7300 {
		t.Errorf("us-central1–europe-west1 = %.0f km, want 6700–7300", d)
	}
}

func TestEstimatedRTT(t *testing.T) {
	fra := mustLookup(t, "fra")
	if got := EstimatedRTT(fra, fra); got != RTTFloor {
		t.Errorf("EstimatedRTT to itself = %v, want the floor %v", got, RTTFloor)
	}
	// London–Paris: 1 ms + 3 × 343.5 / 200 ms ≈ 6.15 ms.
	if got := EstimatedRTT(mustLookup(t, "lhr"), mustLookup(t, "cdg")); got < 6*time.Millisecond || got > 6300*time.Microsecond {
		t.Errorf("EstimatedRTT London–Paris = %v, want about 6.15ms", got)
	}
	// Exactly 200 km of great circle: 1 + 2 × 1.5 × 200 / 200 = 4 ms.
	deg := 200 / EarthRadiusKm * 180 / math.Pi
	if got := EstimatedRTT(Point{0, 0}, Point{0, deg}); got != 4*time.Millisecond {
		t.Errorf("EstimatedRTT over 200 km = %v, want 4ms", got)
	}
	// Monotonic: walk east along the equator.
	prev := time.Duration(0)
	for lon := 0.0; lon <= 180; lon += 0.5 {
		got := EstimatedRTT(Point{0, 0}, Point{0, lon})
		if got < RTTFloor {
			t.Fatalf("EstimatedRTT at %v° = %v, below the floor", lon, got)
		}
		if lon > 0 && got <= prev {
			t.Fatalf("EstimatedRTT not increasing: %v at %v°, %v before", got, lon, prev)
		}
		prev = got
	}
	// Half the Earth's circumference: 1 + 3 × 20015 / 200 ≈ 301 ms.
	if prev < 300*time.Millisecond || prev > 302*time.Millisecond {
		t.Errorf("EstimatedRTT to the antipode = %v, want about 301ms", prev)
	}
	if got := EstimatedRTT(Point{math.NaN(), 0}, fra); got != RTTFloor {
		t.Errorf("EstimatedRTT with NaN = %v, want the floor", got)
	}
}

func TestTableAdd(t *testing.T) {
	tab := NewTable()
	if err := tab.Add("home-lab", Point{52.37, 4.90}); err != nil {
		t.Fatal(err)
	}
	if p, ok := tab.Lookup("HOME-LAB"); !ok || p != (Point{52.37, 4.90}) {
		t.Errorf("Lookup(HOME-LAB) = %v, %v", p, ok)
	}
	if _, ok := Lookup("home-lab"); ok {
		t.Error("Add changed the package-level built-ins")
	}
	if _, ok := NewTable().Lookup("home-lab"); ok {
		t.Error("Add changed another Table")
	}
	// Overriding a built-in, and the zero Table.
	var zero Table
	if p, ok := zero.Lookup("fra"); !ok || p != mustLookup(t, "fra") {
		t.Errorf("zero Table Lookup(fra) = %v, %v", p, ok)
	}
	if err := zero.Add("fra", Point{50.05, 8.57}); err != nil {
		t.Fatal(err)
	}
	if p, _ := zero.Lookup("fra"); p != (Point{50.05, 8.57}) {
		t.Errorf("override not used: %v", p)
	}
	if p, _ := Lookup("fra"); p != mustLookup(t, "fra") || p == (Point{50.05, 8.57}) {
		t.Errorf("override leaked into built-ins: %v", p)
	}
	// Edges that are valid.
	for _, ok := range []struct {
		name string
		p    Point
	}{
		{"a", Point{90, 180}},
		{"0", Point{-90, -180}},
		{"-", Point{0, 0}},
		{strings.Repeat("x", 63), Point{0, 0}},
		{"eu-dc-2", Point{-0.0, 0}},
	} {
		if err := tab.Add(ok.name, ok.p); err != nil {
			t.Errorf("Add(%q, %v) = %v", ok.name, ok.p, err)
		}
	}
}

func TestTableAddErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Point
		want error
	}{
		{"", Point{}, ErrInvalidName},
		{strings.Repeat("x", 64), Point{}, ErrInvalidName},
		{"Home", Point{}, ErrInvalidName},
		{"home lab", Point{}, ErrInvalidName},
		{"home_lab", Point{}, ErrInvalidName},
		{"home.lab", Point{}, ErrInvalidName},
		{"münchen", Point{}, ErrInvalidName},
		{"ok", Point{90.0001, 0}, ErrInvalidPoint},
		{"ok", Point{-91, 0}, ErrInvalidPoint},
		{"ok", Point{0, 180.5}, ErrInvalidPoint},
		{"ok", Point{0, -181}, ErrInvalidPoint},
		{"ok", Point{math.NaN(), 0}, ErrInvalidPoint},
		{"ok", Point{0, math.NaN()}, ErrInvalidPoint},
		{"ok", Point{math.Inf(1), 0}, ErrInvalidPoint},
		{"ok", Point{0, math.Inf(-1)}, ErrInvalidPoint},
	}
	tab := NewTable()
	for _, tt := range tests {
		err := tab.Add(tt.name, tt.p)
		if !errors.Is(err, tt.want) {
			t.Errorf("Add(%q, %v) = %v, want %v", tt.name, tt.p, err, tt.want)
		}
		if _, ok := tab.Lookup(tt.name); ok && tt.name != "" {
			t.Errorf("failed Add(%q) still added it", tt.name)
		}
	}
}

func TestParseLocations(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]Point
	}{
		{"", map[string]Point{}},
		{" ; \n ;;", map[string]Point{}},
		{"home-lab=52.37,4.90;office=40.71,-74.0", map[string]Point{
			"home-lab": {52.37, 4.90}, "office": {40.71, -74.0},
		}},
		{"home-lab = 52.37 , 4.90 ;\r\n office=40.71,-74\n\nedge-1=-33.9,151.2;", map[string]Point{
			"home-lab": {52.37, 4.90}, "office": {40.71, -74}, "edge-1": {-33.9, 151.2},
		}},
		{"fra=50,8.5", map[string]Point{"fra": {50, 8.5}}},
		{"pole=90,-180", map[string]Point{"pole": {90, -180}}},
		{"x=+1e1,-1.5E1", map[string]Point{"x": {10, -15}}},
	}
	for _, tt := range tests {
		got, err := ParseLocations(tt.in)
		if err != nil {
			t.Errorf("ParseLocations(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseLocations(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("ParseLocations(%q)[%q] = %v, want %v", tt.in, k, got[k], v)
			}
		}
	}
}

func TestParseLocationsErrors(t *testing.T) {
	tests := []struct {
		in       string
		want     error // nil: just an error
		contains string
	}{
		{"home-lab", nil, `"home-lab"`},
		{"home-lab=52.37", nil, `"home-lab=52.37"`},
		{"ok=1,2;bad entry", nil, `"bad entry"`},
		{"=1,2", ErrInvalidName, `"=1,2"`},
		{"Home=1,2", ErrInvalidName, `"Home=1,2"`},
		{"home lab=1,2", ErrInvalidName, "lowercase"},
		{strings.Repeat("a", 64) + "=1,2", ErrInvalidName, "longer than 63"},
		{"x=,2", ErrInvalidPoint, "missing latitude"},
		{"x=1,", ErrInvalidPoint, "missing longitude"},
		{"x=north,2", ErrInvalidPoint, `latitude "north" is not a number`},
		{"x=1,2,3", ErrInvalidPoint, "longitude"},
		{"x=91,0", ErrInvalidPoint, "latitude 91 is outside [-90, 90]"},
		{"x=0,-180.01", ErrInvalidPoint, "longitude -180.01 is outside"},
		{"x=NaN,0", ErrInvalidPoint, "latitude NaN"},
		{"x=0,Inf", ErrInvalidPoint, "longitude +Inf"},
		{"x=1e400,0", ErrInvalidPoint, "not a number"},
		{"x=1,2;x=3,4", nil, `"x" is defined twice`},
		{"ok=1,2\nalso-ok=3,4\noops=5;6", nil, `"oops=5"`},
	}
	for _, tt := range tests {
		got, err := ParseLocations(tt.in)
		if err == nil {
			t.Errorf("ParseLocations(%q) = %v, want an error", tt.in, got)
			continue
		}
		if got != nil {
			t.Errorf("ParseLocations(%q) returned %v with its error", tt.in, got)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("ParseLocations(%q) = %v, want %v", tt.in, err, tt.want)
		}
		if !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("ParseLocations(%q) = %q, want it to mention %q", tt.in, err, tt.contains)
		}
	}
	// Long entries are clipped in the message.
	_, err := ParseLocations("x=" + strings.Repeat("9", 1000))
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("long entry: %v", err)
	}
}

func TestNearest(t *testing.T) {
	tab := NewTable()
	fra := mustLookup(t, "fra")
	got := tab.Nearest(fra, []string{"asia-northeast1", "us-central1", "europe-west1", "europe-west3"})
	want := []string{"europe-west3", "europe-west1", "us-central1", "asia-northeast1"}
	if !slices.Equal(got, want) {
		t.Errorf("Nearest from Frankfurt = %v, want %v", got, want)
	}

	// Unknown names last in their original order; equal distances keep theirs; the
	// input is left alone; names keep their spelling.
	in := []string{"nowhere", "SYD", "europe-west3", "fra", "atlantis", "lhr"}
	orig := slices.Clone(in)
	got = tab.Nearest(fra, in)
	want = []string{"europe-west3", "fra", "lhr", "SYD", "nowhere", "atlantis"}
	if !slices.Equal(got, want) {
		t.Errorf("Nearest = %v, want %v", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Errorf("Nearest modified its input: %v", in)
	}

	// Added locations count.
	if err := tab.Add("home-lab", Point{50.0, 8.6}); err != nil {
		t.Fatal(err)
	}
	got = tab.Nearest(fra, []string{"europe-west4", "nowhere", "home-lab"})
	want = []string{"home-lab", "europe-west4", "nowhere"}
	if !slices.Equal(got, want) {
		t.Errorf("Nearest with an added location = %v, want %v", got, want)
	}

	if got := tab.Nearest(fra, nil); len(got) != 0 {
		t.Errorf("Nearest(nil) = %v", got)
	}
	// NaN origin: no panic, unknowns still last.
	got = tab.Nearest(Point{math.NaN(), 0}, []string{"x", "fra", "syd"})
	if len(got) != 3 || got[2] != "x" {
		t.Errorf("Nearest from NaN = %v", got)
	}
}

func TestTableConcurrent(t *testing.T) {
	tab := NewTable()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			_ = tab.Add("n"+strings.Repeat("x", i%10), Point{float64(i % 90), 0})
		}
	}()
	for range 1000 {
		tab.Lookup("nxx")
		tab.Nearest(Point{}, []string{"nx", "fra"})
	}
	<-done
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", 100) // 2 bytes each
	c := clip(s)
	if !strings.HasSuffix(c, "…") || len(c) > 84 {
		t.Errorf("clip = %q", c)
	}
	if !strings.HasPrefix(s, strings.TrimSuffix(c, "…")) {
		t.Error("clip is not a prefix")
	}
	for _, r := range strings.TrimSuffix(c, "…") {
		if r != 'é' {
			t.Fatalf("clip split a rune: %q", c)
		}
	}
}

func TestClientRegions(t *testing.T) {
	table, err := ParseClientRegions(strings.NewReader("# country table\n10.0.0.0/8, au\n10.1.0.0/16,NZ\n2001:db8::/32,DE\n198.51.100.7,US\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"10.2.3.4": "AU", "10.1.2.3": "NZ", "::ffff:10.1.2.3": "NZ", "2001:db8::5": "DE",
		"198.51.100.7": "US", "198.51.100.8": "", "192.0.2.1": ""} {
		if got := table.Lookup(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Lookup(%s) = %q, want %q", addr, got, want)
		}
	}
	var none *ClientRegions
	if none.Lookup(netip.MustParseAddr("10.0.0.1")) != "" {
		t.Error("no table gave a country")
	}
	for _, bad := range []string{"10.0.0.0/8", "10.0.0.0/8,Australia", "nowhere,AU", "10.0.0.0/40,AU"} {
		if _, err := ParseClientRegions(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
