package router

import (
	"net/http"
	"net/url"
	"strings"

	"meridian/api"
)

// RunTests evaluates a URL map's tests[] as GCP does when the map is inserted, updated
// or validated, and returns the failures. References in the map and its tests must
// already be in the same (relative) form.
func RunTests(um *api.UrlMap) ([]api.TestFailure, error) {
	table, err := Compile(um)
	if err != nil {
		return nil, err
	}
	var failures []api.TestFailure
	for _, tc := range um.Tests {
		if f, failed := runTest(table, tc); failed {
			failures = append(failures, f)
		}
	}
	return failures, nil
}

func runTest(table *Table, tc api.UrlMapTest) (api.TestFailure, bool) {
	path, query, _ := strings.Cut(tc.Path, "?")
	req := Request{Scheme: "http", Host: tc.Host, Path: path, Query: query, Header: http.Header{}}
	for _, h := range tc.Headers {
		req.Header.Add(h.Name, h.Value)
	}
	res := table.Match(req)
	f := api.TestFailure{Host: tc.Host, Path: tc.Path, ExpectedService: tc.Service, ExpectedOutputURL: tc.ExpectedOutputURL, ExpectedRedirectResponseCode: tc.ExpectedRedirectResponseCode}
	failed := false
	if res.Redirect != nil {
		f.ActualOutputURL, f.ActualRedirectResponseCode = res.Redirect.Location, int64(res.Redirect.Code)
		failed = tc.Service != "" ||
			(tc.ExpectedOutputURL != "" && !sameURL(tc.ExpectedOutputURL, res.Redirect.Location, true)) ||
			(tc.ExpectedRedirectResponseCode != 0 && tc.ExpectedRedirectResponseCode != int64(res.Redirect.Code))
		return f, failed
	}
	f.ActualService = res.Service
	if len(res.Weighted) > 0 {
		f.ActualService = res.Weighted[0].BackendService
		for _, w := range res.Weighted {
			if w.BackendService == tc.Service {
				f.ActualService = w.BackendService
			}
		}
	}
	forwarded := "http://" + res.RewrittenHost + res.RewrittenPath
	if query != "" {
		forwarded += "?" + query
	}
	f.ActualOutputURL = forwarded
	failed = (tc.Service != "" && tc.Service != f.ActualService) ||
		(tc.ExpectedOutputURL != "" && !sameURL(tc.ExpectedOutputURL, forwarded, false)) ||
		tc.ExpectedRedirectResponseCode != 0
	return f, failed
}

// sameURL compares an expected URL with the actual one: host, path and query always,
// the scheme only for redirects (a forwarded request keeps the client's).
func sameURL(expected, actual string, withScheme bool) bool {
	e, err1 := url.Parse(expected)
	a, err2 := url.Parse(actual)
	if err1 != nil || err2 != nil {
		return expected == actual
	}
	if withScheme && e.Scheme != "" && e.Scheme != a.Scheme {
		return false
	}
	return strings.EqualFold(e.Host, a.Host) && e.Path == a.Path && e.RawQuery == a.RawQuery
}
