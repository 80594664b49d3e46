package controlplane

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSecurityPolicyRules(t *testing.T) {
	c := newTestServer(t, Config{})
	sp := g + "securityPolicies/"
	op := c.must("POST", g+"securityPolicies", `{"name":"edge-policy","description":"refuses bad traffic"}`)
	if op["operationType"] != "insert" || op["status"] != "DONE" {
		t.Fatalf("insert: %v", op)
	}
	p := c.must("GET", sp+"edge-policy", nil)
	rules := p["rules"].([]any)
	if p["type"] != "CLOUD_ARMOR" || p["kind"] != "compute#securityPolicy" || p["fingerprint"] == "" || len(rules) != 1 {
		t.Fatalf("policy: %v", p)
	}
	def := rules[0].(map[string]any)
	if def["priority"] != float64(2147483647) || def["action"] != "allow" || def["description"] != "default rule" ||
		def["match"].(map[string]any)["config"].(map[string]any)["srcIpRanges"].([]any)[0] != "*" {
		t.Errorf("default rule: %v", def)
	}

	// addRule, as gcloud's rules create sends it
	op = c.must("POST", sp+"edge-policy/addRule", `{"action":"deny(403)","description":"admin","priority":1000,
		"match":{"expr":{"expression":"request.path.startsWith('/admin/')"}}}`)
	if op["operationType"] != "AddRule" {
		t.Errorf("addRule operation: %v", op)
	}
	c.must("POST", sp+"edge-policy/addRule", `{"action":"deny(404)","priority":900,
		"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["198.51.100.7"]}}}`)
	msg := c.wantError("POST", sp+"edge-policy/addRule", `{"action":"allow","priority":1000,
		"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}`, 400, "invalid")
	if msg != "Invalid value for field 'resource.priority': '1000'. Cannot have rules with the same priorities." {
		t.Errorf("duplicate priority: %q", msg)
	}
	msg = c.wantError("POST", sp+"edge-policy/addRule", `{"action":"deny(403)","priority":1100,
		"match":{"expr":{"expression":"request.path.startsWith('/admin/'"}}}`, 400, "invalid")
	if !strings.HasPrefix(msg, "Invalid value for field 'resource.match.expr': 'request.path.startsWith('/admin/''. Error parsing Cloud Armor rule matcher expression: ") {
		t.Errorf("malformed expression: %q", msg)
	}
	for body, want := range map[string]string{
		`{"action":"deny(451)","priority":5,"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}`:                                                                                            "resource.action",
		`{"action":"allow","priority":5,"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["10.0.0.0/33"]}}}`:                                                                                      "resource.match.config.srcIpRanges[0]",
		`{"action":"throttle","priority":5,"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}`:                                                                                             "Rate limit options must be specified",
		`{"action":"allow","priority":5,"match":{"expr":{"expression":"true"},"versionedExpr":"SRC_IPS_V1"}}`:                                                                                                  "either an expression",
		`{"action":"throttle","priority":5,"match":{"expr":{"expression":"true"}},"rateLimitOptions":{"rateLimitThreshold":{"count":10,"intervalSec":45},"conformAction":"allow","exceedAction":"deny(429)"}}`: "resource.rateLimitOptions.rateLimitThreshold.intervalSec",
		`{"action":"allow","priority":5,"match":{"expr":{"expression":"request.foo == 'x'"}}}`:                                                                                                                 "undeclared reference",
		`{"action":"allow","priority":5,"match":{"expr":{"expression":"true"}},"bogus":1}`:                                                                                                                     "bogus",
	} {
		if msg := c.wantError("POST", sp+"edge-policy/addRule", body, 400, "invalid"); !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want it to mention %q", body, msg, want)
		}
	}

	if msg := c.wantError("POST", sp+"edge-policy/addRule", `{"action":"allow","priority":5,"match":{"expr":{"expression":"true"}},
		"headerAction":{"requestHeadersToAdds":[{"headerName":"X-A","headerValue":"a\r\nX-B: b"}]}}`, 400, "invalid"); !strings.Contains(msg, "headerValue") {
		t.Errorf("a header value with a line break: %q", msg)
	}
	// getRule; rules come back sorted by priority
	r := c.must("GET", sp+"edge-policy/getRule?priority=1000", nil)
	if r["action"] != "deny(403)" || r["kind"] != "compute#securityPolicyRule" {
		t.Errorf("getRule: %v", r)
	}
	c.wantError("GET", sp+"edge-policy/getRule?priority=7", nil, 400, "invalid")
	var prios []float64
	for _, r := range c.must("GET", sp+"edge-policy", nil)["rules"].([]any) {
		prios = append(prios, r.(map[string]any)["priority"].(float64))
	}
	if len(prios) != 3 || prios[0] != 900 || prios[1] != 1000 || prios[2] != 2147483647 {
		t.Errorf("priorities %v", prios)
	}

	// patchRule: a throttle replaces the deny; updateMask clears what the body leaves out
	op = c.must("POST", sp+"edge-policy/patchRule?priority=1000&updateMask=redirect_options", `{"priority":1000,"action":"throttle",
		"rateLimitOptions":{"rateLimitThreshold":{"count":10,"intervalSec":60},"conformAction":"allow","exceedAction":"deny(429)","enforceOnKey":"IP"}}`)
	if op["operationType"] != "PatchRule" {
		t.Errorf("patchRule operation: %v", op)
	}
	r = c.must("GET", sp+"edge-policy/getRule?priority=1000", nil)
	if r["action"] != "throttle" || r["description"] != "admin" || r["match"].(map[string]any)["expr"] == nil {
		t.Errorf("patched rule: %v", r)
	}
	c.must("POST", sp+"edge-policy/patchRule?priority=1000&updateMask=description", `{"priority":1000,"preview":true}`)
	r = c.must("GET", sp+"edge-policy/getRule?priority=1000", nil)
	if r["description"] != nil || r["preview"] != true || r["action"] != "throttle" {
		t.Errorf("after updateMask=description: %v", r)
	}
	c.wantError("POST", sp+"edge-policy/patchRule?priority=1000", `{"priority":900}`, 400, "invalid")
	// gcloud sends only the flags given: objects merge, the rest of the rule stays
	c.must("POST", sp+"edge-policy/patchRule?priority=1000", `{"priority":1000,"rateLimitOptions":{"rateLimitThreshold":{"count":20}}}`)
	r = c.must("GET", sp+"edge-policy/getRule?priority=1000", nil)
	if th := r["rateLimitOptions"].(map[string]any)["rateLimitThreshold"].(map[string]any); th["count"] != float64(20) || th["intervalSec"] != float64(60) {
		t.Errorf("after a partial rateLimitOptions: %v", r["rateLimitOptions"])
	}
	// a missing or null priority, or updateMask=priority, leaves the rule where it is
	c.must("POST", sp+"edge-policy/patchRule?priority=1000&updateMask=priority", `{"priority":null,"description":"stays"}`)
	if r := c.must("GET", sp+"edge-policy/getRule?priority=1000", nil); r["description"] != "stays" {
		t.Errorf("after a null priority: %v", r)
	}
	c.must("POST", sp+"edge-policy/addRule", `{"action":"rate_based_ban","priority":1300,"match":{"expr":{"expression":"true"}},
		"rateLimitOptions":{"rateLimitThreshold":{"count":10,"intervalSec":60},"conformAction":"allow","exceedAction":"deny(403)","banDurationSec":600}}`)
	c.wantError("POST", sp+"edge-policy/patchRule?priority=1300", `{"action":"throttle","rateLimitOptions":{"banDurationSec":null}}`, 400, "invalid")
	c.must("POST", sp+"edge-policy/removeRule?priority=1300", nil)
	// the default rule does not move
	c.wantError("POST", sp+"edge-policy/patchRule?priority=2147483647", `{"priority":7}`, 400, "invalid")
	c.wantError("POST", sp+"edge-policy/addRule", `{"action":"allow","priority":5,"description":"`+strings.Repeat("d", 65)+`",
		"match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}`, 400, "invalid")
	c.wantError("POST", sp+"edge-policy/patchRule?priority=1000", `{"match":{"expr":{"expression":"request.path.matches('(')"}}}`, 400, "invalid")

	// removeRule; the default rule stays
	if op := c.must("POST", sp+"edge-policy/removeRule?priority=900", nil); op["operationType"] != "RemoveRule" {
		t.Errorf("removeRule: %v", op)
	}
	c.wantError("POST", sp+"edge-policy/removeRule?priority=900", nil, 400, "invalid")
	c.wantError("POST", sp+"edge-policy/removeRule?priority=2147483647", nil, 400, "invalid")
	// the default rule's action can change; its match cannot
	c.must("POST", sp+"edge-policy/patchRule?priority=2147483647", `{"action":"deny(404)"}`)
	c.wantError("POST", sp+"edge-policy/patchRule?priority=2147483647", `{"match":{"expr":{"expression":"true"}}}`, 400, "invalid")

	// insert with rules: checked the same way, field names in the policy
	msg = c.wantError("POST", g+"securityPolicies", `{"name":"bad","rules":[{"priority":1,"action":"allow","match":{"expr":{"expression":"origin.ip =="}}}]}`, 400, "invalid")
	if !strings.Contains(msg, "'resource.rules[0].match.expr'") {
		t.Errorf("insert with a bad expression: %q", msg)
	}
	// patch replaces the rule set (gcloud's import)
	p = c.must("GET", sp+"edge-policy", nil)
	body, _ := json.Marshal(map[string]any{"fingerprint": p["fingerprint"], "rules": []any{
		map[string]any{"priority": 5, "action": "deny(502)", "match": map[string]any{"expr": map[string]any{"expression": "request.method == 'TRACE'"}}},
		map[string]any{"priority": 2147483647, "action": "allow", "match": map[string]any{"versionedExpr": "SRC_IPS_V1", "config": map[string]any{"srcIpRanges": []string{"*"}}}},
	}})
	c.must("PATCH", sp+"edge-policy", string(body))
	if n := len(c.must("GET", sp+"edge-policy", nil)["rules"].([]any)); n != 2 {
		t.Errorf("after patch, %d rules", n)
	}
}

func TestBackendServiceSecurityPolicy(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	c.must("POST", g+"securityPolicies", `{"name":"edge-policy"}`)
	op := c.must("POST", g+"backendServices/cloudrun-backend/setSecurityPolicy",
		`{"securityPolicy":"https://compute.googleapis.com/compute/v1/projects/p/global/securityPolicies/edge-policy"}`)
	if op["operationType"] != "setSecurityPolicy" {
		t.Errorf("setSecurityPolicy: %v", op)
	}
	bs := c.must("GET", g+"backendServices/cloudrun-backend", nil)
	if !strings.HasSuffix(bs["securityPolicy"].(string), "/projects/p/global/securityPolicies/edge-policy") {
		t.Errorf("securityPolicy %v", bs["securityPolicy"])
	}
	msg := c.wantError("DELETE", g+"securityPolicies/edge-policy", nil, 400, "resourceInUseByAnotherResource")
	if msg != "The security_policy resource 'projects/p/global/securityPolicies/edge-policy' is already being used by 'projects/p/global/backendServices/cloudrun-backend'" {
		t.Errorf("delete in use: %q", msg)
	}
	c.wantError("POST", g+"backendServices/cloudrun-backend/setSecurityPolicy", `{"securityPolicy":"global/securityPolicies/none"}`, 404, "notFound")
	// {} detaches it (gcloud's --security-policy="")
	c.must("POST", g+"backendServices/cloudrun-backend/setSecurityPolicy", `{}`)
	if bs := c.must("GET", g+"backendServices/cloudrun-backend", nil); bs["securityPolicy"] != nil {
		t.Errorf("after detaching: %v", bs["securityPolicy"])
	}
	c.must("DELETE", g+"securityPolicies/edge-policy", nil)
}
