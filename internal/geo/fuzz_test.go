package geo

import (
	"net/netip"
	"strings"
	"testing"
)

func FuzzParseLocations(f *testing.F) {
	for _, seed := range []string{
		"",
		"home-lab=52.37,4.90;office=40.71,-74.0",
		"a=90,180\nb=-90,-180\r\n",
		" x = 1 , 2 ;",
		"x=NaN,0",
		"x=0x1p-2,1_0",
		"x=1e400,0",
		"x=1,2;x=3,4",
		"=",
		";;==,,",
		"Home=1,2",
		"x=1,2,3",
		"\xff=1,2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseLocations(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseLocations(%q) returned %v with error %v", s, got, err)
			}
			if !strings.HasPrefix(err.Error(), "location entry ") {
				t.Fatalf("error does not name the entry: %v", err)
			}
			return
		}
		if got == nil {
			t.Fatalf("ParseLocations(%q) returned a nil map without an error", s)
		}
		tab := NewTable()
		for name, p := range got {
			if err := checkName(name); err != nil {
				t.Fatalf("ParseLocations(%q) returned a bad name: %v", s, err)
			}
			if err := checkPoint(p); err != nil {
				t.Fatalf("ParseLocations(%q) returned a bad point for %q: %v", s, name, err)
			}
			// What ParseLocations accepts, Add accepts.
			if err := tab.Add(name, p); err != nil {
				t.Fatalf("Add(%q, %v) after ParseLocations: %v", name, p, err)
			}
			if q, ok := tab.Lookup(name); !ok || q != p {
				t.Fatalf("Lookup(%q) = %v, %v after Add(%v)", name, q, ok, p)
			}
			if d := Distance(p, Point{}); !(d >= 0 && d <= 20016) {
				t.Fatalf("Distance(%v, 0,0) = %v", p, d)
			}
		}
	})
}

func FuzzParseClientRegions(f *testing.F) {
	for _, seed := range []string{
		"", "# comment\n192.0.2.0/24,AU\n2001:db8::/32,nz\n198.51.100.7,US\n",
		"10.0.0.0/8,XX\n10.1.0.0/16,YY", "1.2.3.4/33,US", "x,US", "1.2.3.0/24,USA", "::ffff:1.2.3.0/120,US",
		"1.2.3.0/24", ",", "\n\n\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		table, err := ParseClientRegions(strings.NewReader(s))
		if err != nil {
			if table != nil {
				t.Fatalf("a table with an error")
			}
			return
		}
		for _, a := range []string{"192.0.2.9", "::1", "10.1.2.3", "2001:db8::1"} {
			if code := table.Lookup(netip.MustParseAddr(a)); code != "" && len(code) != 2 {
				t.Fatalf("Lookup(%s) = %q", a, code)
			}
		}
	})
}
