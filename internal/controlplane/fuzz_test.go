package controlplane

import (
	"encoding/json"
	"testing"

	"meridian/api"
)

// FuzzDecodeResource feeds arbitrary request bodies through the insert path's pure
// part: strict decoding, defaults, validation and reference parsing must never panic.
func FuzzDecodeResource(f *testing.F) {
	for _, seed := range []string{
		`{"name":"b","enableCDN":true,"cdnPolicy":{"cacheMode":"FORCE_CACHE_ALL","negativeCaching":true,"negativeCachingPolicy":[{"code":404,"ttl":60}]}}`,
		`{"name":"u","defaultService":"global/backendServices/b","hostRules":[{"hosts":["*.example.com"],"pathMatcher":"pm"}],"pathMatchers":[{"name":"pm","defaultService":"b","routeRules":[{"priority":1,"matchRules":[{"pathTemplateMatch":"/a/{x=**}","headerMatches":[{"headerName":"h","rangeMatch":{"rangeStart":"1","rangeEnd":"2"}}]}],"service":"b"}]}]}`,
		`{"name":"n","networkEndpointType":"SERVERLESS","cloudRun":{"service":"s","urlMask":"<tag>.x/<service>"}}`,
		`{"name":"f","IPAddress":"127.0.0.1","portRange":"80-90","target":"global/targetHttpProxies/t"}`,
		`{"name":"c","certificate":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----","privateKey":"x"}`,
		`{"name":"h","type":"HTTP","httpHealthCheck":{"requestPath":"/"}}`,
		`{"name":"p","urlMap":"u","sslCertificates":["c"],"httpKeepAliveTimeoutSec":610,"sslPolicy":"global/sslPolicies/s"}`,
		`{"name":"s","profile":"CUSTOM","minTlsVersion":"TLS_1_2","customFeatures":["TLS_RSA_WITH_AES_128_CBC_SHA"]}`,
		`{"name":"sp","rules":[{"priority":10,"action":"throttle","match":{"expr":{"expression":"request.path.startsWith('/a')"}},"rateLimitOptions":{"rateLimitThreshold":{"count":10,"intervalSec":60},"conformAction":"allow","exceedAction":"deny(429)","enforceOnKey":"IP"}}]}`,
		`[]`, `null`, `{"name":1}`,
	} {
		for _, k := range []string{"backendServices", "urlMaps", "networkEndpointGroups", "forwardingRules", "sslCertificates", "healthChecks", "targetHttpsProxies", "addresses", "sslPolicies", "securityPolicies"} {
			f.Add(k, []byte(seed))
		}
	}
	kinds := computeKinds()
	f.Fuzz(func(t *testing.T, collection string, body []byte) {
		k, ok := kinds[collection]
		if !ok {
			return
		}
		res := k.new()
		if decodeStrict(body, res, "resource") != nil {
			return
		}
		res.SetDefaults()
		if res.Validate() != nil || deepCheck(res) != nil {
			return
		}
		for _, ref := range res.References() {
			parseRef(*ref.Value, route{project: "p"}, ref.Collections)
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{`name = foo`, `(name eq "a.*") (region != x*y) OR size > 3`, `name=`, `a.b.c ne "(" OR`, `x <= 1 AND y >= "2"`} {
		f.Add(seed)
	}
	item := map[string]any{"name": "foo", "size": "3", "tags": []any{"a", "b"}, "nested": map[string]any{"x": true}}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseFilter(s)
		if err != nil {
			return
		}
		flt.matches(item)
	})
}

func FuzzComputePath(f *testing.F) {
	for _, seed := range []string{"/compute/v1/projects/p/global/urlMaps/u/validate", "/compute/v1/projects/p/regions/r/networkEndpointGroups", "/compute/v1/projects/p/targetHttpsProxies/t/setUrlMap", "/compute/v1/projects//global/x", "/compute/v1/projects/p/aggregated/networkEndpointGroups"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		parseComputePath(p)
		api.ParseResourcePath(p, "p")
	})
}

func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1},"c":[1]}`), []byte(`{"a":{"b":null,"d":2},"c":null}`))
	f.Add([]byte(`{}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		mergePatch(doc, patch)
	})
}

func FuzzParseLabelSelector(f *testing.F) {
	for _, seed := range []string{"serving.knative.dev/service=app", "a==b,c!=d", "a", "=b", "a=b=c", " , "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseLabelSelector(s)
		if err != nil {
			return
		}
		// Every requirement holds for the labels it names, unless it is negated.
		labels := map[string]string{}
		for _, r := range sel {
			if !r.negate {
				labels[r.key] = r.value
			}
		}
		sel.matches(labels)
	})
}

// FuzzKnativeService feeds arbitrary bodies to the Cloud Run API's decoding, validation
// and defaults, and the runtime's readings of a valid service: none may panic, and a
// valid service stays valid with defaults applied.
func FuzzKnativeService(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"a"},"spec":{"template":{"metadata":{"annotations":{"autoscaling.knative.dev/minScale":"1","autoscaling.knative.dev/maxScale":"3"}},"spec":{"containerConcurrency":1,"containers":[{"image":"i","ports":[{"name":"h2c"}]}]}},"traffic":[{"latestRevision":true,"percent":90},{"revisionName":"a-1","percent":10,"tag":"t"}]}}`))
	f.Add([]byte(`{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"a"},"spec":{"template":{"spec":{"containers":[]}}}}`))
	f.Add([]byte(`{"spec":{"traffic":[{"percent":-1}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var svc api.KnativeService
		if decodeStrict(body, &svc, "service") != nil || svc.Validate() != nil {
			return
		}
		svc.SetDefaults()
		if err := svc.Validate(); err != nil {
			t.Fatalf("defaults made a valid service invalid: %v", err)
		}
		lo, hi := api.Scale(svc.Spec.Template.Metadata.Annotations)
		if lo < 0 || hi < lo {
			t.Fatalf("scale %d..%d", lo, hi)
		}
		total := int64(0)
		for _, tr := range api.ResolveTraffic(svc.Spec.Traffic, "latest") {
			total += tr.Percent
		}
		if total != 100 {
			t.Fatalf("resolved traffic sums to %d", total)
		}
	})
}

// FuzzPatchRule: patchRule's body and updateMask, from a client, merged into a stored
// rule never panic; what comes out is a rule the checks then judge.
func FuzzPatchRule(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"priority":1000,"rateLimitOptions":{"rateLimitThreshold":{"count":20}}}`, ""},
		{`{"priority":null,"description":"x"}`, "priority"},
		{`{"action":"deny(403)"}`, "redirect_options,rate_limit_options"},
		{`{"match":{"expr":{"expression":"true"}}}`, "rate_limit_options.exceed_redirect_options"},
		{`{"rateLimitOptions":null}`, "a.b.c,,"},
		{`{"x":1}`, "_"},
	} {
		f.Add([]byte(seed[0]), seed[1])
	}
	f.Fuzz(func(t *testing.T, body []byte, mask string) {
		var patch map[string]json.RawMessage
		if json.Unmarshal(body, &patch) != nil {
			return
		}
		cur := api.SecurityPolicyRule{Priority: 1000, Action: "throttle", Description: "d",
			Match: &api.SecurityPolicyRuleMatcher{Expr: &api.SecurityPolicyExpr{Expression: "request.path == '/'"}},
			RateLimitOptions: &api.RateLimitOptions{RateLimitThreshold: &api.RateLimitThreshold{Count: 10, IntervalSec: 60},
				ConformAction: "allow", ExceedAction: "deny(429)", EnforceOnKey: "IP"}}
		next, err := patchRule(&cur, patch, mask)
		if err != nil {
			return
		}
		checkRule(next, "resource")
	})
}
