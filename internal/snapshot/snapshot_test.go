package snapshot

import (
	"encoding/json"
	"strings"
	"testing"

	"meridian/api"
)

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// resources is a small deployment: two forwarding rules, one HTTPS with a bad
// certificate, one HTTP; an internet NEG and a serverless NEG.
func resources() map[string][]byte {
	const g = "projects/p/global/"
	return map[string][]byte{
		g + "networkEndpointGroups/origin": mustJSON(api.NetworkEndpointGroup{Meta: api.Meta{Name: "origin"}, NetworkEndpointType: api.NEGInternetFQDNPort,
			Endpoints: []api.NetworkEndpoint{{Fqdn: "origin.example", Port: 8080}}}),
		"projects/p/regions/us-central1/networkEndpointGroups/run": mustJSON(api.NetworkEndpointGroup{Meta: api.Meta{Name: "run"}, NetworkEndpointType: api.NEGServerless,
			CloudRun: &api.NEGCloudRun{Service: "app"}, Region: "projects/p/regions/us-central1"}),
		g + "backendServices/web": mustJSON(api.BackendService{Meta: api.Meta{Name: "web"}, Backends: []api.Backend{
			{Group: g + "networkEndpointGroups/origin"}, {Group: "projects/p/regions/us-central1/networkEndpointGroups/run"}}}),
		g + "urlMaps/m":                    mustJSON(api.UrlMap{Meta: api.Meta{Name: "m"}, DefaultService: g + "backendServices/web"}),
		g + "sslCertificates/bad":          mustJSON(api.SslCertificate{Meta: api.Meta{Name: "bad"}, Type: api.CertSelfManaged, Certificate: "junk", PrivateKey: "junk"}),
		g + "sslCertificates/pending":      mustJSON(api.SslCertificate{Meta: api.Meta{Name: "pending"}, Type: api.CertManaged, Managed: &api.ManagedSslCert{Domains: []string{"a.example"}, Status: "PROVISIONING"}}),
		g + "targetHttpsProxies/s":         mustJSON(api.TargetHttpsProxy{Meta: api.Meta{Name: "s"}, URLMap: g + "urlMaps/m", SslCertificates: []string{g + "sslCertificates/bad", g + "sslCertificates/pending"}}),
		g + "targetHttpProxies/h":          mustJSON(api.TargetHttpProxy{Meta: api.Meta{Name: "h"}, URLMap: g + "urlMaps/m", HTTPKeepAliveTimeoutSec: 30}),
		g + "forwardingRules/https":        mustJSON(api.ForwardingRule{Meta: api.Meta{Name: "https"}, IPAddress: "127.0.10.1", PortRange: "443-443", Target: g + "targetHttpsProxies/s"}),
		g + "forwardingRules/http":         mustJSON(api.ForwardingRule{Meta: api.Meta{Name: "http"}, IPAddress: "127.0.10.1", PortRange: "80-80", Target: g + "targetHttpProxies/h"}),
		g + "forwardingRules/dangling":     mustJSON(api.ForwardingRule{Meta: api.Meta{Name: "dangling"}, IPAddress: "127.0.10.2", PortRange: "80-80", Target: g + "targetHttpProxies/gone"}),
		g + "forwardingRules/same-address": mustJSON(api.ForwardingRule{Meta: api.Meta{Name: "same-address"}, IPAddress: "127.0.10.1", PortRange: "80-80", Target: g + "targetHttpProxies/h"}),
	}
}

func TestCompileIsolatesProblems(t *testing.T) {
	snap := Compile(7, resources(), ServiceEndpoints{"us-central1/p/app": {URL: "http://127.0.0.1:9"}, "europe-west1/p/app": {URL: "http://127.0.0.1:8"}})
	if len(snap.Listeners) != 2 {
		t.Fatalf("listeners %v", snap.Listeners)
	}
	// The HTTPS rule has no usable certificate: it is served (an ACME server validates
	// on it) with none, and every other handshake fails.
	if l := snap.Listeners["127.0.10.1:443"]; l == nil || !l.HTTPS || len(l.Certificates) != 0 {
		t.Fatalf("https listener %+v", l)
	}
	l := snap.Listeners["127.0.10.1:80"]
	if l == nil || l.HTTPS || l.KeepAlive.Seconds() != 30 || l.URLMap != "projects/p/global/urlMaps/m" {
		t.Fatalf("http listener %+v", l)
	}
	// The dangling rule has no proxy, and the second rule on 127.0.10.1:80 collides;
	// each is reported and only it is dropped.
	problems := strings.Join(snap.Problems, "\n")
	for _, want := range []string{"no usable certificate yet, handshakes fail: bad (", "pending (not issued yet)",
		"forwardingRules/dangling is not served: projects/p/global/targetHttpProxies/gone does not exist",
		"is already served by"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	svc := snap.Services["projects/p/global/backendServices/web"]
	if svc == nil || len(svc.Backends) != 2 || svc.Backends[0].Endpoints[0].Fqdn != "origin.example" || svc.Backends[1].Region != "us-central1" || svc.Backends[1].CloudRun.Service != "app" || len(svc.Backends[1].Services) != 1 || svc.Backends[1].Services["app"].URL != "http://127.0.0.1:9" {
		t.Fatalf("backend service %+v", svc)
	}
	if res := l.Router.Match(routerRequest("/x")); res.Service != "projects/p/global/backendServices/web" {
		t.Errorf("route %+v", res)
	}
}

func TestServerlessTarget(t *testing.T) {
	services := map[string]ServiceEndpoint{
		"app":  {URL: "http://127.0.0.1:1", Tags: map[string]string{"green": "http://127.0.0.1:2"}},
		"shop": {URL: "http://127.0.0.1:3"},
	}
	for _, tc := range []struct {
		run        api.NEGCloudRun
		host, path string
		want       string
	}{
		{api.NEGCloudRun{Service: "app"}, "x", "/", "http://127.0.0.1:1"},
		{api.NEGCloudRun{Service: "app", Tag: "green"}, "x", "/", "http://127.0.0.1:2"},
		{api.NEGCloudRun{Service: "app", Tag: "blue"}, "x", "/", ""},
		{api.NEGCloudRun{Service: "gone"}, "x", "/", ""},
		{api.NEGCloudRun{URLMask: "example.com/<service>"}, "example.com", "/shop/cart", "http://127.0.0.1:3"},
		{api.NEGCloudRun{URLMask: "<tag>.example.com/<service>"}, "green.example.com", "/app", "http://127.0.0.1:2"},
		{api.NEGCloudRun{URLMask: "example.com/<service>"}, "other.com", "/shop", ""},
		{api.NEGCloudRun{Service: "app", URLMask: "<tag>.example.com"}, "green.example.com", "/", "http://127.0.0.1:2"},
	} {
		run := tc.run
		b := Backend{CloudRun: &run, Region: "r", Services: services}
		got, ok, why := b.ServerlessTarget(tc.host, tc.path)
		if got != tc.want || ok != (tc.want != "") || (!ok && why == "") {
			t.Errorf("%+v %s%s: %q %v %q, want %q", tc.run, tc.host, tc.path, got, ok, why, tc.want)
		}
	}
}

// TestLogPolicy: GCP's logConfig defaults (off; once enabled, every request and no
// optional field) and the optional TLS fields by mode.
func TestLogPolicy(t *testing.T) {
	half := 0.5
	for _, tc := range []struct {
		in   *api.LogConfig
		want LogPolicy
	}{
		{nil, LogPolicy{}},
		{&api.LogConfig{SampleRate: &half}, LogPolicy{}},
		{&api.LogConfig{Enable: true}, LogPolicy{Rate: 1}},
		{&api.LogConfig{Enable: true, SampleRate: &half, OptionalMode: "INCLUDE_ALL_OPTIONAL"}, LogPolicy{Rate: 0.5, TLSProtocol: true, TLSCipher: true}},
		{&api.LogConfig{Enable: true, OptionalMode: "EXCLUDE_ALL_OPTIONAL", OptionalFields: []string{"tls"}}, LogPolicy{Rate: 1}},
		{&api.LogConfig{Enable: true, OptionalMode: "CUSTOM", OptionalFields: []string{"tls.cipher"}}, LogPolicy{Rate: 1, TLSCipher: true}},
		{&api.LogConfig{Enable: true, OptionalMode: "CUSTOM", OptionalFields: []string{"tls"}}, LogPolicy{Rate: 1, TLSProtocol: true, TLSCipher: true}},
	} {
		if got := logPolicy(tc.in); got != tc.want {
			t.Errorf("logPolicy(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if (LogPolicy{}).Sampled() || !(LogPolicy{Rate: 1}).Sampled() {
		t.Error("a rate of 0 or 1 is not decided without a draw")
	}
}
