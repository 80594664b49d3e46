package policy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"meridian/api"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func i64(v int64) *int64 { return &v }
func yes() *bool         { b := true; return &b }

func origin() *api.CdnPolicy {
	return &api.CdnPolicy{CacheMode: api.UseOriginHeaders, ServeWhileStale: i64(86400)}
}

// decide runs Decide for a GET with request header rq and a response of status and
// header h, received at t0 with a known length.
func decide(p *api.CdnPolicy, rq http.Header, status int, h http.Header) Decision {
	if rq == nil {
		rq = http.Header{}
	}
	if h.Get("Date") == "" {
		h.Set("Date", t0.Format(http.TimeFormat))
	}
	return Decide(Request{Method: "GET", Header: rq}, Response{Status: status, Header: h, RequestTime: t0, ResponseTime: t0, BodySize: 10, HTTP1Framed: true}, p, nil)
}

func TestRFC9111_5_2_Directives(t *testing.T) {
	d := ParseDirectives([]string{`Max-Age=60, no-cache="Set-Cookie, X-Foo", private`, `s-maxage="30", max-age=5, community="UCI"`})
	if v, ok := d.Delta("max-age"); !ok || v != time.Minute {
		t.Errorf("max-age: %v %v (the first occurrence wins)", v, ok)
	}
	if v, _ := d.Delta("s-maxage"); v != 30*time.Second {
		t.Errorf("quoted s-maxage: %v", v)
	}
	if d["no-cache"] != "Set-Cookie, X-Foo" || !d.Has("private") || d["community"] != "UCI" {
		t.Errorf("directives: %q", d)
	}
}

func TestRFC9111_1_2_2_DeltaSecondsOverflow(t *testing.T) {
	v, ok := ParseDirectives([]string{"max-age=99999999999999999999999"}).Delta("max-age")
	if !ok || v != 1<<31*time.Second {
		t.Errorf("overflowing max-age = %v, want 2^31 s", v)
	}
}

func TestRFC9111_4_2_1_InvalidMaxAgeIsStale(t *testing.T) {
	for _, cc := range []string{"max-age=-1", "max-age=abc", "max-age=", "max-age=1.5", "max-age=0x10"} {
		h := hdr("Cache-Control", cc, "Expires", t0.Add(time.Hour).Format(http.TimeFormat), "ETag", `"x"`)
		if life, ok := Lifetime(ParseDirectives(h.Values("Cache-Control")), h, t0); !ok || life != 0 {
			t.Errorf("%s: lifetime %v %v, want 0 (stale, not Expires' hour)", cc, life, ok)
		}
	}
}

func TestRFC9111_4_2_1_LifetimePrecedence(t *testing.T) {
	exp := t0.Add(time.Hour).Format(http.TimeFormat)
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{hdr("Cache-Control", "max-age=60, s-maxage=120", "Expires", exp), 120 * time.Second},
		{hdr("Cache-Control", "max-age=60", "Expires", exp), 60 * time.Second},
		{hdr("Expires", exp, "Date", t0.Format(http.TimeFormat)), time.Hour},
		{hdr("Expires", exp, "Date", t0.Add(-time.Hour).Format(http.TimeFormat)), 2 * time.Hour}, // Expires minus Date, not now
	}
	for _, c := range cases {
		if got, _ := Lifetime(ParseDirectives(c.h.Values("Cache-Control")), c.h, t0); got != c.want {
			t.Errorf("%v: lifetime %v, want %v", c.h, got, c.want)
		}
	}
}

func TestRFC9111_5_3_InvalidExpiresIsPast(t *testing.T) {
	for _, e := range [][]string{{"0"}, {"tomorrow"}, {t0.Add(time.Hour).Format(http.TimeFormat), t0.Add(2 * time.Hour).Format(http.TimeFormat)}} {
		h := http.Header{"Expires": e}
		if life, ok := Lifetime(Directives{}, h, t0); !ok || life != 0 {
			t.Errorf("Expires %q: %v %v, want stale", e, life, ok)
		}
	}
}

func TestRFC9111_4_2_3_Age(t *testing.T) {
	// Date 10 s before the response arrived, Age 5, a 2 s exchange, 30 s in store.
	h := hdr("Date", t0.Add(-10*time.Second).Format(http.TimeFormat), "Age", "5")
	if got := Age(h, t0.Add(-2*time.Second), t0, t0.Add(30*time.Second)); got != 40*time.Second {
		t.Errorf("age = %v, want 40s (apparent 10 beats 5+2, plus 30 resident)", got)
	}
	h = hdr("Date", t0.Format(http.TimeFormat), "Age", "100")
	if got := Age(h, t0.Add(-2*time.Second), t0, t0); got != 102*time.Second {
		t.Errorf("age = %v, want 102s (Age plus response delay)", got)
	}
	h = hdr("Date", t0.Add(time.Hour).Format(http.TimeFormat), "Age", "junk")
	if got := Age(h, t0, t0, t0.Add(time.Second)); got != time.Second {
		t.Errorf("age with a future Date and a bad Age = %v, want 1s", got)
	}
}

func TestRFC9111_4_2_4_MustRevalidateNeverStale(t *testing.T) {
	for _, cc := range []string{"max-age=10, must-revalidate, stale-while-revalidate=60", "max-age=10, proxy-revalidate", "s-maxage=10"} {
		d := decide(&api.CdnPolicy{CacheMode: api.CacheAllStatic, ServeWhileStale: i64(86400)}, nil, 200, hdr("Cache-Control", cc, "Content-Type", "image/png"))
		if !d.Store || !d.NoStale {
			t.Fatalf("%s: %+v", cc, d)
		}
		if got := Check(d, 11*time.Second, hdr("Cache-Control", "max-stale")); got != MustValidate {
			t.Errorf("%s: a stale response may be served (%v)", cc, got)
		}
	}
}

func TestRFC9111_5_2_1_2_RequestMaxStaleHonoured(t *testing.T) {
	d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=10"))
	if Check(d, 15*time.Second, http.Header{}) != MustValidate {
		t.Error("stale without leave")
	}
	if Check(d, 15*time.Second, hdr("Cache-Control", "max-stale=10")) != FreshHit {
		t.Error("max-stale=10 refused a response 5 s stale")
	}
	if Check(d, 25*time.Second, hdr("Cache-Control", "max-stale=10")) != MustValidate {
		t.Error("max-stale=10 accepted a response 15 s stale")
	}
	if Check(d, time.Hour, hdr("Cache-Control", "max-stale")) != FreshHit {
		t.Error("max-stale without a value is any staleness")
	}
}

func TestCloudCDN_RequestNoCacheMaxAgeMinFreshIgnored(t *testing.T) {
	d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=60"))
	for _, cc := range []string{"no-cache", "max-age=0", "min-fresh=3600", "only-if-cached"} {
		if Check(d, 10*time.Second, hdr("Cache-Control", cc)) != FreshHit {
			t.Errorf("request %s was honoured", cc)
		}
	}
}

func TestRFC9111_5_2_2_4_NoCacheValidatesEveryTime(t *testing.T) {
	d := decide(origin(), nil, 200, hdr("Cache-Control", "public, no-cache, max-age=600"))
	if !d.Store || Check(d, 0, http.Header{}) != MustValidate {
		t.Errorf("public no-cache: %+v", d)
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "no-cache, max-age=600")); d.Store {
		t.Errorf("no-cache without public stored: %+v", d)
	}
}

func TestRFC9111_3_NoStorePrivateNotStored(t *testing.T) {
	for _, cc := range []string{"no-store, max-age=60", "private, max-age=60", `private="Set-Cookie", max-age=60`} {
		if d := decide(origin(), nil, 200, hdr("Cache-Control", cc)); d.Store {
			t.Errorf("%s stored", cc)
		}
	}
	if d := decide(origin(), hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60")); d.Store {
		t.Error("a request's no-store did not keep its response out")
	}
	// FORCE_CACHE_ALL overrides both.
	force := &api.CdnPolicy{CacheMode: api.ForceCacheAll, DefaultTTL: i64(100), ClientTTL: i64(50)}
	if d := decide(force, nil, 200, hdr("Cache-Control", "private, no-store")); !d.Store || d.TTL != 100*time.Second {
		t.Errorf("FORCE_CACHE_ALL with private: %+v", d)
	}
}

func TestRFC9111_3_5_Authorization(t *testing.T) {
	auth := hdr("Authorization", "Bearer x")
	if d := decide(origin(), auth, 200, hdr("Cache-Control", "max-age=60")); d.Store {
		t.Error("stored a response to an authorized request without public")
	}
	for _, cc := range []string{"public, max-age=60", "must-revalidate, max-age=60", "s-maxage=60"} {
		if d := decide(origin(), auth, 200, hdr("Cache-Control", cc)); !d.Store {
			t.Errorf("%s: not stored", cc)
		}
	}
	force := &api.CdnPolicy{CacheMode: api.ForceCacheAll, DefaultTTL: i64(100)}
	if d := decide(force, auth, 200, hdr()); !d.Store {
		t.Error("FORCE_CACHE_ALL does not enforce the Authorization rule")
	}
}

func TestCloudCDN_CacheableStatusCodes(t *testing.T) {
	for code := 100; code < 600; code++ {
		d := decide(origin(), nil, code, hdr("Cache-Control", "max-age=60"))
		want := cacheableStatus[code] && code != 206
		if d.Store != want {
			t.Errorf("status %d stored=%v, want %v", code, d.Store, want)
		}
	}
}

func TestCloudCDN_SetCookieNotCached(t *testing.T) {
	for _, p := range []*api.CdnPolicy{origin(), {CacheMode: api.ForceCacheAll, DefaultTTL: i64(60)}} {
		if d := decide(p, nil, 200, hdr("Cache-Control", "public, max-age=60", "Set-Cookie", "a=b")); d.Store || d.Reason != "RESPONSE_HAS_SET_COOKIE" {
			t.Errorf("%s: %+v", p.CacheMode, d)
		}
	}
}

func TestCloudCDN_VaryAllowList(t *testing.T) {
	for vary, want := range map[string]bool{"Accept-Encoding": true, "accept, origin": true, "Sec-Fetch-Mode": true,
		"User-Agent": false, "*": false, "Accept, Cookie": false} {
		if d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=60", "Vary", vary)); d.Store != want {
			t.Errorf("Vary %s stored=%v, want %v", vary, d.Store, want)
		}
	}
	d := Decide(Request{Method: "GET", Header: http.Header{}}, Response{Status: 200, Header: hdr("Cache-Control", "max-age=60", "Vary", "X-Device"), HTTP1Framed: true, BodySize: 1}, origin(), []string{"x-device"})
	if !d.Store {
		t.Error("Vary on a cache key header was refused")
	}
}

func TestCloudCDN_SizeAndFraming(t *testing.T) {
	resp := Response{Status: 200, Header: hdr("Cache-Control", "max-age=60"), BodySize: MaxObjectSize + 1, HTTP1Framed: true}
	if d := Decide(Request{Method: "GET", Header: http.Header{}}, resp, origin(), nil); d.Store {
		t.Error("stored an object over 10 MiB")
	}
	resp.BodySize, resp.HTTP1Framed = 10, false
	if d := Decide(Request{Method: "GET", Header: http.Header{}}, resp, origin(), nil); d.Store {
		t.Error("stored a body delimited by the connection's close")
	}
}

func TestCloudCDN_UseOriginHeadersNeedsFreshness(t *testing.T) {
	if d := decide(origin(), nil, 200, hdr("Content-Type", "image/png")); d.Store {
		t.Errorf("USE_ORIGIN_HEADERS stored a response without freshness: %+v", d)
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=0", "ETag", `"a"`)); !d.Store || d.TTL != 0 {
		t.Errorf("max-age=0 with a validator is stored to be validated: %+v", d)
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=0")); d.Store {
		t.Errorf("max-age=0 without a validator stored: %+v", d)
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=99999999")); d.TTL != MaxTTL {
		t.Errorf("TTL %v not clamped to 30 days", d.TTL)
	}
}

// TestCloudCDN_NoHeuristicFreshness: Cloud CDN caches on explicit freshness (or its
// cache mode's default TTL), never on RFC 9111 4.2.2's heuristic from Last-Modified:
// USE_ORIGIN_HEADERS forwards "successful responses without these directives".
func TestCloudCDN_NoHeuristicFreshness(t *testing.T) {
	lm := t0.Add(-100 * time.Hour).Format(http.TimeFormat)
	for status := range map[int]bool{200: true, 404: true, 501: true, 302: true} {
		if d := decide(origin(), nil, status, hdr("Last-Modified", lm)); d.Store {
			t.Errorf("USE_ORIGIN_HEADERS stored a %d on Last-Modified alone: %+v", status, d)
		}
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "public", "Last-Modified", lm)); d.Store || d.Reason != "RESPONSE_HAS_NO_EXPLICIT_FRESHNESS" {
		t.Errorf("USE_ORIGIN_HEADERS stored a public response on Last-Modified alone: %+v", d)
	}
	static := &api.CdnPolicy{CacheMode: api.CacheAllStatic, MaxTTL: i64(86400)}
	if d := decide(static, nil, 200, hdr("Cache-Control", "public", "Last-Modified", lm, "Content-Type", "text/html")); d.Store {
		t.Errorf("CACHE_ALL_STATIC stored public HTML on Last-Modified alone: %+v", d)
	}
	if d := decide(static, nil, 200, hdr("Last-Modified", lm, "Content-Type", "image/png")); !d.Store || d.Reason != "CACHE_ALL_STATIC_DEFAULT_TTL" {
		t.Errorf("CACHE_ALL_STATIC: a static type gets the default TTL: %+v", d)
	}
}

func TestRFC9110_5_6_7_StrictHTTPDate(t *testing.T) {
	for s, want := range map[string]bool{
		"Sun, 06 Nov 1994 08:49:37 GMT":   true,
		"Sunday, 06-Nov-94 08:49:37 GMT":  true,
		"Sun Nov  6 08:49:37 1994":        true,
		"Thu, 18 Aug 2050 02:01:18 gMT":   true, // letter case aside
		"thu, 18 aug 2050 02:01:18 GMT":   true,
		"Mon, 18 Aug 2050 02:01:18 GMT":   true, // a wrong day name aside (the 18th is a Thursday)
		"Thu Aug  8 02:01:18 2050":        true, // asctime, the 8th being a Monday
		"Thu Aug 8 02:01:18 2050":         false,
		"Xyz, 18 Aug 2050 02:01:18 GMT":   false,
		"Thu, 18  Aug  2050 02:01:18 GMT": false,
		"Thu, 18 Aug 2050 2:01:18 GMT":    false,
		"Thu, 18 Aug 2050 02:01:18 UTC":   false,
		"Thu, 18 Aug 2050 02:01:18":       false,
		"0":                               false,
		"":                                false,
	} {
		if _, ok := ParseHTTPDate(s); ok != want {
			t.Errorf("%q: valid=%v, want %v", s, ok, want)
		}
	}
}

func TestCloudCDN_CacheAllStaticTypes(t *testing.T) {
	p := &api.CdnPolicy{CacheMode: api.CacheAllStatic, DefaultTTL: i64(3600), MaxTTL: i64(86400), ClientTTL: i64(600)}
	for ct, want := range map[string]bool{"image/png": true, "text/css; charset=utf-8": true, "application/javascript": true,
		"font/woff2": true, "video/mp4": true, "application/pdf": true, "text/html": false, "application/json": false} {
		d := decide(p, nil, 200, hdr("Content-Type", ct))
		if d.Store != want {
			t.Errorf("%s stored=%v, want %v", ct, d.Store, want)
		}
		if want && (d.TTL != time.Hour || d.ClientCacheControl != "public, max-age=600") {
			t.Errorf("%s: TTL %v, client %q", ct, d.TTL, d.ClientCacheControl)
		}
	}
	// Origin TTLs are capped at maxTtl; clients see the origin's max-age clamped to clientTtl.
	d := decide(p, nil, 200, hdr("Cache-Control", "public, max-age=604800, immutable", "Content-Type", "text/html"))
	if !d.Store || d.TTL != 24*time.Hour || d.ClientCacheControl != "public, immutable, max-age=600" {
		t.Errorf("capped: %+v", d)
	}
	if d := decide(p, nil, 200, hdr("Cache-Control", "max-age=60", "Content-Type", "text/html")); d.ClientCacheControl != "" {
		t.Errorf("a max-age under clientTtl was rewritten: %q", d.ClientCacheControl)
	}
	if d := decide(p, nil, 200, hdr("Cache-Control", "max-age=0", "Content-Type", "image/png")); d.Store {
		t.Errorf("explicit max-age=0 without validators got the default TTL: %+v", d)
	}
}

func TestCloudCDN_ForceCacheAllClientTTL(t *testing.T) {
	p := &api.CdnPolicy{CacheMode: api.ForceCacheAll, DefaultTTL: i64(3600), ClientTTL: i64(60)}
	d := decide(p, nil, 200, hdr("Cache-Control", "max-age=5"))
	if !d.Store || d.TTL != time.Hour || d.ClientCacheControl != "public, max-age=60" {
		t.Errorf("%+v", d)
	}
	if d := decide(p, nil, 302, hdr()); d.Store {
		t.Error("FORCE_CACHE_ALL cached a redirect without negative caching")
	}
}

func TestCloudCDN_NegativeCachingDefaults(t *testing.T) {
	p := origin()
	p.NegativeCaching = yes()
	for code, want := range map[int]time.Duration{300: 600 * time.Second, 301: 600 * time.Second, 308: 600 * time.Second,
		404: 120 * time.Second, 410: 120 * time.Second, 451: 120 * time.Second, 405: 60 * time.Second, 501: 60 * time.Second} {
		if d := decide(p, nil, code, hdr()); !d.Store || !d.Negative || d.TTL != want {
			t.Errorf("%d: %+v, want TTL %v", code, d, want)
		}
	}
	if d := decide(p, nil, 404, hdr("Cache-Control", "max-age=5")); d.Negative || d.TTL != 5*time.Second {
		t.Errorf("a 404 with its own Cache-Control: %+v", d)
	}
	if d := decide(p, nil, 404, hdr("Pragma", "no-cache")); d.Store {
		t.Errorf("a 404 with Pragma: no-cache: %+v", d)
	}
	if d := decide(origin(), nil, 404, hdr()); d.Store {
		t.Error("negative caching off, yet a 404 was stored")
	}
}

func TestCloudCDN_NegativeCachingPolicyReplacesDefaults(t *testing.T) {
	p := origin()
	p.NegativeCaching = yes()
	p.NegativeCachingPolicy = []api.NegativeCachingPolicy{{Code: 404, TTL: 30}}
	if d := decide(p, nil, 404, hdr()); d.TTL != 30*time.Second {
		t.Errorf("404: %+v", d)
	}
	if d := decide(p, nil, 410, hdr()); d.Store {
		t.Errorf("410 got a default TTL under an explicit policy: %+v", d)
	}
}

func TestCloudCDN_ServeWhileStaleByMode(t *testing.T) {
	static := &api.CdnPolicy{CacheMode: api.CacheAllStatic, ServeWhileStale: i64(100), MaxTTL: i64(86400)}
	if d := decide(static, nil, 200, hdr("Cache-Control", "max-age=10")); d.StaleWhileRevalidate != 100*time.Second {
		t.Errorf("CACHE_ALL_STATIC: %+v", d)
	}
	if d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=10")); d.StaleWhileRevalidate != 0 {
		t.Errorf("USE_ORIGIN_HEADERS without stale-while-revalidate: %+v", d)
	}
	d := decide(origin(), nil, 200, hdr("Cache-Control", "max-age=10, stale-while-revalidate=30"))
	if d.StaleWhileRevalidate != 30*time.Second || Check(d, 20*time.Second, nil) != StaleServeWhileRevalidate || Check(d, 41*time.Second, nil) != MustValidate {
		t.Errorf("stale-while-revalidate: %+v", d)
	}
	off := origin()
	off.ServeWhileStale = i64(0)
	if d := decide(off, nil, 200, hdr("Cache-Control", "max-age=10, stale-while-revalidate=30")); d.StaleWhileRevalidate != 0 {
		t.Errorf("serveWhileStale 0 disables it: %+v", d)
	}
}

// RFC 9213 section 2.1: CDN-Cache-Control is a Structured Field Dictionary; a field
// that is not one, or whose max-age is not an Integer, is ignored.
func TestRFC9213_InvalidTargetedFieldIgnored(t *testing.T) {
	for _, v := range []string{"max-age=10000, &&&&&", `max-age="10000"`, "max-age=10.5", "max-age=-1", "Max-Age=100", "max-age=10,", "max-age = 10"} {
		if d := decide(origin(), nil, 200, hdr("Cache-Control", "no-store", "CDN-Cache-Control", v)); d.Store {
			t.Errorf("CDN-Cache-Control %q was used: %+v", v, d)
		}
	}
	for _, v := range []string{"max-age=600, stale-while-revalidate=10;x=1", "max-age=600, public=?1, no-store=?0", `max-age=600, foo=("a" b), bar=:AAE=:`} {
		if d := decide(origin(), nil, 200, hdr("Cache-Control", "no-store", "CDN-Cache-Control", v)); !d.Store || d.TTL != 10*time.Minute {
			t.Errorf("valid CDN-Cache-Control %q was not used: %+v", v, d)
		}
	}
}

func TestRFC9213_CDNCacheControlTargeted(t *testing.T) {
	d := decide(origin(), nil, 200, hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"))
	if !d.Store || d.TTL != 10*time.Minute {
		t.Errorf("CDN-Cache-Control did not replace Cache-Control: %+v", d)
	}
	d = decide(origin(), nil, 200, hdr("Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"))
	if d.Store {
		t.Errorf("CDN-Cache-Control: no-store ignored: %+v", d)
	}
}

func TestCloudCDN_SignedRequestsIgnoreCacheControl(t *testing.T) {
	p := origin()
	p.SignedURLCacheMaxAgeSec = i64(120)
	d := Decide(Request{Method: "GET", Header: http.Header{}, Signed: true}, Response{Status: 200, Header: hdr("Cache-Control", "private"), HTTP1Framed: true}, p, nil)
	if !d.Store || d.TTL != 2*time.Minute {
		t.Errorf("%+v", d)
	}
}

func TestCloudCDN_BypassCacheOnRequestHeaders(t *testing.T) {
	p := &api.CdnPolicy{BypassCacheOnRequestHeaders: []api.BypassCacheHeader{{HeaderName: "x-bypass"}}}
	if !Bypass("GET", hdr("X-Bypass", "1"), p) || Bypass("GET", hdr("X-Other", "1"), p) || !Bypass("POST", nil, nil) || Bypass("HEAD", nil, nil) {
		t.Error("bypass rules")
	}
}

func TestCloudCDN_CacheKeyPolicy(t *testing.T) {
	off := false
	k := func(kp *api.CacheKeyPolicy, scheme, host, path, q string, h http.Header) string {
		return Key(scheme, host, path, q, h, kp)
	}
	if k(nil, "https", "a.com", "/x", "b=2&a=1", nil) != k(nil, "https", "A.com", "/x", "a=1&b=2", nil) {
		t.Error("query order or host case changed the key")
	}
	if k(nil, "https", "a.com", "/x", "a=1", nil) == k(nil, "http", "a.com", "/x", "a=1", nil) {
		t.Error("protocol not in the default key")
	}
	noHostProto := &api.CacheKeyPolicy{IncludeHost: &off, IncludeProtocol: &off}
	if k(noHostProto, "https", "a.com", "/x", "", nil) != k(noHostProto, "http", "b.com", "/x", "", nil) {
		t.Error("includeHost/includeProtocol false still keyed on them")
	}
	noQuery := &api.CacheKeyPolicy{IncludeQueryString: &off}
	if k(noQuery, "https", "a.com", "/x", "v=1", nil) != k(noQuery, "https", "a.com", "/x", "v=2", nil) {
		t.Error("includeQueryString false")
	}
	allow := &api.CacheKeyPolicy{QueryStringWhitelist: []string{"v"}}
	if k(allow, "https", "a.com", "/x", "v=1&utm=a", nil) != k(allow, "https", "a.com", "/x", "utm=b&v=1", nil) ||
		k(allow, "https", "a.com", "/x", "v=1", nil) == k(allow, "https", "a.com", "/x", "v=2", nil) {
		t.Error("allow-list")
	}
	deny := &api.CacheKeyPolicy{QueryStringBlacklist: []string{"utm"}}
	if k(deny, "https", "a.com", "/x", "v=1&utm=a", nil) != k(deny, "https", "a.com", "/x", "v=1", nil) {
		t.Error("deny-list")
	}
	hk := &api.CacheKeyPolicy{IncludeHTTPHeaders: []string{"X-Device"}, IncludeNamedCookies: []string{"lang"}}
	a := k(hk, "https", "a.com", "/x", "", hdr("X-Device", "phone", "Cookie", "lang=en; other=1"))
	if a == k(hk, "https", "a.com", "/x", "", hdr("X-Device", "tablet", "Cookie", "lang=en")) ||
		a == k(hk, "https", "a.com", "/x", "", hdr("X-Device", "phone", "Cookie", "lang=fr")) ||
		a != k(hk, "https", "a.com", "/x", "", hdr("X-Device", "phone", "Cookie", "other=2; lang=en")) {
		t.Error("named headers and cookies")
	}
}

func TestRFC9111_4_1_SecondaryKey(t *testing.T) {
	v := []string{"Accept-Encoding"}
	if SecondaryKey(v, hdr("Accept-Encoding", "gzip,br")) != SecondaryKey(v, hdr("Accept-Encoding", "gzip, br")) {
		t.Error("whitespace after commas changed the secondary key")
	}
	if SecondaryKey(v, hdr("Accept-Encoding", "gzip")) == SecondaryKey(v, hdr("Accept-Encoding", "br")) ||
		SecondaryKey(v, http.Header{}) == SecondaryKey(v, hdr("Accept-Encoding", "")) {
		t.Error("distinct values (or absent and empty) share a secondary key")
	}
	if SecondaryKey([]string{"*"}, nil) == SecondaryKey([]string{"*"}, nil) && SecondaryKey([]string{"*"}, nil) != "\x00*" {
		t.Error("Vary: *")
	}
}

func TestRFC9211_CacheStatus(t *testing.T) {
	ttl := 42 * time.Second
	if got := Status("SFO-fbae48ad", StatusInfo{Hit: true, TTL: &ttl}); got != "SFO-fbae48ad; hit; ttl=42" {
		t.Error(got)
	}
	if got := Status("edge", StatusInfo{Fwd: "uri-miss", FwdStatus: 200, Stored: true, TTL: &ttl, Detail: "X"}); got != `edge; fwd=uri-miss; fwd-status=200; stored; ttl=42; detail="X"` {
		t.Error(got)
	}
	if got := Status("1cache", StatusInfo{Fwd: "bypass"}); !strings.HasPrefix(got, `"1cache"; fwd=bypass`) {
		t.Error(got)
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a,b", private`, `a="\"`, ",,,=,", "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDirectives([]string{s})
		if len(d) > maxDirectives {
			t.Fatalf("%d directives", len(d))
		}
		for name := range d {
			if v, ok := d.Delta(name); !ok || v < 0 || v > maxDelta {
				t.Fatalf("%s: %v", name, v)
			}
		}
		h := hdr("Cache-Control", s, "Age", s, "Expires", s, "Date", s)
		if a := Age(h, t0, t0, t0); a < 0 {
			t.Fatalf("negative age %v", a)
		}
	})
}

func FuzzTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", `a=("x" y);p=1, b=:AA==:`, "no-store=?0, x=-1.5", "&&&", `s="\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseTargeted([]string{s}); ok {
			if len(d) > maxDirectives {
				t.Fatalf("%d directives", len(d))
			}
			for name := range integerDirectives {
				if v, ok := d.Delta(name); ok && (v < 0 || v > maxDelta) {
					t.Fatalf("%s: %v", name, v)
				}
			}
		}
		ParseHTTPDate(s)
	})
}

func FuzzKey(f *testing.F) {
	f.Add("/a", "b=1&a=2", "x", "lang=en")
	f.Fuzz(func(t *testing.T, path, query, hv, cookie string) {
		kp := &api.CacheKeyPolicy{IncludeHTTPHeaders: []string{"X-A"}, IncludeNamedCookies: []string{"lang"}, QueryStringBlacklist: []string{"utm"}}
		h := http.Header{"X-A": {hv}, "Cookie": {cookie}}
		k1 := Key("https", "h", path, query, h, kp)
		// Query order does not matter.
		parts := strings.Split(query, "&")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		if k2 := Key("https", "h", path, strings.Join(parts, "&"), h, kp); k1 != k2 {
			t.Fatalf("reordered query changed the key: %q vs %q", k1, k2)
		}
		// A different header value makes a different key.
		if k3 := Key("https", "h", path, query, http.Header{"X-A": {hv + "x"}, "Cookie": {cookie}}, kp); k3 == k1 {
			t.Fatal("header value not in the key")
		}
	})
}

func FuzzDecide(f *testing.F) {
	f.Add(200, "max-age=60", "text/css", "Accept", "", int64(10))
	f.Add(404, "", "", "", "Sun, 06 Nov 1994 08:49:37 GMT", int64(-1))
	f.Fuzz(func(t *testing.T, status int, cc, ct, vary, expires string, size int64) {
		for _, mode := range []string{api.CacheAllStatic, api.UseOriginHeaders, api.ForceCacheAll} {
			p := &api.CdnPolicy{CacheMode: mode, DefaultTTL: i64(3600), MaxTTL: i64(86400), ClientTTL: i64(600), NegativeCaching: yes(), ServeWhileStale: i64(86400)}
			h := hdr("Cache-Control", cc, "Content-Type", ct, "Vary", vary, "Expires", expires)
			d := Decide(Request{Method: "GET", Header: http.Header{}}, Response{Status: status, Header: h, RequestTime: t0, ResponseTime: t0, BodySize: size, HTTP1Framed: true}, p, nil)
			if d.Store && (d.TTL < 0 || d.TTL > MaxTTL || !cacheableStatus[status]) {
				t.Fatalf("%s: %+v", mode, d)
			}
			_ = Check(d, time.Hour, h)
		}
	})
}
