package armor

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"

	"meridian/api"
)

func TestCheckExpression(t *testing.T) {
	good := []string{
		`request.path.startsWith('/admin/')`,
		`request.path.matches('^/admin(/.*)?$')`,
		`inIpRange(origin.ip, '10.0.0.0/8') || inIpRange(origin.ip, '2001:db8::/32')`,
		`request.headers['user-agent'].lower().contains('curl')`,
		`has(request.headers['x-debug']) && request.method == 'POST'`,
		`!request.query.contains('token=') && request.scheme == 'https'`,
		`origin.region_code == 'AU'`,
		`request.headers['host'].endsWith('.example.com')`,
		`request.query.urlDecode().contains('<script>')`,
		`request.headers['authorization'].base64Decode().upper().startsWith('ADMIN')`,
		`size(request.path) > 100`,
	}
	for _, e := range good {
		if err := CheckExpression(e); err != nil {
			t.Errorf("CheckExpression(%q) = %v, want nil", e, err)
		}
	}
	bad := map[string]string{
		`request.path.startsWith('/admin'`:              "Syntax error",
		`request.body.contains('x')`:                    "undeclared reference",
		`request.path`:                                  "must evaluate to a boolean",
		`inIpRange(origin.ip, '10.0.0.300/8')`:          "not an IP address or CIDR range",
		`request.path.lower(1)`:                         "found no matching overload",
		"request.path == '/a' ||\nrequest.path == '/b'": "line break",
		`request.path == '/1' || request.path == '/2' || request.path == '/3' || request.path == '/4' || request.path == '/5' || request.path == '/6'`: "expression count of 6 exceed maximum of 5",
		`[1, 2].exists(x, x == 1)`: "undeclared reference to 'exists'",
		`has(request.path)`:        "undeclared reference to 'request'",
		`has(1)`:                   "has() takes a field or a map's key",
	}
	for e, want := range bad {
		err := CheckExpression(e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckExpression(%q) = %v, want an error containing %q", e, err, want)
		}
	}
}

// FuzzCheckExpression: an expression is untrusted input to the control plane and to
// every edge; no expression panics the compiler or an evaluation.
func FuzzCheckExpression(f *testing.F) {
	for _, s := range []string{`request.path.startsWith('/a')`, `inIpRange(origin.ip, '1.2.3.0/24')`,
		`has(request.headers['x']) && request.headers['x'].matches('a+')`, `!(`, `'a'.lower() == "A".lower()`} {
		f.Add(s)
	}
	req := &Request{Method: "GET", Path: "/a", Header: http.Header{"X": {"aaa"}}, IP: netip.MustParseAddr("1.2.3.4")}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := compileExpr(expr)
		if err != nil {
			return
		}
		p.eval(&activation{req: req})
	})
}

func newRule(priority int32, action string, match *api.SecurityPolicyRuleMatcher) api.SecurityPolicyRule {
	return api.SecurityPolicyRule{Priority: priority, Action: action, Match: match}
}

func expr(e string) *api.SecurityPolicyRuleMatcher {
	return &api.SecurityPolicyRuleMatcher{Expr: &api.SecurityPolicyExpr{Expression: e}}
}

func srcIPs(ranges ...string) *api.SecurityPolicyRuleMatcher {
	return &api.SecurityPolicyRuleMatcher{VersionedExpr: api.SrcIPsV1, Config: &api.RuleMatcherConfig{SrcIPRanges: ranges}}
}

func compile(t *testing.T, rules ...api.SecurityPolicyRule) *Policy {
	t.Helper()
	p := &api.SecurityPolicy{Rules: rules}
	p.Name, p.SelfLink = "edge-policy", "projects/p/global/securityPolicies/edge-policy"
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Fatalf("policy does not validate: %v", err)
	}
	for i := range p.Rules {
		if err := CheckRule(&p.Rules[i]); err != nil {
			t.Fatalf("rule %d: %v", p.Rules[i].Priority, err)
		}
	}
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(path, ip string) *Request {
	u, q, _ := strings.Cut(path, "?")
	return &Request{Method: "GET", Path: u, Query: q, Scheme: "https", Host: "example.com", Header: http.Header{}, IP: netip.MustParseAddr(ip)}
}

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestRulesByPriorityFirstMatchWins(t *testing.T) {
	p := compile(t,
		// given out of order: evaluation is by priority
		newRule(2000, "deny(404)", srcIPs("198.51.100.7")),
		newRule(1000, "deny(403)", expr(`request.path.startsWith('/admin/')`)),
		newRule(500, "allow", expr(`request.path.startsWith('/admin/public')`)),
	)
	limits := NewLimits()
	cases := []struct {
		path, ip string
		status   int
		priority int32
		action   string
	}{
		{"/admin/users", "192.0.2.1", 403, 1000, "DENY"},
		{"/admin/public/x", "192.0.2.1", 0, 500, "ALLOW"},
		{"/index.html", "198.51.100.7", 404, 2000, "DENY"},
		{"/admin/users", "198.51.100.7", 403, 1000, "DENY"}, // 1000 comes before 2000
		{"/index.html", "192.0.2.1", 0, api.DefaultRulePriority, "ALLOW"},
		{"/index.html", "::ffff:198.51.100.7", 404, 2000, "DENY"}, // a mapped address is the IPv4 one
	}
	for _, c := range cases {
		d := p.Evaluate(get(c.path, c.ip), "bs", limits, t0)
		if d.Status != c.status || d.Enforced.Priority != c.priority || d.Enforced.ConfiguredAction != c.action || d.Enforced.Policy != "edge-policy" {
			t.Errorf("%s from %s: status %d by rule %d (%s), want %d by %d (%s)", c.path, c.ip, d.Status, d.Enforced.Priority, d.Enforced.ConfiguredAction, c.status, c.priority, c.action)
		}
		if want := map[bool]string{true: OutcomeDeny, false: OutcomeAccept}[c.status != 0]; d.Enforced.Outcome != want {
			t.Errorf("%s from %s: outcome %s, want %s", c.path, c.ip, d.Enforced.Outcome, want)
		}
	}
}

func TestRedirectAndHeaders(t *testing.T) {
	redirect := newRule(10, "redirect", expr(`request.path == '/old'`))
	redirect.RedirectOptions = &api.RuleRedirectOptions{Type: api.RedirectExternal302, Target: "https://example.com/new"}
	tag := newRule(20, "allow", expr(`request.headers['user-agent'].contains('bot')`))
	tag.HeaderAction = &api.RuleHeaderAction{RequestHeadersToAdds: []api.RuleHeader{{HeaderName: "X-Bot", HeaderValue: "1"}}}
	p := compile(t, redirect, tag)
	d := p.Evaluate(get("/old", "192.0.2.1"), "bs", NewLimits(), t0)
	if d.Status != http.StatusFound || d.Location != "https://example.com/new" || d.Enforced.Outcome != OutcomeRedirect || d.Enforced.ConfiguredAction != "EXTERNAL_302" {
		t.Errorf("redirect: %+v", d)
	}
	r := get("/x", "192.0.2.1")
	r.Header.Set("User-Agent", "a-bot/1")
	d = p.Evaluate(r, "bs", NewLimits(), t0)
	if d.Blocked() || len(d.AddHeaders) != 1 || d.AddHeaders[0] != [2]string{"X-Bot", "1"} {
		t.Errorf("header action: %+v", d)
	}
	// A rule reading a header the request lacks does not match (and does not fail).
	d = p.Evaluate(get("/x", "192.0.2.1"), "bs", NewLimits(), t0)
	if d.Blocked() || d.Enforced.Priority != api.DefaultRulePriority || d.AddHeaders != nil {
		t.Errorf("without the header: %+v", d)
	}
}

func TestRegionCode(t *testing.T) {
	p := compile(t, newRule(10, "deny(403)", expr(`origin.region_code == 'AU'`)))
	located := 0
	r := get("/", "192.0.2.1")
	r.Locate = func(a netip.Addr) string {
		located++
		return map[string]string{"192.0.2.1": "AU"}[a.String()]
	}
	if d := p.Evaluate(r, "bs", NewLimits(), t0); d.Status != 403 || located != 1 {
		t.Errorf("a client in AU: %+v (located %d times)", d, located)
	}
	r = get("/", "198.51.100.1")
	r.Locate = func(netip.Addr) string { return "" }
	if d := p.Evaluate(r, "bs", NewLimits(), t0); d.Blocked() {
		t.Errorf("a client of unknown country: %+v", d)
	}
	// A policy that does not read the country does not look it up.
	q := compile(t, newRule(10, "deny(403)", expr(`request.path == '/x'`)))
	r = get("/", "192.0.2.1")
	r.Locate = func(netip.Addr) string { t.Error("looked up"); return "" }
	q.Evaluate(r, "bs", NewLimits(), t0)
}

func TestPreviewRulesAreReportedNotEnforced(t *testing.T) {
	preview := newRule(100, "deny(403)", srcIPs("203.0.113.0/24"))
	preview.Preview = true
	p := compile(t, preview, newRule(200, "deny(404)", expr(`request.path == '/secret'`)))
	d := p.Evaluate(get("/page", "203.0.113.9"), "bs", NewLimits(), t0)
	if d.Blocked() || d.Preview == nil || d.Preview.Priority != 100 || d.Preview.Outcome != OutcomeDeny || d.Enforced.Priority != api.DefaultRulePriority {
		t.Errorf("preview match: %+v (preview %+v)", d, d.Preview)
	}
	// evaluation goes on after a preview match
	d = p.Evaluate(get("/secret", "203.0.113.9"), "bs", NewLimits(), t0)
	if d.Status != 404 || d.Preview == nil || d.Enforced.Priority != 200 {
		t.Errorf("preview then enforced: %+v", d)
	}
	d = p.Evaluate(get("/page", "192.0.2.1"), "bs", NewLimits(), t0)
	if d.Preview != nil {
		t.Errorf("no preview rule matched, yet Preview = %+v", d.Preview)
	}
}

func throttle(priority int32, count, interval int32, key string) api.SecurityPolicyRule {
	r := newRule(priority, "throttle", srcIPs("*"))
	r.RateLimitOptions = &api.RateLimitOptions{
		RateLimitThreshold: &api.RateLimitThreshold{Count: count, IntervalSec: interval},
		ConformAction:      "allow", ExceedAction: "deny(429)", EnforceOnKey: key,
	}
	return r
}

func TestThrottlePerIP(t *testing.T) {
	p := compile(t, throttle(100, 10, 60, api.EnforceOnKeyIP))
	limits := NewLimits()
	passed := 0
	for i := range 25 {
		d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(time.Duration(i)*10*time.Millisecond))
		switch {
		case !d.Blocked():
			passed++
			if d.Enforced.RateLimitOutcome != RateConform || d.Enforced.Outcome != OutcomeAccept {
				t.Errorf("request %d passed with %+v", i, d.Enforced)
			}
		case d.Status != 429 || d.Enforced.RateLimitOutcome != RateExceed || d.Enforced.RateLimitKey != "192.0.2.1":
			t.Errorf("request %d: %+v", i, d)
		}
	}
	if passed != 10 {
		t.Errorf("%d of 25 quick requests passed a throttle of 10 a minute, want 10", passed)
	}
	// Another address has its own count.
	if d := p.Evaluate(get("/", "192.0.2.2"), "bs", limits, t0.Add(time.Second)); d.Blocked() {
		t.Errorf("another address was throttled: %+v", d)
	}
	// The sliding window: half an interval into the next, half the previous count
	// still weighs; a whole interval later, nothing does.
	if d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(61*time.Second)); d.Blocked() {
		// 60 s + 1 s: prev 10 × (59/60) ≈ 9.8 → 9 counted: one more passes
		t.Errorf("a second after the interval: %+v", d)
	}
	if d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(62*time.Second)); !d.Blocked() {
		t.Errorf("the window still counts the last interval: %+v", d)
	}
	passed = 0
	for i := range 25 {
		if d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(121*time.Second+time.Duration(i)*time.Millisecond)); !d.Blocked() {
			passed++
		}
	}
	if passed < 9 || passed > 10 {
		t.Errorf("%d passed in the third minute, want about 10", passed)
	}
}

func TestThrottleKeys(t *testing.T) {
	limits := NewLimits()
	all := compile(t, throttle(100, 2, 10, api.EnforceOnKeyAll))
	for i, want := range []bool{false, false, true} {
		d := all.Evaluate(get("/", fmt.Sprintf("192.0.2.%d", i+1)), "bs", limits, t0)
		if d.Blocked() != want || d.Enforced.RateLimitKey != "" {
			t.Errorf("ALL, request %d: %+v", i, d)
		}
	}
	byHeader := throttle(100, 1, 10, api.EnforceOnKeyHTTPHeader)
	byHeader.RateLimitOptions.EnforceOnKeyName = "X-Api-Key"
	hp := compile(t, byHeader)
	req := func(key, ip string) *Request {
		r := get("/", ip)
		if key != "" {
			r.Header.Set("X-Api-Key", key)
		}
		return r
	}
	for i, c := range []struct {
		key, ip string
		blocked bool
	}{{"a", "192.0.2.1", false}, {"a", "192.0.2.2", true}, {"b", "192.0.2.1", false}, {"", "192.0.2.1", false}, {"", "192.0.2.3", true}} {
		if d := hp.Evaluate(req(c.key, c.ip), "bs", limits, t0); d.Blocked() != c.blocked || d.Enforced.RateLimitKey != c.key {
			t.Errorf("HTTP_HEADER case %d: %+v", i, d)
		}
	}
	xp := compile(t, throttle(100, 1, 10, api.EnforceOnKeyXFFIP))
	r := get("/", "192.0.2.1")
	r.Header.Set("X-Forwarded-For", "203.0.113.5, 10.0.0.1")
	if d := xp.Evaluate(r, "bs", limits, t0); d.Blocked() || d.Enforced.RateLimitKey != "203.0.113.5" {
		t.Errorf("XFF_IP: %+v", d)
	}
	if d := xp.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0); d.Blocked() || d.Enforced.RateLimitKey != "192.0.2.1" {
		t.Errorf("XFF_IP without the header keys on the peer: %+v", d)
	}
}

func TestThrottleMoreKeys(t *testing.T) {
	limits := NewLimits()
	keyed := func(key, name string) *Policy {
		r := throttle(100, 1, 10, key)
		r.RateLimitOptions.EnforceOnKeyName = name
		return compile(t, r)
	}
	type reqCase struct {
		r       *Request
		key     string
		blocked bool
	}
	withCookie := func(cookie, ip string) *Request {
		r := get("/", ip)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		return r
	}
	withSNI := func(sni string) *Request { r := get("/", "192.0.2.1"); r.SNI = sni; return r }
	located := func(ip string) *Request {
		r := get("/", ip)
		r.Locate = func(a netip.Addr) string {
			return map[string]string{"192.0.2.1": "AU", "192.0.2.2": "AU", "192.0.2.3": "NZ"}[a.String()]
		}
		return r
	}
	for name, c := range map[string]struct {
		p     *Policy
		cases []reqCase
	}{
		"HTTP_COOKIE": {keyed(api.EnforceOnKeyHTTPCookie, "session"), []reqCase{
			{withCookie("a=1; session=abc", "192.0.2.1"), "abc", false}, {withCookie("session=abc", "192.0.2.2"), "abc", true},
			{withCookie("session=def", "192.0.2.1"), "def", false}, {withCookie("", "192.0.2.1"), "", false}, {withCookie("other=1", "192.0.2.2"), "", true}}},
		"HTTP_PATH": {keyed(api.EnforceOnKeyHTTPPath, ""), []reqCase{
			{get("/a", "192.0.2.1"), "/a", false}, {get("/a?x=1", "192.0.2.2"), "/a", true}, {get("/b", "192.0.2.1"), "/b", false}}},
		"SNI": {keyed(api.EnforceOnKeySNI, ""), []reqCase{
			{withSNI("a.example"), "a.example", false}, {withSNI("a.example"), "a.example", true}, {withSNI("b.example"), "b.example", false}, {withSNI(""), "", false}}},
		"REGION_CODE": {keyed(api.EnforceOnKeyRegionCode, ""), []reqCase{
			{located("192.0.2.1"), "AU", false}, {located("192.0.2.2"), "AU", true}, {located("192.0.2.3"), "NZ", false}}},
		"USER_IP": {keyed(api.EnforceOnKeyUserIP, ""), []reqCase{
			{get("/", "192.0.2.1"), "192.0.2.1", false}, {get("/", "192.0.2.1"), "192.0.2.1", true}, {get("/", "192.0.2.2"), "192.0.2.2", false}}},
	} {
		for i, rc := range c.cases {
			if d := c.p.Evaluate(rc.r, "bs", limits, t0); d.Blocked() != rc.blocked || d.Enforced.RateLimitKey != rc.key {
				t.Errorf("%s case %d: blocked %v key %q, want %v %q", name, i, d.Blocked(), d.Enforced.RateLimitKey, rc.blocked, rc.key)
			}
		}
	}
}

func TestRateBasedBan(t *testing.T) {
	ban := throttle(100, 3, 10, api.EnforceOnKeyIP)
	ban.Action = "rate_based_ban"
	ban.RateLimitOptions.ExceedAction = "deny(403)"
	ban.RateLimitOptions.BanDurationSec = 60
	p := compile(t, ban)
	limits := NewLimits()
	var got []int
	for i := range 5 {
		got = append(got, p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(time.Duration(i)*time.Millisecond)).Status)
	}
	if fmt.Sprint(got) != "[0 0 0 403 403]" {
		t.Errorf("statuses %v, want three passed then 403s", got)
	}
	// Banned for 60 s from the first excess, though the rate window has moved on.
	if d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(30*time.Second)); d.Status != 403 || d.Enforced.RateLimitOutcome != BanExceed {
		t.Errorf("30 s later: %+v", d)
	}
	if d := p.Evaluate(get("/", "192.0.2.1"), "bs", limits, t0.Add(61*time.Second)); d.Blocked() {
		t.Errorf("after the ban: %+v", d)
	}

	// With a ban threshold: throttled to the rate until the ban threshold's count of
	// every request is crossed, then banned.
	withThreshold := throttle(100, 2, 10, api.EnforceOnKeyIP)
	withThreshold.Action = "rate_based_ban"
	withThreshold.RateLimitOptions.BanThreshold = &api.RateLimitThreshold{Count: 5, IntervalSec: 60}
	withThreshold.RateLimitOptions.BanDurationSec = 120
	p = compile(t, withThreshold)
	got = got[:0]
	var outcomes []string
	for i := range 7 {
		d := p.Evaluate(get("/", "192.0.2.9"), "bs", limits, t0.Add(time.Duration(i)*time.Millisecond))
		got = append(got, d.Status)
		outcomes = append(outcomes, d.Enforced.RateLimitOutcome)
	}
	if fmt.Sprint(got) != "[0 0 429 429 429 429 429]" || outcomes[2] != RateExceed || outcomes[5] != BanExceed {
		t.Errorf("statuses %v, outcomes %v", got, outcomes)
	}
	// 15 s later the rate window would let it through, the ban does not.
	if d := p.Evaluate(get("/", "192.0.2.9"), "bs", limits, t0.Add(15*time.Second)); d.Enforced.RateLimitOutcome != BanExceed {
		t.Errorf("banned key after the rate window: %+v", d)
	}
}

func TestLimitsAreBoundedPerRule(t *testing.T) {
	byHeader := throttle(100, 1, 10, api.EnforceOnKeyHTTPHeader)
	byHeader.RateLimitOptions.EnforceOnKeyName = "X-Key"
	p := compile(t, byHeader)
	limits := NewLimits()
	// A steady client, then a flood of invented keys, all within one interval.
	steady := get("/", "192.0.2.1")
	steady.Header.Set("X-Key", "steady")
	if d := p.Evaluate(steady, "bs", limits, t0); d.Blocked() {
		t.Fatal("the steady client's first request was refused")
	}
	for i := range maxKeysPerRule + 50 {
		r := get("/", "192.0.2.1")
		r.Header.Set("X-Key", fmt.Sprint(i))
		at := t0.Add(time.Duration(i) * time.Microsecond) // 0.1 s in all: one interval
		p.Evaluate(r, "bs", limits, at)
		if i%1000 == 0 {
			p.Evaluate(steady, "bs", limits, at) // it keeps sending
		}
	}
	rc := limits.rule(p.rules[0].rate.id, "bs")
	if n := len(rc.keys); n > maxKeysPerRule {
		t.Fatalf("%d keys kept, want at most %d", n, maxKeysPerRule)
	}
	// A new key past the bound counts on its own (it does not share anyone's count),
	// and the steady client, seen recently, still has its count: refused.
	fresh := get("/", "192.0.2.1")
	fresh.Header.Set("X-Key", "fresh")
	if d := p.Evaluate(fresh, "bs", limits, t0.Add(time.Second)); d.Blocked() {
		t.Errorf("a new key past the bound was refused: %+v", d)
	}
	if d := p.Evaluate(steady, "bs", limits, t0.Add(time.Second)); !d.Blocked() {
		t.Errorf("the steady client's count was forgotten in the flood")
	}
	// Two intervals later, idle keys are forgotten.
	later := get("/", "192.0.2.1")
	later.Header.Set("X-Key", "later")
	if d := p.Evaluate(later, "bs", limits, t0.Add(25*time.Second)); d.Blocked() {
		t.Errorf("after idle keys expired: %+v", d)
	}
	if n := len(rc.keys); n > 10 {
		t.Errorf("%d keys kept after the sweep", n)
	}
	limits.Retain(nil)
	if len(limits.rules) != 0 {
		t.Errorf("Retain(nil) kept %d rules' counters", len(limits.rules))
	}
}

func TestLimitsPerBackendServiceAndClockSteps(t *testing.T) {
	p := compile(t, throttle(100, 1, 60, api.EnforceOnKeyIP))
	limits := NewLimits()
	if a, b := p.Evaluate(get("/", "192.0.2.1"), "web", limits, t0), p.Evaluate(get("/", "192.0.2.1"), "api", limits, t0); a.Blocked() || b.Blocked() {
		t.Error("one policy on two backend services shared a count")
	}
	if d := p.Evaluate(get("/", "192.0.2.1"), "web", limits, t0); !d.Blocked() {
		t.Error("the second request to one backend service passed a threshold of 1")
	}
	// The wall clock steps back an hour: the window starts again rather than
	// weighing the previous one more than whole.
	if d := p.Evaluate(get("/", "192.0.2.1"), "web", limits, t0.Add(-time.Hour)); d.Blocked() {
		t.Errorf("after a clock step back: %+v", d)
	}
}

func TestDecodingFunctions(t *testing.T) {
	for in, want := range map[string]string{
		"q=%3Cscript%3E":       "q=<script>",
		"q=%3Cscript%3E&x=%ZZ": "q=<script>&x=%ZZ", // an invalid sequence hides nothing
		"q=%3Cscript%3E%":      "q=<script>%",
		"a+b%2Bc":              "a b+c",
		"plain":                "plain",
		"%e2%82%ac":            "€",
		"%ff":                  "\uFFFD",
	} {
		if got := string(urlDecode(in).(types.String)); got != want {
			t.Errorf("urlDecode(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"YWRtaW4=": "admin", "YWRtaW4": "admin", "Pz8_": "???", "admin!": ""} {
		if got := string(base64Decode(in).(types.String)); got != want {
			t.Errorf("base64Decode(%q) = %q, want %q", in, got, want)
		}
	}
	p := compile(t, newRule(10, "deny(403)", expr(`request.query.urlDecode().contains('<script>')`)))
	if d := p.Evaluate(get("/?q=%3Cscript%3E&x=%ZZ", "192.0.2.1"), "bs", NewLimits(), t0); !d.Blocked() {
		t.Error("a stray % let an encoded <script> through")
	}
}

func BenchmarkEvaluateExpression(b *testing.B) {
	p, err := Compile(&api.SecurityPolicy{Rules: []api.SecurityPolicyRule{
		newRule(1000, "deny(403)", expr(`request.path.startsWith('/admin/') || request.headers['user-agent'].contains('sqlmap')`)),
		newRule(2000, "deny(404)", srcIPs("198.51.100.0/24", "203.0.113.0/24")),
		api.DefaultSecurityPolicyRule(),
	}})
	if err != nil {
		b.Fatal(err)
	}
	r := get("/index.html", "192.0.2.1")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	limits := NewLimits()
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r, "bs", limits, t0).Blocked() {
			b.Fatal("blocked")
		}
	}
}

// TestRequestHeadersMap: request.headers as Cloud Armor presents it: lower-case names
// only, repeated fields joined, the host among them, whole-map operations too.
func TestRequestHeadersMap(t *testing.T) {
	r := get("/", "192.0.2.1")
	r.Header.Add("User-Agent", "curl/8")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	for e, want := range map[string]bool{
		`request.headers['user-agent'] == 'curl/8'`:                                             true,
		`has(request.headers['user-agent'])`:                                                    true,
		`has(request.headers['User-Agent'])`:                                                    false,
		`request.headers['x-multi'] == 'a, b'`:                                                  true,
		`request.headers['host'] == 'example.com'`:                                              true,
		`'x-multi' in request.headers`:                                                          true,
		`size(request.headers) == 3`:                                                            true,
		`request.headers['absent'] == 'x'`:                                                      false, // an error: no match
		`request.headers == {'user-agent': 'curl/8', 'x-multi': 'a, b', 'host': 'example.com'}`: true,
	} {
		p, err := compileExpr(e)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if got := p.eval(&activation{req: r}); got != want {
			t.Errorf("%s = %v, want %v", e, got, want)
		}
	}
}
