package cdn

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"meridian/api"
)

// doHost sends a GET for host and target through the cache and returns X-Cache.
func (e *env) doHost(host, target string) string {
	e.t.Helper()
	r := httptest.NewRequest("GET", "https://"+host+target, nil)
	w := httptest.NewRecorder()
	e.cache.Serve(w, r, e.route, e.fn)
	if w.Code != 200 {
		e.t.Fatalf("%s%s: %d", host, target, w.Code)
	}
	return w.Header().Get("X-Cache")
}

func taggedOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("ETag", `"v1"`)
	switch {
	case strings.HasPrefix(r.URL.Path, "/a/1"):
		w.Header().Set("Cache-Tag", "x, y")
	case strings.HasPrefix(r.URL.Path, "/a/2"):
		w.Header().Set("Cache-Tag", "z")
	case r.URL.Path == "/b":
		w.Header().Set("Cache-Tag", "x")
	}
	if inm := r.Header.Get("If-None-Match"); inm == `"v1"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	io.WriteString(w, "body of "+r.URL.Path)
}

// TestInvalidationRules: exact paths (every query string of them), "/*" prefixes, a
// host, cache tags (ORed, and ANDed with the path), and a URL map's backend services
// remove exactly the entries they match [INV].
func TestInvalidationRules(t *testing.T) {
	e := newEnv(t, nil, taggedOrigin)
	e.route.Service = "projects/p/global/backendServices/web"
	urls := [][2]string{{"example.com", "/a/1"}, {"example.com", "/a/1?q=1"}, {"example.com", "/a/2"}, {"example.com", "/b"}, {"other.com:8443", "/a/1"}}
	for _, u := range urls {
		if got := e.doHost(u[0], u[1]); got != "miss" {
			t.Fatalf("first %s%s: %s", u[0], u[1], got)
		}
	}
	rev := int64(0)
	check := func(rule Rule, wantRemoved int, removed ...string) {
		t.Helper()
		rev++
		rule.Revision = rev
		if n := e.cache.Invalidate(rule); n != wantRemoved {
			t.Errorf("rule %+v removed %d entries, want %d", rule, n, wantRemoved)
		}
		gone := map[string]bool{}
		for _, r := range removed {
			gone[r] = true
		}
		for _, u := range urls {
			want := "hit"
			if gone[u[0]+u[1]] {
				want = "miss" // and filled again, for the next rule
			}
			if got := e.doHost(u[0], u[1]); got != want {
				t.Errorf("after %+v: %s%s is a %s, want a %s", rule, u[0], u[1], got, want)
			}
		}
	}
	check(Rule{Path: "/a/1"}, 3, "example.com/a/1", "example.com/a/1?q=1", "other.com:8443/a/1")
	check(Rule{Path: "/a/*"}, 4, "example.com/a/1", "example.com/a/1?q=1", "example.com/a/2", "other.com:8443/a/1")
	check(Rule{Host: "other.com", Path: "/*"}, 1, "other.com:8443/a/1")
	check(Rule{Host: "OTHER.com:8443", Path: "/a/1"}, 1, "other.com:8443/a/1")
	check(Rule{Tags: []string{"x"}}, 4, "example.com/a/1", "example.com/a/1?q=1", "example.com/b", "other.com:8443/a/1")
	check(Rule{Path: "/a/*", Tags: []string{"z", "none"}}, 1, "example.com/a/2")
	check(Rule{Path: "/*", Services: map[string]bool{"projects/p/global/backendServices/other": true}}, 0)
	check(Rule{Path: "/a"}, 0)
	check(Rule{Path: "/*", Services: map[string]bool{e.route.Service: true}}, 5, "example.com/a/1", "example.com/a/1?q=1", "example.com/a/2", "example.com/b", "other.com:8443/a/1")

	// A rule older than what the cache has filled since changes nothing.
	if n := e.cache.Invalidate(Rule{Revision: 1, Path: "/*"}); n != 0 {
		t.Errorf("an old rule removed %d entries filled after it", n)
	}
}

// TestSoftInvalidation (beyond Cloud CDN): a soft rule keeps the entry but makes it
// stale, so the next request validates it with the origin (304) instead of refetching,
// even with serveWhileStale.
func TestSoftInvalidation(t *testing.T) {
	sws := int64(3600)
	e := newEnv(t, &api.CdnPolicy{CacheMode: api.UseOriginHeaders, ServeWhileStale: &sws}, taggedOrigin)
	e.doHost("example.com", "/a/1")
	if n := e.cache.Invalidate(Rule{Revision: 1, Path: "/a/1", Soft: true}); n != 1 {
		t.Fatalf("soft rule marked %d entries", n)
	}
	before := e.o.hits.Load()
	w, res := e.do("GET", "/a/1")
	if w.Code != 200 || w.Body.String() != "body of /a/1" || !res.Validated || e.o.last().Header.Get("If-None-Match") != `"v1"` {
		t.Errorf("after a soft purge: %d %q %+v, origin saw %v", w.Code, w.Body.String(), res, e.o.last().Header)
	}
	if got := e.doHost("example.com", "/a/1"); got != "hit" || e.o.hits.Load() != before+1 {
		t.Errorf("after the validation: %s, %d origin requests", got, e.o.hits.Load()-before)
	}
}

// TestInvalidationRacingAFill: a rule that arrives while a fill is in flight leaves no
// entry of that fill (its response may predate the purge); a fill that begins after
// the rule is stored.
func TestInvalidationRacingAFill(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool // the next origin request waits for release
	e := newEnv(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if hold.Swap(false) {
			arrived <- struct{}{}
			<-release
		}
		taggedOrigin(w, r)
	})
	for _, soft := range []bool{false, true} {
		target := "/hard?q=1"
		if soft {
			target = "/soft?q=1"
		}
		done := make(chan string)
		hold.Store(true)
		go func() {
			w, _ := e.do("GET", target)
			done <- w.Header().Get("X-Cache")
		}()
		<-arrived
		rev := e.cache.Generation() + 1
		if n := e.cache.Invalidate(Rule{Revision: rev, Path: target[:strings.IndexByte(target, '?')], Soft: soft}); n != 0 {
			t.Errorf("nothing was stored yet, but the rule matched %d", n)
		}
		release <- struct{}{}
		if got := <-done; got != "miss" {
			t.Errorf("the racing request: %s", got)
		}
		w, res := e.do("GET", target)
		switch {
		case !soft && res.Status != "miss":
			t.Errorf("after a rule raced the fill: %s, want a miss", res.Status)
		case soft && !res.Validated:
			t.Errorf("after a soft rule raced the fill: %+v, want a validation", res)
		}
		if w.Code != 200 {
			t.Errorf("status %d", w.Code)
		}
		if got := e.doHost("example.com", target); got != "hit" {
			t.Errorf("a fill after the rule was not stored: %s", got)
		}
	}
	e.cache.invMu.Lock()
	defer e.cache.invMu.Unlock()
	if len(e.cache.rules) != 0 || len(e.cache.inflight) != 0 {
		t.Errorf("with no fill in flight the cache keeps %d rules, %d generations", len(e.cache.rules), len(e.cache.inflight))
	}
}
