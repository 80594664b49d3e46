package api

import "testing"

func TestMatchURLMask(t *testing.T) {
	for _, tc := range []struct {
		mask, host, path, service, tag string
		ok                             bool
	}{
		{"<tag>.domain.com/<service>", "foo1.domain.com", "/bar1", "bar1", "foo1", true},
		{"<tag>.domain.com/<service>", "foo2.domain.com:443", "/bar2/more/path", "bar2", "foo2", true},
		{"example.com/<service>", "EXAMPLE.com", "/login", "login", "", true},
		{"example.com/<service>", "other.com", "/login", "", "", false},
		{"example.com/<service>", "example.com", "/", "", "", false},
		{"/<service>", "anything", "/api/v1", "api", "", true},
		{"<service>.example.com", "shop.example.com", "/x", "shop", "", true},
		{"<service>.example.com", "a.b.example.com", "/x", "", "", false},
		{"<service>-dot-example.com", "shop-dot-example.com", "/", "shop", "", true},
		{"example.com/svc-<service>", "example.com", "/svc-cart", "cart", "", true},
		{"example.com/<service>/<tag>", "example.com", "/cart/beta/x", "cart", "beta", true},
		{"example.com/<service>/<tag>", "example.com", "/cart", "", "", false},
		{"example.com/<bogus>", "example.com", "/cart", "", "", false},
	} {
		s, tag, ok := MatchURLMask(tc.mask, tc.host, tc.path)
		if s != tc.service || tag != tc.tag || ok != tc.ok {
			t.Errorf("MatchURLMask(%q, %q, %q) = %q, %q, %v; want %q, %q, %v", tc.mask, tc.host, tc.path, s, tag, ok, tc.service, tc.tag, tc.ok)
		}
	}
}

func FuzzMatchURLMask(f *testing.F) {
	f.Add("<tag>.domain.com/<service>", "foo.domain.com", "/bar")
	f.Add("/<service>", "h", "/a/b")
	f.Add("<service", "x", "")
	f.Fuzz(func(t *testing.T, mask, host, path string) {
		s, tag, ok := MatchURLMask(mask, host, path)
		if ok && s == "" && tag == "" {
			t.Fatal("ok without a service or tag")
		}
	})
}
