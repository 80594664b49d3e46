package cli

import (
	"strconv"
	"strings"
	"testing"
)

// Fuzz tests of every parser of user input: none may panic, and what they accept must
// be well formed.

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"3600", "1h30m", "1.5h", "PT1H", "P1DT2H", "-1", "1e9s", "P1M", ".s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseDuration(s)
		if err != nil {
			return
		}
		if n < 0 || n > maxDurationSeconds {
			t.Fatalf("parseDuration(%q) = %d, out of range", s, n)
		}
		// Whole seconds read back as themselves.
		if again, err := parseDuration(strconv.FormatInt(n, 10) + "s"); err != nil || again != n {
			t.Fatalf("parseDuration(%ds) = %d, %v", n, again, err)
		}
	})
}

func FuzzParseKeyValues(f *testing.F) {
	for _, s := range []string{"a=1,b=2", "^:^a=1,2:b=3", "=", "a", "^^", "^,^a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kvs, err := parseKeyValues(s)
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv.key == "" || strings.TrimSpace(kv.key) != kv.key {
				t.Fatalf("parseKeyValues(%q) gave key %q", s, kv.key)
			}
		}
	})
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"ip=1.2.3.4,port=80", "fqdn=example.com,port=443", "ipv6=::1", "port=99999", "instance=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseEndpoint(s)
		if err != nil {
			return
		}
		if e.Port < 0 || e.Port > 65535 {
			t.Fatalf("parseEndpoint(%q) gave port %d", s, e.Port)
		}
	})
}

func FuzzParsePathRules(f *testing.F) {
	for _, s := range []string{"/a/*=bs1,/b=bs2", "/=x", "a=b", "/a=b,/a=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := parsePathRules(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if !strings.HasPrefix(r.path, "/") || r.service == "" || seen[r.path] {
				t.Fatalf("parsePathRules(%q) gave %+v", s, rules)
			}
			seen[r.path] = true
		}
		groupPathRules(rules, "p")
	})
}

func FuzzParseNegativeCachingPolicy(f *testing.F) {
	for _, s := range []string{"404=60,301=120", "404=30m", "999=1", "404=1,404=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		policies, err := parseNegativeCachingPolicy(s)
		if err != nil {
			return
		}
		for _, p := range policies {
			if p.Code < 100 || p.Code > 599 || p.TTL < 0 || p.TTL > maxNegativeCachingTTL {
				t.Fatalf("parseNegativeCachingPolicy(%q) gave %+v", s, p)
			}
		}
	})
}

func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"a,b", "^:^a:b", "^", "^^^", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, item := range splitList(s) {
			if item == "" || strings.TrimSpace(item) != item {
				t.Fatalf("splitList(%q) gave item %q", s, item)
			}
		}
	})
}
