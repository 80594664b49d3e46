package controlplane

import (
	"strings"
	"testing"
)

// seedResources creates the seed's load balancer through the API, as gcloud would.
func seedResources(c *client) {
	c.must("POST", uc+"networkEndpointGroups", `{"name":"cloudrun-neg","networkEndpointType":"SERVERLESS","cloudRun":{"service":"my-global-app"}}`)
	c.must("POST", g+"backendServices", `{"name":"cloudrun-backend","loadBalancingScheme":"EXTERNAL_MANAGED","enableCDN":true}`)
	bs := c.must("GET", g+"backendServices/cloudrun-backend", nil)
	c.must("PATCH", g+"backendServices/cloudrun-backend", map[string]any{
		"fingerprint": bs["fingerprint"],
		"backends":    []any{map[string]any{"group": "https://www.googleapis.com/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/cloudrun-neg"}},
	})
	c.must("POST", g+"urlMaps", `{"name":"cloudrun-url-map","defaultService":"projects/p/global/backendServices/cloudrun-backend"}`)
	c.must("POST", g+"sslCertificates", `{"name":"my-ssl-cert","type":"MANAGED","managed":{"domains":["your-domain.com"]}}`)
	c.must("POST", g+"targetHttpsProxies", `{"name":"https-proxy","urlMap":"global/urlMaps/cloudrun-url-map","sslCertificates":["global/sslCertificates/my-ssl-cert"]}`)
	c.must("POST", g+"addresses", `{"name":"global-ip"}`)
	ip := c.must("GET", g+"addresses/global-ip", nil)["address"].(string)
	c.must("POST", g+"forwardingRules", `{"name":"https-forwarding-rule","IPAddress":"`+ip+`","target":"global/targetHttpsProxies/https-proxy","portRange":"443","loadBalancingScheme":"EXTERNAL_MANAGED"}`)
}

func TestSeedSequenceThroughAPI(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	bs := c.must("GET", g+"backendServices/cloudrun-backend", nil)
	cdn := bs["cdnPolicy"].(map[string]any)
	if cdn["cacheMode"] != "CACHE_ALL_STATIC" || cdn["defaultTtl"] != float64(3600) || cdn["maxTtl"] != float64(86400) || cdn["signedUrlCacheMaxAgeSec"] != "3600" {
		t.Errorf("cdnPolicy defaults: %v", cdn)
	}
	group := bs["backends"].([]any)[0].(map[string]any)["group"].(string)
	if group != c.srv.URL+"/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/cloudrun-neg" {
		t.Errorf("group rendered as %q", group)
	}
	if used := bs["usedBy"].([]any); len(used) != 1 || !strings.HasSuffix(used[0].(map[string]any)["reference"].(string), "/urlMaps/cloudrun-url-map") {
		t.Errorf("usedBy = %v", used)
	}
	addr := c.must("GET", g+"addresses/global-ip", nil)
	if addr["status"] != "IN_USE" || addr["address"] != "127.0.10.1" || len(addr["users"].([]any)) != 1 {
		t.Errorf("address = %v", addr)
	}
	fr := c.must("GET", g+"forwardingRules/https-forwarding-rule", nil)
	if fr["portRange"] != "443-443" || fr["IPAddress"] != "127.0.10.1" || fr["kind"] != "compute#forwardingRule" {
		t.Errorf("forwarding rule = %v", fr)
	}
	cert := c.must("GET", g+"sslCertificates/my-ssl-cert", nil)
	if cert["managed"].(map[string]any)["status"] != "PROVISIONING" {
		t.Errorf("certificate = %v", cert)
	}
}

func TestInsertErrors(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason, message          string
	}{
		{"duplicate", "POST", g + "backendServices", `{"name":"cloudrun-backend"}`, 409, "alreadyExists", "The resource 'projects/p/global/backendServices/cloudrun-backend' already exists"},
		{"bad name", "POST", g + "backendServices", `{"name":"Bad_Name"}`, 400, "invalid", "Invalid value for field 'resource.name': 'Bad_Name'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"},
		{"no name", "POST", g + "urlMaps", `{"defaultService":"x"}`, 400, "required", "Required field 'resource.name' not specified"},
		{"unknown field", "POST", g + "urlMaps", `{"name":"u","defaultServic":"x"}`, 400, "invalid", `Invalid JSON payload received. Unknown name "defaultServic" at 'resource': Cannot find field.`},
		{"bad json", "POST", g + "urlMaps", `{"name":`, 400, "invalid", ""},
		{"wrong type", "POST", g + "backendServices", `{"name":"b","timeoutSec":"x"}`, 400, "invalid", ""},
		{"missing reference", "POST", g + "urlMaps", `{"name":"u","defaultService":"global/backendServices/nope"}`, 404, "notFound", "The resource 'projects/p/global/backendServices/nope' was not found"},
		{"wrong collection", "POST", g + "urlMaps", `{"name":"u","defaultService":"global/urlMaps/cloudrun-url-map"}`, 400, "invalid", ""},
		{"serverless NEG global", "POST", g + "networkEndpointGroups", `{"name":"n","networkEndpointType":"SERVERLESS","cloudRun":{"service":"s"}}`, 400, "invalid", ""},
		{"ttl over max", "POST", g + "backendServices", `{"name":"b","enableCDN":true,"cdnPolicy":{"defaultTtl":90000,"maxTtl":86400}}`, 400, "invalid", "Invalid value for field 'resource.cdnPolicy.defaultTtl': '90000'. Must be less than or equal to maxTtl (86400)."},
		{"origin headers with ttl", "POST", g + "backendServices", `{"name":"b","cdnPolicy":{"cacheMode":"USE_ORIGIN_HEADERS","defaultTtl":60}}`, 400, "invalid", ""},
		{"negative caching code", "POST", g + "backendServices", `{"name":"b","cdnPolicy":{"negativeCaching":true,"negativeCachingPolicy":[{"code":200,"ttl":60}]}}`, 400, "invalid", ""},
		{"address in use", "POST", g + "addresses", `{"name":"other","address":"127.0.10.1"}`, 400, "ipInUseByAnotherResource", ""},
		{"duplicate forwarding rule", "POST", g + "forwardingRules", `{"name":"https-forwarding-rule","IPAddress":"127.0.10.1","target":"global/targetHttpsProxies/https-proxy","portRange":"443"}`, 409, "alreadyExists", "The resource 'projects/p/global/forwardingRules/https-forwarding-rule' already exists"},
		{"port taken", "POST", g + "forwardingRules", `{"name":"fr2","IPAddress":"127.0.10.1","target":"global/targetHttpsProxies/https-proxy","portRange":"443"}`, 400, "ipInUseByAnotherResource", ""},
		{"proxy without certs", "POST", g + "targetHttpsProxies", `{"name":"p2","urlMap":"global/urlMaps/cloudrun-url-map"}`, 400, "required", "Required field 'resource.sslCertificates' not specified"},
		{"unknown collection", "GET", g + "instances", ``, 404, "notFound", ""},
		{"bad cert", "POST", g + "sslCertificates", `{"name":"c","certificate":"nope","privateKey":"nope"}`, 400, "invalid", ""},
		{"unsupported SSL profile", "POST", g + "sslPolicies", `{"name":"sp","profile":"STRICT"}`, 400, "invalid", "Invalid value for field 'resource.profile': 'STRICT'. Must be one of [COMPATIBLE, MODERN, RESTRICTED, CUSTOM]."},
		{"unknown SSL feature", "POST", g + "sslPolicies", `{"name":"sp","profile":"CUSTOM","customFeatures":["TLS_RSA_WITH_RC4_128_SHA"]}`, 400, "invalid", ""},
		{"custom features without CUSTOM", "POST", g + "sslPolicies", `{"name":"sp","profile":"MODERN","customFeatures":["TLS_RSA_WITH_AES_128_CBC_SHA"]}`, 400, "invalid", ""},
		{"CUSTOM without features", "POST", g + "sslPolicies", `{"name":"sp","profile":"CUSTOM"}`, 400, "invalid", ""},
		{"unknown TLS version", "POST", g + "sslPolicies", `{"name":"sp","minTlsVersion":"TLS_1_4"}`, 400, "invalid", ""},
		{"missing SSL policy", "POST", "/compute/v1/projects/p/global/targetHttpsProxies/https-proxy/setSslPolicy", `{"sslPolicy":"global/sslPolicies/nope"}`, 404, "notFound", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			msg := c.wantError(tc.method, tc.path, body, tc.code, tc.reason)
			if tc.message != "" && msg != tc.message {
				t.Errorf("message\n got %q\nwant %q", msg, tc.message)
			}
		})
	}
}

func TestDeleteInUse(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	msg := c.wantError("DELETE", g+"backendServices/cloudrun-backend", nil, 400, "resourceInUseByAnotherResource")
	if msg != "The backend_service resource 'projects/p/global/backendServices/cloudrun-backend' is already being used by 'projects/p/global/urlMaps/cloudrun-url-map'" {
		t.Errorf("message %q", msg)
	}
	c.wantError("DELETE", g+"addresses/global-ip", nil, 400, "resourceInUseByAnotherResource")
	// Delete in dependency order; each succeeds once nothing uses it.
	for _, p := range []string{g + "forwardingRules/https-forwarding-rule", g + "addresses/global-ip", g + "targetHttpsProxies/https-proxy",
		g + "sslCertificates/my-ssl-cert", g + "urlMaps/cloudrun-url-map", g + "backendServices/cloudrun-backend", uc + "networkEndpointGroups/cloudrun-neg"} {
		op := c.must("DELETE", p, nil)
		if op["status"] != "DONE" || op["operationType"] != "delete" {
			t.Errorf("delete %s: %v", p, op)
		}
		c.wantError("GET", p, nil, 404, "notFound")
	}
	// The address was released with it: a new one gets the same IP.
	c.must("POST", g+"addresses", `{"name":"again"}`)
	if ip := c.must("GET", g+"addresses/again", nil)["address"]; ip != "127.0.10.1" {
		t.Errorf("reallocated %v", ip)
	}
}

func TestFingerprintAndPatch(t *testing.T) {
	c := newTestServer(t, Config{})
	seedResources(c)
	um := c.must("GET", g+"urlMaps/cloudrun-url-map", nil)
	old := um["fingerprint"].(string)
	c.must("PATCH", g+"urlMaps/cloudrun-url-map", map[string]any{"fingerprint": old, "description": "patched"})
	um2 := c.must("GET", g+"urlMaps/cloudrun-url-map", nil)
	if um2["description"] != "patched" || um2["fingerprint"] == old || um2["defaultService"] != um["defaultService"] || um2["id"] != um["id"] {
		t.Errorf("after patch: %v", um2)
	}
	c.wantError("PATCH", g+"urlMaps/cloudrun-url-map", map[string]any{"fingerprint": old, "description": "stale"}, 412, "conditionNotMet")
	// PUT replaces: a map without the description loses it.
	um2["description"] = nil
	delete(um2, "description")
	c.must("PUT", g+"urlMaps/cloudrun-url-map", um2)
	if d, ok := c.must("GET", g+"urlMaps/cloudrun-url-map", nil)["description"]; ok {
		t.Errorf("description survived PUT: %v", d)
	}
	c.wantError("PATCH", g+"sslCertificates/my-ssl-cert", `{}`, 405, "httpMethodNotAllowed")
}

func TestListFilterAndPaging(t *testing.T) {
	c := newTestServer(t, Config{})
	for _, n := range []string{"hc-a", "hc-b", "hc-c", "other"} {
		c.must("POST", g+"healthChecks", `{"name":"`+n+`","type":"HTTP","httpHealthCheck":{"port":8080}}`)
	}
	names := func(out map[string]any) []string {
		var ns []string
		items, _ := out["items"].([]any)
		for _, it := range items {
			ns = append(ns, it.(map[string]any)["name"].(string))
		}
		return ns
	}
	all := c.must("GET", g+"healthChecks", nil)
	if got := strings.Join(names(all), ","); got != "hc-a,hc-b,hc-c,other" || all["kind"] != "compute#healthCheckList" {
		t.Errorf("list = %s %v", got, all["kind"])
	}
	if got := strings.Join(names(c.must("GET", g+"healthChecks?filter=name%3Dother", nil)), ","); got != "other" {
		t.Errorf("filter name=other: %s", got)
	}
	if got := strings.Join(names(c.must("GET", g+"healthChecks?filter=name+eq+hc-.*", nil)), ","); got != "hc-a,hc-b,hc-c" {
		t.Errorf("filter eq: %s", got)
	}
	page1 := c.must("GET", g+"healthChecks?maxResults=3", nil)
	page2 := c.must("GET", g+"healthChecks?maxResults=3&pageToken="+page1["nextPageToken"].(string), nil)
	if strings.Join(names(page1), ",") != "hc-a,hc-b,hc-c" || strings.Join(names(page2), ",") != "other" || page2["nextPageToken"] != nil {
		t.Errorf("pages %v / %v", page1, page2)
	}
	c.wantError("GET", g+"healthChecks?filter=name+%3D", nil, 400, "invalid")
}

func TestOperationsGetAndWait(t *testing.T) {
	c := newTestServer(t, Config{})
	op := c.must("POST", uc+"networkEndpointGroups?requestId=r-1", `{"name":"neg","networkEndpointType":"SERVERLESS","cloudRun":{"service":"s"}}`)
	if op["status"] != "DONE" || op["clientOperationId"] != "r-1" || !strings.HasSuffix(op["targetLink"].(string), "/regions/us-central1/networkEndpointGroups/neg") {
		t.Fatalf("op = %v", op)
	}
	name := op["name"].(string)
	if got := c.must("GET", uc+"operations/"+name, nil); got["id"] != op["id"] {
		t.Errorf("get op = %v", got)
	}
	if got := c.must("POST", uc+"operations/"+name+"/wait", nil); got["status"] != "DONE" {
		t.Errorf("wait op = %v", got)
	}
	c.wantError("GET", g+"operations/"+name, nil, 404, "notFound")
}

func TestNetworkEndpoints(t *testing.T) {
	c := newTestServer(t, Config{})
	c.must("POST", g+"networkEndpointGroups", `{"name":"origin","networkEndpointType":"INTERNET_FQDN_PORT"}`)
	c.must("POST", g+"networkEndpointGroups/origin/attachNetworkEndpoints", `{"networkEndpoints":[{"fqdn":"example.com","port":443}]}`)
	c.wantError("POST", g+"networkEndpointGroups/origin/attachNetworkEndpoints", `{"networkEndpoints":[{"fqdn":"example.com","port":443}]}`, 400, "invalid")
	c.wantError("POST", g+"networkEndpointGroups/origin/attachNetworkEndpoints", `{"networkEndpoints":[{"ipAddress":"1.2.3.4"}]}`, 400, "required")
	neg := c.must("GET", g+"networkEndpointGroups/origin", nil)
	if neg["size"] != float64(1) || neg["meridianNetworkEndpoints"] != nil {
		t.Errorf("neg = %v", neg)
	}
	list := c.must("POST", g+"networkEndpointGroups/origin/listNetworkEndpoints", nil)
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["networkEndpoint"].(map[string]any)["fqdn"] != "example.com" {
		t.Errorf("list = %v", list)
	}
	c.must("POST", g+"networkEndpointGroups/origin/detachNetworkEndpoints", `{"networkEndpoints":[{"fqdn":"example.com","port":443}]}`)
	if neg := c.must("GET", g+"networkEndpointGroups/origin", nil); neg["size"] != nil {
		t.Errorf("size after detach = %v", neg["size"])
	}
	c.wantError("POST", g+"networkEndpointGroups", `{"name":"x","networkEndpointType":"INTERNET_IP_PORT","meridianNetworkEndpoints":[{"ipAddress":"1.2.3.4"}]}`, 400, "invalid")
}

func TestTokenRequired(t *testing.T) {
	c := newTestServer(t, Config{Token: "s3cret"})
	c.wantError("POST", g+"addresses", `{"name":"a"}`, 401, "required")
	c.wantError("GET", g+"addresses", nil, 401, "required")
}

// TestURLMapTests runs a URL map's tests[] on insert, update and validate, as GCP does.
func TestURLMapTests(t *testing.T) {
	c := newTestServer(t, Config{})
	c.must("POST", g+"backendServices", `{"name":"web"}`)
	c.must("POST", g+"backendServices", `{"name":"video"}`)
	good := `{"name":"m","defaultService":"global/backendServices/web",
"hostRules":[{"hosts":["example.com"],"pathMatcher":"pm"}],
"pathMatchers":[{"name":"pm","defaultService":"global/backendServices/web","pathRules":[{"paths":["/videos/*"],"service":"global/backendServices/video"}]}],
"tests":[{"host":"example.com","path":"/videos/a","service":"global/backendServices/video"},{"host":"example.com","path":"/","service":"global/backendServices/web"}]}`
	bad := strings.Replace(good, `"path":"/","service":"global/backendServices/web"`, `"path":"/","service":"global/backendServices/video"`, 1)
	msg := c.wantError("POST", g+"urlMaps", bad, 400, "invalid")
	if !strings.Contains(msg, "expected service 'projects/p/global/backendServices/video' but got 'projects/p/global/backendServices/web'") {
		t.Errorf("message %q", msg)
	}
	c.must("POST", g+"urlMaps", good)
	res := c.must("POST", g+"urlMaps/m/validate", `{"resource":`+bad+`}`)["result"].(map[string]any)
	if res["loadSucceeded"] != true || res["testPassed"] != false || len(res["testFailures"].([]any)) != 1 {
		t.Errorf("validate bad: %v", res)
	}
	res = c.must("POST", g+"urlMaps/m/validate", `{"resource":`+good+`}`)["result"].(map[string]any)
	if res["loadSucceeded"] != true || res["testPassed"] != true {
		t.Errorf("validate good: %v", res)
	}
	// An update that breaks a test is refused and the map is unchanged.
	um := c.must("GET", g+"urlMaps/m", nil)
	c.wantError("PATCH", g+"urlMaps/m", map[string]any{"fingerprint": um["fingerprint"], "pathMatchers": []any{map[string]any{"name": "pm", "defaultService": "global/backendServices/web"}}}, 400, "invalid")
	if got := c.must("GET", g+"urlMaps/m", nil); got["fingerprint"] != um["fingerprint"] {
		t.Error("the map changed although its tests failed")
	}
}
