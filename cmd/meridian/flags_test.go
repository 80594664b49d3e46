package main

import "testing"

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{"512": 512, "64KiB": 64 << 10, "256MiB": 256 << 20, "2GiB": 2 << 30, "1GB": 1e9, " 3 MiB ": 3 << 20} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "MiB", "1.5GiB", "99999999999TiB", "12XB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1", "256MiB", "2GiB", "x", "18446744073709551615B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseBytes(s); err == nil && n == 0 {
			t.Fatalf("%q parsed to 0", s)
		}
	})
}
