package router

import (
	"net/http"
	"testing"

	"meridian/api"
)

func b(v bool) *bool { return &v }

// testMap exercises every kind of rule. Services are named by their role.
func testMap() *api.UrlMap {
	return &api.UrlMap{
		Meta:           api.Meta{Name: "m"},
		DefaultService: "default",
		HeaderAction:   &api.HttpHeaderAction{ResponseHeadersToAdd: []api.HttpHeaderOption{{HeaderName: "x-map", HeaderValue: "1"}}},
		HostRules: []api.HostRule{
			{Hosts: []string{"example.com", "example.com:8080"}, PathMatcher: "paths"},
			{Hosts: []string{"*.example.com"}, PathMatcher: "routes"},
			{Hosts: []string{"*.api.example.com"}, PathMatcher: "api"},
			{Hosts: []string{"old.test"}, PathMatcher: "redirects"},
		},
		PathMatchers: []api.PathMatcher{
			{Name: "paths", DefaultService: "paths-default", PathRules: []api.PathRule{
				{Paths: []string{"/videos/*"}, Service: "videos"},
				{Paths: []string{"/videos/hd/*"}, Service: "hd"},
				{Paths: []string{"/videos/hd"}, Service: "hd-exact"},
				{Paths: []string{"/static/*"}, Service: "static", RouteAction: &api.HttpRouteAction{URLRewrite: &api.URLRewrite{PathPrefixRewrite: "/assets/", HostRewrite: "cdn.internal"}}},
			}},
			{Name: "routes", DefaultService: "routes-default", RouteRules: []api.HttpRouteRule{
				{Priority: 20, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/a"}}, Service: "prefix-a"},
				{Priority: 10, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/a", HeaderMatches: []api.HttpHeaderMatch{{HeaderName: "x-canary", ExactMatch: "1"}}}}, Service: "canary"},
				{Priority: 30, MatchRules: []api.HttpRouteRuleMatch{{FullPathMatch: "/EXACT", IgnoreCase: true}}, Service: "exact"},
				{Priority: 40, MatchRules: []api.HttpRouteRuleMatch{{RegexMatch: "/r/[0-9]+"}}, Service: "regex"},
				{Priority: 50, MatchRules: []api.HttpRouteRuleMatch{{PathTemplateMatch: "/v/{id}/{rest=**}"}}, Service: "template",
					RouteAction: &api.HttpRouteAction{URLRewrite: &api.URLRewrite{PathTemplateRewrite: "/videos/{id}/{rest}"}}},
				{Priority: 60, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/q", QueryParameterMatches: []api.HttpQueryParameterMatch{{Name: "debug", PresentMatch: b(true)}}}}, Service: "debug"},
				{Priority: 70, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/h", HeaderMatches: []api.HttpHeaderMatch{{HeaderName: "x-n", RangeMatch: &api.Int64RangeMatch{RangeStart: 10, RangeEnd: 20}}}}}, Service: "range"},
				{Priority: 80, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/h", HeaderMatches: []api.HttpHeaderMatch{{HeaderName: "x-n", PresentMatch: b(true), InvertMatch: true}}}}, Service: "no-header"},
				{Priority: 90, MatchRules: []api.HttpRouteRuleMatch{{PrefixMatch: "/w"}}, RouteAction: &api.HttpRouteAction{WeightedBackendServices: []api.WeightedBackendService{{BackendService: "w1", Weight: 90}, {BackendService: "w2", Weight: 10}}}},
			}},
			{Name: "api", DefaultService: "api"},
			{Name: "redirects", DefaultURLRedirect: &api.HttpRedirectAction{HTTPSRedirect: true, RedirectResponseCode: "PERMANENT_REDIRECT"}, PathRules: []api.PathRule{
				{Paths: []string{"/old/*"}, URLRedirect: &api.HttpRedirectAction{HostRedirect: "new.test", PrefixRedirect: "/new/", StripQuery: true}},
			}},
		},
	}
}

func TestMatch(t *testing.T) {
	table, err := Compile(testMap())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host, path, query string
		header                  http.Header
		service, location       string
		code                    int
		rewritten               string // host+path forwarded, when checked
	}{
		{name: "unknown host", host: "other.org", path: "/", service: "default"},
		{name: "exact host, longest prefix", host: "example.com", path: "/videos/hd/1", service: "hd"},
		{name: "exact path beats prefix", host: "example.com", path: "/videos/hd", service: "hd-exact"},
		{name: "prefix", host: "example.com", path: "/videos/x", service: "videos"},
		{name: "prefix needs the slash", host: "example.com", path: "/videos", service: "paths-default"},
		{name: "host with port", host: "example.com:8080", path: "/videos/x", service: "videos"},
		{name: "host case and unknown port", host: "EXAMPLE.com:9999", path: "/videos/x", service: "videos"},
		{name: "rewrite", host: "example.com", path: "/static/a.css", service: "static", rewritten: "cdn.internal/assets/a.css"},
		{name: "wildcard host", host: "www.example.com", path: "/zzz", service: "routes-default"},
		{name: "wildcard does not match apex of other", host: "xexample.com", path: "/", service: "default"},
		{name: "longest wildcard", host: "v1.api.example.com", path: "/", service: "api"},
		{name: "priority order", host: "www.example.com", path: "/abc", header: http.Header{"X-Canary": {"1"}}, service: "canary"},
		{name: "lower priority", host: "www.example.com", path: "/abc", service: "prefix-a"},
		{name: "ignore case", host: "www.example.com", path: "/exact", service: "exact"},
		{name: "regex", host: "www.example.com", path: "/r/123", service: "regex"},
		{name: "regex full match", host: "www.example.com", path: "/r/123x", service: "routes-default"},
		{name: "template", host: "www.example.com", path: "/v/42/hls/a.ts", service: "template", rewritten: "www.example.com/videos/42/hls/a.ts"},
		{name: "query present", host: "www.example.com", path: "/q", query: "debug=1", service: "debug"},
		{name: "query absent", host: "www.example.com", path: "/q", query: "x=1", service: "routes-default"},
		{name: "range", host: "www.example.com", path: "/h", header: http.Header{"X-N": {"15"}}, service: "range"},
		{name: "range out", host: "www.example.com", path: "/h", header: http.Header{"X-N": {"20"}}, service: "routes-default"},
		{name: "inverted presence", host: "www.example.com", path: "/h", service: "no-header"},
		{name: "redirect default", host: "old.test", path: "/x", query: "a=1", location: "https://old.test/x?a=1", code: 308},
		{name: "prefix redirect", host: "old.test", path: "/old/page", query: "a=1", location: "http://new.test/new/page", code: 301},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			res := table.Match(Request{Scheme: "http", Host: tc.host, Path: tc.path, Query: tc.query, Header: h})
			if tc.location != "" {
				if res.Redirect == nil || res.Redirect.Location != tc.location || res.Redirect.Code != tc.code {
					t.Fatalf("redirect = %+v, want %s %d", res.Redirect, tc.location, tc.code)
				}
				return
			}
			if res.Redirect != nil || res.Service != tc.service {
				t.Fatalf("service = %q (redirect %+v), want %q", res.Service, res.Redirect, tc.service)
			}
			if tc.rewritten != "" && res.RewrittenHost+res.RewrittenPath != tc.rewritten {
				t.Errorf("forwarded %s%s, want %s", res.RewrittenHost, res.RewrittenPath, tc.rewritten)
			}
			if len(res.HeaderActions) == 0 || res.HeaderActions[0].ResponseHeadersToAdd[0].HeaderName != "x-map" {
				t.Errorf("URL map header action missing: %+v", res.HeaderActions)
			}
		})
	}
	res := table.Match(Request{Host: "www.example.com", Path: "/w", Header: http.Header{}})
	if len(res.Weighted) != 2 || res.Weighted[0].Weight != 90 {
		t.Errorf("weighted = %+v", res.Weighted)
	}
}

func TestRunTests(t *testing.T) {
	um := testMap()
	um.Tests = []api.UrlMapTest{
		{Host: "example.com", Path: "/videos/hd/1", Service: "hd"},
		{Host: "example.com", Path: "/static/x", ExpectedOutputURL: "http://cdn.internal/assets/x"},
		{Host: "old.test", Path: "/old/a?b=1", ExpectedOutputURL: "http://new.test/new/a", ExpectedRedirectResponseCode: 301},
		{Host: "www.example.com", Path: "/w", Service: "w2"},
	}
	failures, err := RunTests(um)
	if err != nil || len(failures) != 0 {
		t.Fatalf("passing tests failed: %+v %v", failures, err)
	}
	um.Tests = []api.UrlMapTest{
		{Host: "example.com", Path: "/videos/1", Service: "hd"},
		{Host: "old.test", Path: "/old/a", ExpectedOutputURL: "http://new.test/new/a", ExpectedRedirectResponseCode: 302},
		{Host: "old.test", Path: "/x", Service: "default"},
	}
	failures, err = RunTests(um)
	if err != nil || len(failures) != 3 || failures[0].ActualService != "videos" || failures[1].ActualRedirectResponseCode != 301 {
		t.Fatalf("failing tests: %+v %v", failures, err)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("example.com", "/videos/hd/1", "a=1", "x-n", "15")
	f.Add("v1.api.example.com:80", "/v/1/2/3", "", "x-canary", "1")
	f.Add("[::1]:8080", "//", "debug", "", "")
	table, err := Compile(testMap())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, path, query, hname, hvalue string) {
		h := http.Header{}
		h.Set(hname, hvalue)
		res := table.Match(Request{Scheme: "https", Host: host, Path: path, Query: query, Header: h})
		if res.Redirect == nil && res.Service == "" && len(res.Weighted) == 0 {
			t.Fatalf("no route for %q %q", host, path)
		}
	})
}
