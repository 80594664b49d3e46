package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"cloudrun-neg", true}, {"a1", true}, {strings.Repeat("a", 63), true},
		{"", false}, {"1a", false}, {"A", false}, {"a-", false}, {"a_b", false}, {strings.Repeat("a", 64), false}, {"-a", false}, {"a.b", false},
	} {
		if err := ValidateName("resource.name", tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "cloudrun-neg", "-", "a-", "ü", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateName("resource.name", s)
		// RFC 1035 as GCP states it: the name must round-trip through the rule's pieces.
		ok := len(s) >= 1 && len(s) <= 63 && s[0] >= 'a' && s[0] <= 'z' && s[len(s)-1] != '-' &&
			strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if (err == nil) != ok {
			t.Fatalf("ValidateName(%q) = %v, want ok=%v", s, err, ok)
		}
	})
}

func TestParseResourcePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://www.googleapis.com/compute/v1/projects/p/global/backendServices/b", "projects/p/global/backendServices/b"},
		{"http://127.0.0.1:9610/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/n", "projects/p/regions/us-central1/networkEndpointGroups/n"},
		{"projects/q/global/urlMaps/u", "projects/q/global/urlMaps/u"},
		{"global/urlMaps/u", "projects/dflt/global/urlMaps/u"},
		{"regions/r/networkEndpointGroups/n", "projects/dflt/regions/r/networkEndpointGroups/n"},
	} {
		p, err := ParseResourcePath(tc.in, "dflt")
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseResourcePath(%q) = %q, %v; want %q", tc.in, p, err, tc.want)
		}
	}
	for _, bad := range []string{"", "b", "projects/p", "projects/p/global/x", "projects/p/global/a/b/c", "myprojects/p/global/a/b", "projects/p/regions/x/y"} {
		if p, err := ParseResourcePath(bad, "dflt"); err == nil {
			t.Errorf("ParseResourcePath(%q) = %q, want an error", bad, p)
		}
	}
}

func TestCdnPolicyDefaultsPerMode(t *testing.T) {
	for _, tc := range []struct {
		mode                    string
		defaultTTL, max, client bool
	}{
		{CacheAllStatic, true, true, true},
		{ForceCacheAll, true, false, true},
		{UseOriginHeaders, false, false, false},
	} {
		b := &BackendService{Meta: Meta{Name: "b"}, EnableCDN: true, CdnPolicy: &CdnPolicy{CacheMode: tc.mode}}
		b.SetDefaults()
		c := b.CdnPolicy
		if (c.DefaultTTL != nil) != tc.defaultTTL || (c.MaxTTL != nil) != tc.max || (c.ClientTTL != nil) != tc.client {
			t.Errorf("%s: defaultTtl=%v maxTtl=%v clientTtl=%v", tc.mode, c.DefaultTTL, c.MaxTTL, c.ClientTTL)
		}
		if *c.ServeWhileStale != 86400 || !*c.RequestCoalescing || !*c.CacheKeyPolicy.IncludeQueryString {
			t.Errorf("%s: common defaults %+v", tc.mode, c)
		}
		if err := b.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", tc.mode, err)
		}
	}
}

func TestBackendServiceValidation(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		bs   BackendService
		want string // substring of the error; empty: valid
	}{
		{"ok", BackendService{Meta: Meta{Name: "b"}}, ""},
		{"two NEGs one region", BackendService{Meta: Meta{Name: "b"}, Backends: []Backend{{Group: "projects/p/regions/r/networkEndpointGroups/a"}, {Group: "projects/p/regions/r/networkEndpointGroups/b"}}}, "at most one serverless network endpoint group per region"},
		{"two regions", BackendService{Meta: Meta{Name: "b"}, Backends: []Backend{{Group: "projects/p/regions/r1/networkEndpointGroups/a"}, {Group: "projects/p/regions/r2/networkEndpointGroups/a"}}}, ""},
		{"capacity", BackendService{Meta: Meta{Name: "b"}, Backends: []Backend{{Group: "g", CapacityScaler: ptr(0.05)}}}, "Must be 0 or between 0.1 and 1.0."},
		{"ttl range", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{DefaultTTL: i64(MaxTTLSeconds + 1)}}, "Must be between 0 and 31622400."},
		{"neg ttl", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{NegativeCaching: ptr(true), NegativeCachingPolicy: []NegativeCachingPolicy{{Code: 404, TTL: 1801}}}}, "Must be between 0 and 1800."},
		{"neg without flag", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{NegativeCachingPolicy: []NegativeCachingPolicy{{Code: 404, TTL: 60}}}}, "only be specified when negativeCaching is enabled"},
		{"both lists", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{CacheKeyPolicy: &CacheKeyPolicy{QueryStringWhitelist: []string{"a"}, QueryStringBlacklist: []string{"b"}}}}, "cannot both be specified"},
		{"key header", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{CacheKeyPolicy: &CacheKeyPolicy{IncludeHTTPHeaders: []string{"Cookie"}}}}, "cannot be used in a cache key"},
		{"custom header", BackendService{Meta: Meta{Name: "b"}, CustomResponseHeaders: []string{"no colon"}}, "Header-Name: value"},
		{"bypass headers", BackendService{Meta: Meta{Name: "b"}, CdnPolicy: &CdnPolicy{BypassCacheOnRequestHeaders: make([]BypassCacheHeader, 6)}}, "At most 5 values"},
		{"sample rate", BackendService{Meta: Meta{Name: "b"}, LogConfig: &LogConfig{Enable: true, SampleRate: ptr(1.5)}}, "between 0.0 and 1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.bs
			b.SetDefaults()
			err := b.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestUrlMapValidation(t *testing.T) {
	base := func() UrlMap {
		return UrlMap{Meta: Meta{Name: "u"}, DefaultService: "b", HostRules: []HostRule{{Hosts: []string{"*.example.com", "example.com:8080"}, PathMatcher: "pm"}},
			PathMatchers: []PathMatcher{{Name: "pm", DefaultService: "b", PathRules: []PathRule{{Paths: []string{"/a/*", "/b"}, Service: "b"}}}}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*UrlMap)
		want   string
	}{
		{"ok", func(*UrlMap) {}, ""},
		{"no default", func(u *UrlMap) { u.DefaultService = "" }, "Required field 'resource.defaultService'"},
		{"two defaults", func(u *UrlMap) { u.DefaultURLRedirect = &HttpRedirectAction{HostRedirect: "x.com"} }, "only one of defaultService"},
		{"unknown matcher", func(u *UrlMap) { u.HostRules[0].PathMatcher = "nope" }, "not defined"},
		{"wildcard middle", func(u *UrlMap) { u.HostRules[0].Hosts = []string{"a.*.com"} }, "only as the first character"},
		{"bad path", func(u *UrlMap) { u.PathMatchers[0].PathRules[0].Paths = []string{"/a*"} }, "only at the end"},
		{"query in path", func(u *UrlMap) { u.PathMatchers[0].PathRules[0].Paths = []string{"/a?b"} }, "'?' or '#'"},
		{"dup path", func(u *UrlMap) { u.PathMatchers[0].PathRules[0].Paths = []string{"/a", "/a"} }, "Duplicate path"},
		{"both rule kinds", func(u *UrlMap) { u.PathMatchers[0].RouteRules = []HttpRouteRule{{Priority: 1, Service: "b"}} }, "not both"},
		{"redirect and service", func(u *UrlMap) {
			u.PathMatchers[0].PathRules[0].URLRedirect = &HttpRedirectAction{PathRedirect: "/x"}
		}, "cannot be combined"},
		{"route rules", func(u *UrlMap) {
			u.PathMatchers[0].PathRules = nil
			u.PathMatchers[0].RouteRules = []HttpRouteRule{
				{Priority: 1, MatchRules: []HttpRouteRuleMatch{{PrefixMatch: "/a", HeaderMatches: []HttpHeaderMatch{{HeaderName: "x", ExactMatch: "y"}}}}, Service: "b"},
				{Priority: 2, MatchRules: []HttpRouteRuleMatch{{PathTemplateMatch: "/v/{id}/{rest=**}"}}, RouteAction: &HttpRouteAction{WeightedBackendServices: []WeightedBackendService{{BackendService: "b", Weight: 1}}}},
			}
		}, ""},
		{"dup priority", func(u *UrlMap) {
			u.PathMatchers[0].PathRules = nil
			u.PathMatchers[0].RouteRules = []HttpRouteRule{{Priority: 1, Service: "b"}, {Priority: 1, Service: "b"}}
		}, "unique"},
		{"two path matches", func(u *UrlMap) {
			u.PathMatchers[0].PathRules = nil
			u.PathMatchers[0].RouteRules = []HttpRouteRule{{Priority: 1, Service: "b", MatchRules: []HttpRouteRuleMatch{{PrefixMatch: "/a", FullPathMatch: "/b"}}}}
		}, "only one of prefixMatch"},
		{"bad template", func(u *UrlMap) {
			u.PathMatchers[0].PathRules = nil
			u.PathMatchers[0].RouteRules = []HttpRouteRule{{Priority: 1, Service: "b", MatchRules: []HttpRouteRuleMatch{{PathTemplateMatch: "/{a=**}/b"}}}}
		}, "'**' is allowed only in the last segment"},
		{"zero weights", func(u *UrlMap) {
			u.DefaultService = ""
			u.DefaultRouteAction = &HttpRouteAction{WeightedBackendServices: []WeightedBackendService{{BackendService: "b"}}}
		}, "sum of weights"},
		{"retry condition", func(u *UrlMap) {
			u.PathMatchers[0].PathRules[0].RouteAction = &HttpRouteAction{RetryPolicy: &HttpRetryPolicy{RetryConditions: []string{"sometimes"}}}
		}, "Must be one of"},
		{"redirect code", func(u *UrlMap) {
			u.DefaultService = ""
			u.DefaultURLRedirect = &HttpRedirectAction{HTTPSRedirect: true, RedirectResponseCode: "301"}
		}, "Must be one of"},
		{"test without expectation", func(u *UrlMap) { u.Tests = []UrlMapTest{{Host: "h", Path: "/"}} }, "Required field 'resource.tests[0].service'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := base()
			tc.mutate(&u)
			u.SetDefaults()
			err := u.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSelfManagedCertificate(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, "example.com")
	_, otherKey := selfSigned(t, "other.com")
	c := &SslCertificate{Meta: Meta{Name: "c"}, Certificate: certPEM, PrivateKey: keyPEM}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Type != CertSelfManaged || len(c.SubjectAlternativeNames) != 1 || c.SubjectAlternativeNames[0] != "example.com" || c.ExpireTime == "" {
		t.Errorf("outputs %+v", c)
	}
	c.Redact()
	if c.PrivateKey != "" {
		t.Error("private key not redacted")
	}
	bad := &SslCertificate{Meta: Meta{Name: "c"}, Certificate: certPEM, PrivateKey: otherKey}
	bad.SetDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched key: %v", err)
	}
	managed := &SslCertificate{Meta: Meta{Name: "m"}, Managed: &ManagedSslCert{Domains: []string{"your-domain.com"}}}
	managed.SetDefaults()
	if err := managed.Validate(); err != nil || managed.Type != CertManaged || managed.Managed.DomainStatus["your-domain.com"] != ManagedProvisioning {
		t.Errorf("managed: %v %+v", err, managed.Managed)
	}
}

func selfSigned(t *testing.T, host string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestKnativeServiceValidation(t *testing.T) {
	seed := func() KnativeService {
		return KnativeService{APIVersion: KnativeAPIVersion, Kind: "Service", Metadata: ObjectMeta{Name: "my-global-app", Namespace: "default"},
			Spec: ServiceSpec{Template: RevisionTemplate{Spec: RevisionSpec{Containers: []Container{{Image: "us-docker.pkg.dev/cloudrun/container/hello"}}}}}}
	}
	s := seed()
	if err := s.Validate(); err != nil {
		t.Fatalf("seed service: %v", err)
	}
	for name, mutate := range map[string]func(*KnativeService){
		"no image": func(s *KnativeService) { s.Spec.Template.Spec.Containers[0].Image = "" },
		"kind":     func(s *KnativeService) { s.Kind = "Deployment" },
		"bad scale": func(s *KnativeService) {
			s.Spec.Template.Metadata.Annotations = map[string]string{MinScaleAnnotation: "-1"}
		},
		"min over max": func(s *KnativeService) {
			s.Spec.Template.Metadata.Annotations = map[string]string{MinScaleAnnotation: "3", MaxScaleAnnotation: "2"}
		},
		"traffic sum": func(s *KnativeService) { s.Spec.Traffic = []TrafficTarget{{RevisionName: "a", Percent: 50}} },
		"timeout":     func(s *KnativeService) { s.Spec.Template.Spec.TimeoutSeconds = ptr(int64(3601)) },
		"two containers": func(s *KnativeService) {
			s.Spec.Template.Spec.Containers = append(s.Spec.Template.Spec.Containers, Container{Image: "x"})
		},
	} {
		s := seed()
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestKnativeDefaults(t *testing.T) {
	for cpu, want := range map[string]int64{"": 80, "1": 80, "2": 80, "1000m": 80, "500m": 1, "0.5": 1} {
		s := KnativeService{Spec: ServiceSpec{Template: RevisionTemplate{Spec: RevisionSpec{Containers: []Container{{Image: "i"}}}}}}
		if cpu != "" {
			s.Spec.Template.Spec.Containers[0].Resources = &ResourceRequirements{Limits: map[string]string{"cpu": cpu}}
		}
		s.SetDefaults()
		rs := s.Spec.Template.Spec
		if *rs.ContainerConcurrency != want || *rs.TimeoutSeconds != 300 || rs.Containers[0].Ports[0].ContainerPort != 8080 || rs.Containers[0].Ports[0].Name != "http1" {
			t.Errorf("cpu %q: %d %+v", cpu, *rs.ContainerConcurrency, rs)
		}
	}
	if lo, hi := Scale(map[string]string{MinScaleAnnotation: "2", MaxScaleAnnotation: "5"}); lo != 2 || hi != 5 {
		t.Errorf("scale %d..%d", lo, hi)
	}
	if lo, hi := Scale(nil); lo != 0 || hi != DefaultMaxScale {
		t.Errorf("default scale %d..%d", lo, hi)
	}
}

// TestStoreKeys: the store's keys round-trip through their parsers.
func TestStoreKeys(t *testing.T) {
	key := EndpointKey("us-central1", "p", "app")
	if r, ns, name, ok := ParseEndpointKey(key); !ok || r != "us-central1" || ns != "p" || name != "app" {
		t.Errorf("ParseEndpointKey(%q) = %q %q %q %v", key, r, ns, name, ok)
	}
	for _, bad := range []string{"endpoints/regions/r", "res/regions/r/namespaces/p/services/a", "endpoints/zones/r/namespaces/p/services/a"} {
		if _, _, _, ok := ParseEndpointKey(bad); ok {
			t.Errorf("ParseEndpointKey(%q) accepted", bad)
		}
	}
}
