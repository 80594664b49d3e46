package cli

import (
	"reflect"
	"testing"

	"meridian/api"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"3600", 3600, false},
		{"0", 0, false},
		{"3600s", 3600, false},
		{"1h", 3600, false},
		{"1H", 3600, false},
		{"1h30m", 5400, false},
		{"1.5h", 5400, false},
		{"2d", 172800, false},
		{"1w", 604800, false},
		{"30m", 1800, false},
		{" 10s ", 10, false},
		{"PT1H", 3600, false},
		{"P1DT2H", 93600, false},
		{"P1W", 604800, false},
		{"1.9s", 1, false}, // fractions of a second are dropped
		{"", 0, true},
		{"-5", 0, true},
		{"-5s", 0, true},
		{"h", 0, true},
		{"5x", 0, true},
		{"1h5", 0, true},
		{"P", 0, true},
		{"PT", 0, true},
		{"P1M", 0, true}, // months are ambiguous
		{"1..5s", 0, true},
		{"99999999999999999999s", 0, true},
		{"100000000000", 0, true},
	} {
		got, err := parseDuration(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseDuration(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{"a, b ,,c", []string{"a", "b", "c"}},
		{"^:^a,b:c", []string{"a,b", "c"}},
		{"^;^x=1,2;y=3", []string{"x=1,2", "y=3"}},
		{"^^a,b", []string{"^^a", "b"}}, // an empty delimiter is no delimiter
	} {
		if got := splitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("ip=1.2.3.4, port = 80,empty=")
	want := []keyValue{{"ip", "1.2.3.4"}, {"port", "80"}, {"empty", ""}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseKeyValues = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"novalue", "=x", "a=1,b"} {
		if _, err := parseKeyValues(bad); err == nil {
			t.Errorf("parseKeyValues(%q) succeeded", bad)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    api.NetworkEndpoint
		wantErr bool
	}{
		{"ip=1.2.3.4,port=80", api.NetworkEndpoint{IPAddress: "1.2.3.4", Port: 80}, false},
		{"fqdn=example.com,port=443", api.NetworkEndpoint{Fqdn: "example.com", Port: 443}, false},
		{"fqdn=example.com", api.NetworkEndpoint{Fqdn: "example.com"}, false},
		{"ipv6=2001:db8::1,port=8080", api.NetworkEndpoint{IPv6Address: "2001:db8::1", Port: 8080}, false},
		{"instance=vm-1,ip=10.0.0.2", api.NetworkEndpoint{Instance: "vm-1", IPAddress: "10.0.0.2"}, false},
		{"", api.NetworkEndpoint{}, true},
		{"ip=300.1.1.1", api.NetworkEndpoint{}, true},
		{"ip=2001:db8::1", api.NetworkEndpoint{}, true},
		{"ipv6=1.2.3.4", api.NetworkEndpoint{}, true},
		{"port=0", api.NetworkEndpoint{}, true},
		{"port=65536", api.NetworkEndpoint{}, true},
		{"port=http", api.NetworkEndpoint{}, true},
		{"fqdn=", api.NetworkEndpoint{}, true},
		{"host=example.com", api.NetworkEndpoint{}, true},
		{"port=80,port=81", api.NetworkEndpoint{}, true},
	} {
		got, err := parseEndpoint(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseEndpoint(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParsePathRules(t *testing.T) {
	got, err := parsePathRules("/a/*=bs1,/b=bs2")
	want := []pathRuleArg{{"/a/*", "bs1"}, {"/b", "bs2"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parsePathRules = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"a=bs", "/a=", "/a=x,/a=y", "/a"} {
		if _, err := parsePathRules(bad); err == nil {
			t.Errorf("parsePathRules(%q) succeeded", bad)
		}
	}
}

func TestGroupPathRules(t *testing.T) {
	got := groupPathRules([]pathRuleArg{{"/v/*", "video"}, {"/a", "static"}, {"/images/*", "static"}}, "p")
	want := []api.PathRule{
		{Paths: []string{"/a", "/images/*"}, Service: "projects/p/global/backendServices/static"},
		{Paths: []string{"/v/*"}, Service: "projects/p/global/backendServices/video"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groupPathRules = %+v, want %+v", got, want)
	}
}

func TestParseNegativeCachingPolicy(t *testing.T) {
	got, err := parseNegativeCachingPolicy("404=60,301=2m")
	want := []api.NegativeCachingPolicy{{Code: 404, TTL: 60}, {Code: 301, TTL: 120}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseNegativeCachingPolicy = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"404", "abc=60", "99=60", "600=60", "404=60,404=30", "404=1801", "404=-1", "404=x"} {
		if _, err := parseNegativeCachingPolicy(bad); err == nil {
			t.Errorf("parseNegativeCachingPolicy(%q) succeeded", bad)
		}
	}
}

func TestParseEnum(t *testing.T) {
	choices := []string{"SERVERLESS", "INTERNET_FQDN_PORT"}
	for in, want := range map[string]string{"SERVERLESS": "SERVERLESS", "serverless": "SERVERLESS", "internet-fqdn-port": "INTERNET_FQDN_PORT"} {
		if got, err := parseEnum(in, choices); err != nil || got != want {
			t.Errorf("parseEnum(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseEnum("gce", choices); err == nil {
		t.Error("parseEnum accepted a value that is not a choice")
	}
}
