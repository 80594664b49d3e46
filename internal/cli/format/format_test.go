package format

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// resources are decoded from JSON as the CLI decodes API answers.
func resources(t *testing.T, js string) []any {
	t.Helper()
	var items []any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&items); err != nil {
		t.Fatal(err)
	}
	return items
}

const negs = `[
 {"name":"cloudrun-neg","region":"http://h/compute/v1/projects/p/regions/us-central1","networkEndpointType":"SERVERLESS","size":"0","cloudRun":{"service":"my-global-app"}},
 {"name":"aaa","region":"http://h/compute/v1/projects/p/regions/europe-west1","networkEndpointType":"SERVERLESS","cloudRun":{"service":"x"},"enabled":true,"tags":["a","b"],"ratio":0.5,"count":2}
]`

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		single bool
		want   string
	}{
		{"value(name)", false, "cloudrun-neg\naaa\n"},
		{"value(region.basename(), cloudRun.service)", false, "us-central1\tmy-global-app\neurope-west1\tx\n"},
		{`value[separator=","](name,networkEndpointType)`, false, "cloudrun-neg,SERVERLESS\naaa,SERVERLESS\n"},
		{`value[terminator=" "](name)`, false, "cloudrun-neg aaa "},
		{"value(tags, enabled, ratio, count, missing)", false, "\t\t\t\t\na;b\tTrue\t0.5\t2\t\n"},
		{"value(tags.len(), tags.join(-))", false, "0\t\n2\ta-b\n"},
		{"value(enabled.yesno(yes=Y, no=N))", false, "N\nY\n"},
		{"value(region.segment(-3))", false, "p\np\n"},
		{"value(region.scoped_suffixes())", false, "us-central1\neurope-west1\n"},
		{"table(name, region.basename(), networkEndpointType, size)", false,
			"NAME          REGION        NETWORK_ENDPOINT_TYPE  SIZE\ncloudrun-neg  us-central1   SERVERLESS             0\naaa           europe-west1  SERVERLESS\n"},
		{"table(name:sort=1, cloudRun.service:label=SERVICE)", false, "NAME          SERVICE\naaa           x\ncloudrun-neg  my-global-app\n"},
		{"table[no-heading](name:sort=1:reverse)", false, "cloudrun-neg\naaa\n"},
		{"csv(name,tags)", false, "name,tags\ncloudrun-neg,\naaa,a;b\n"},
		{"none", false, ""},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := f.Render(&buf, resources(t, negs), tc.single); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", buf.String(), tc.want)
			}
		})
	}
}

func TestRenderJSONAndYAML(t *testing.T) {
	items := resources(t, `[{"name":"global-ip","address":"127.0.10.1","users":["u"]}]`)
	for _, tc := range []struct {
		expr   string
		single bool
		want   string
	}{
		{"json", true, "{\n  \"address\": \"127.0.10.1\",\n  \"name\": \"global-ip\",\n  \"users\": [\n    \"u\"\n  ]\n}\n"},
		{"json", false, "[\n  {\n    \"address\": \"127.0.10.1\",\n    \"name\": \"global-ip\",\n    \"users\": [\n      \"u\"\n    ]\n  }\n]\n"},
		{"json(address)", true, "{\n  \"address\": \"127.0.10.1\"\n}\n"},
		{"yaml", true, "address: 127.0.10.1\nname: global-ip\nusers:\n- u\n"},
		{"yaml(name)", false, "name: global-ip\n"},
		{"text", true, "address: 127.0.10.1\nname: global-ip\nusers[0]: u\n"},
	} {
		f, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.Render(&buf, items, tc.single); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("%s: got\n%q\nwant\n%q", tc.expr, buf.String(), tc.want)
		}
	}
	// A list of YAML documents is separated as gcloud separates them.
	f, _ := Parse("yaml")
	var buf bytes.Buffer
	f.Render(&buf, resources(t, `[{"a":1},{"a":2}]`), false)
	if buf.String() != "a: 1\n---\na: 2\n" {
		t.Errorf("yaml list: %q", buf.String())
	}
	f, _ = Parse("json")
	buf.Reset()
	f.Render(&buf, nil, false)
	if buf.String() != "[]\n" {
		t.Errorf("empty json list: %q", buf.String())
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{"", "xml", "value(", "value(name", "table(name,)x", "value(a.basename(x))", "value(a.nope())",
		"value(a:sort=x)", "value(a:bogus)", `value[separator="x](a)`, "value(a[x])", "value(a.len().b)", "json extra"} {
		if f, err := Parse(expr); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", expr, f)
		} else if !strings.HasPrefix(err.Error(), "format: ") {
			t.Errorf("Parse(%q): error %q lacks the package prefix", expr, err)
		}
	}
}

func TestSnakeUpper(t *testing.T) {
	for in, want := range map[string]string{"name": "NAME", "networkEndpointType": "NETWORK_ENDPOINT_TYPE", "IPAddress": "IP_ADDRESS",
		"IPProtocol": "IP_PROTOCOL", "sslCertificates": "SSL_CERTIFICATES", "cache-mode": "CACHE_MODE", "http2HealthCheck": "HTTP2_HEALTH_CHECK"} {
		if got := snakeUpper(in); got != want {
			t.Errorf("snakeUpper(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"value(address)", "table(name, region.basename(), networkEndpointType, size)", `value[separator=","](name,status)`,
		"json", "yaml(a.b[0].c)", "table[no-heading,box](a[].b.join(';'):label=X:sort=2:reverse)", "csv[separator=';'](a.yesno(yes=1,no=0))", "value(a[-1].segment(2))"} {
		f.Add(seed)
	}
	sample := []any{map[string]any{"name": "n", "a": []any{map[string]any{"b": "x/y"}, "s"}, "n": json.Number("3"), "t": true, "m": map[string]any{"k": nil}}}
	f.Fuzz(func(t *testing.T, expr string) {
		fm, err := Parse(expr)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		fm.Render(&buf, sample, true)
		fm.Render(&buf, sample, false)
	})
}
