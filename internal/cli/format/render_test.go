package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decode reads resources as the CLI does: JSON with numbers kept as json.Number.
func decode(t testing.TB, js string) []any {
	t.Helper()
	var items []any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&items); err != nil {
		t.Fatal(err)
	}
	return items
}

// negs are two network endpoint groups as the compute API returns them.
const negs = `[
 {"name": "cloudrun-neg", "region": "https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1",
  "networkEndpointType": "SERVERLESS", "size": 0, "cloudRun": {"service": "my-global-app"},
  "selfLink": "https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/cloudrun-neg"},
 {"name": "aaa", "region": "https://compute.googleapis.com/compute/v1/projects/p/regions/europe-west1",
  "networkEndpointType": "INTERNET_FQDN_PORT", "size": 12, "enabled": true, "tags": ["a", "b"], "ratio": 0.5,
  "labels": {"env": "prod", "team": "web"}, "note": "two\nlines"}
]`

func render(t *testing.T, expr string, items []any, single bool) string {
	t.Helper()
	f, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	var buf bytes.Buffer
	if err := f.Render(&buf, items, single); err != nil {
		t.Fatalf("Render(%q): %v", expr, err)
	}
	return buf.String()
}

func TestRenderLists(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		// gcloud's own examples.
		{"value(name)", "cloudrun-neg\naaa\n"},
		{`value[separator=","](name,networkEndpointType)`, "cloudrun-neg,SERVERLESS\naaa,INTERNET_FQDN_PORT\n"},
		{"table(name, region.basename(), networkEndpointType, size)", "" +
			"NAME          REGION        NETWORK_ENDPOINT_TYPE  SIZE\n" +
			"cloudrun-neg  us-central1   SERVERLESS             0\n" +
			"aaa           europe-west1  INTERNET_FQDN_PORT     12\n"},

		// value: tabs, lists joined by ';', objects as key=value, Python's True,
		// integers without a decimal point, missing keys empty.
		{"value(name, tags, labels, enabled, ratio, size, missing)", "" +
			"cloudrun-neg\t\t\t\t\t0\t\n" +
			"aaa\ta;b\tenv=prod;team=web\tTrue\t0.5\t12\t\n"},
		{`value[terminator=" "](name)`, "cloudrun-neg aaa "},
		{`value[separator="\t\t",delimiter="|"](name, tags)`, "cloudrun-neg\t\t\naaa\t\ta|b\n"},
		{"value[quote](note)", "\n\"two\nlines\"\n"},
		{"value(cloudRun)", "service=my-global-app\n\n"},
		{"value(.)", "cloudRun={'service': 'my-global-app'};name=cloudrun-neg;networkEndpointType=SERVERLESS;" +
			"region=https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1;" +
			"selfLink=https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/cloudrun-neg;size=0\n" +
			"enabled=True;labels={'env': 'prod', 'team': 'web'};name=aaa;networkEndpointType=INTERNET_FQDN_PORT;note=two\nlines;" +
			"ratio=0.5;region=https://compute.googleapis.com/compute/v1/projects/p/regions/europe-west1;size=12;tags=['a', 'b']\n"},

		// csv: a heading of lower-cased labels, quoting as needed.
		{"csv(name, tags, note)", "name,tags,note\ncloudrun-neg,,\naaa,a;b,\"two\nlines\"\n"},
		{"csv(name:label=BACKEND_NAME, networkEndpointType)", "backend_name,network_endpoint_type\ncloudrun-neg,SERVERLESS\naaa,INTERNET_FQDN_PORT\n"},
		{"csv[no-heading](name, ratio)", "cloudrun-neg,\naaa,0.5\n"},
		{"csv[separator=';'](name, tags)", "name;tags\ncloudrun-neg;\naaa;a;b\n"},
		{"csv[separator=' '](name, tags.join(' '))", "name tags\ncloudrun-neg \naaa \"a b\"\n"},
		{"csv[no-quote](note)", "note\n\ntwo\nlines\n"},

		// table: headings from keys, labels, sorting, alignment, optional columns.
		{"table(name:sort=1, cloudRun.service:label=SERVICE)", "NAME          SERVICE\naaa\ncloudrun-neg  my-global-app\n"},
		{"table[no-heading](name:sort=1:reverse)", "cloudrun-neg\naaa\n"},
		{"table(size:reverse, name)", "SIZE  NAME\n12    aaa\n0     cloudrun-neg\n"},
		{"table(size:sort=1, name)", "SIZE  NAME\n0     cloudrun-neg\n12    aaa\n"},
		{"table(name, size:align=right)", "NAME          SIZE\ncloudrun-neg     0\naaa             12\n"},
		{"table(name, missing:optional, size)", "NAME          SIZE\ncloudrun-neg  0\naaa           12\n"},
		{"table(name:width=14, size)", "NAME            SIZE\ncloudrun-neg    0\naaa             12\n"},
		{"table[pad=1](name, size)", "NAME         SIZE\ncloudrun-neg 0\naaa          12\n"},
		{"table(name, tags, labels)", "NAME          TAGS        LABELS\ncloudrun-neg\naaa           ['a', 'b']  {'env': 'prod', 'team': 'web'}\n"},
		{"table(name, note)", "NAME          NOTE\ncloudrun-neg\naaa           two\n              lines\n"},
		{"table(name:label='')", "cloudrun-neg\naaa\n"},
		{"table[title=NEGs](name)", "    NEGs\nNAME\ncloudrun-neg\naaa\n"},
		{"table[box](name, size)", "" +
			"┌──────────────┬──────┐\n" +
			"│     NAME     │ SIZE │\n" +
			"├──────────────┼──────┤\n" +
			"│ cloudrun-neg │ 0    │\n" +
			"│ aaa          │ 12   │\n" +
			"└──────────────┴──────┘\n"},
		{"table[all-box,ascii,title=NEGs](name, size)", "" +
			"+---------------------+\n" +
			"|         NEGs        |\n" +
			"+--------------+------+\n" +
			"|     NAME     | SIZE |\n" +
			"+--------------+------+\n" +
			"| cloudrun-neg | 0    |\n" +
			"+--------------+------+\n" +
			"| aaa          | 12   |\n" +
			"+--------------+------+\n"},

		// list, flattened and yaml separate resources as gcloud does.
		{"list(name, size)", " - cloudrun-neg\n   0\n - aaa\n   12\n"},
		{"list[compact,title=NEGs](name, size)", "NEGs\n - cloudrun-neg 0\n - aaa 12\n"},
		{"yaml(name, size)", "---\nname: cloudrun-neg\nsize: 0\n---\nname: aaa\nsize: 12\n"},
		{"flattened(name, tags)", "---\nname: cloudrun-neg\n---\nname:    aaa\ntags[0]: a\ntags[1]: b\n"},
		{"text[no-pad](name, cloudRun.service)", "---\nservice: my-global-app\nname: cloudrun-neg\n---\nname: aaa\n"},
		{"json(name, labels.env)", "[\n  {\n    \"name\": \"cloudrun-neg\"\n  },\n  {\n    \"labels\": {\n      \"env\": \"prod\"\n    },\n    \"name\": \"aaa\"\n  }\n]\n"},
		{"none", ""},
		{"disable", ""},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			if got := render(t, tc.expr, decode(t, negs), false); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s\n(%q)", got, tc.want, got)
			}
		})
	}
}

func TestRenderSingle(t *testing.T) {
	address := decode(t, `[{"name": "global-ip", "address": "127.0.10.1", "users": ["u"], "status": "IN_USE", "id": 123, "on": false}]`)
	for _, tc := range []struct{ expr, want string }{
		{"value(address)", "127.0.10.1\n"},
		{`value[separator=","](name,status)`, "global-ip,IN_USE\n"},
		{"json", "{\n  \"address\": \"127.0.10.1\",\n  \"id\": 123,\n  \"name\": \"global-ip\",\n  \"on\": false,\n  \"status\": \"IN_USE\",\n  \"users\": [\n    \"u\"\n  ]\n}\n"},
		{"json(address, id)", "{\n  \"address\": \"127.0.10.1\",\n  \"id\": 123\n}\n"},
		{"yaml", "address: 127.0.10.1\nid: 123\nname: global-ip\n\"on\": false\nstatus: IN_USE\nusers:\n- u\n"},
		{"default", "address: 127.0.10.1\nid: 123\nname: global-ip\n\"on\": false\nstatus: IN_USE\nusers:\n- u\n"},
		{"yaml(users)", "users:\n- u\n"},
		{"text", "address:  127.0.10.1\nid:       123\nname:     global-ip\non:       False\nstatus:   IN_USE\nusers[0]: u\n"},
		{"list", " - address: 127.0.10.1\n   id: 123\n   name: global-ip\n   on: False\n   status: IN_USE\n   users: ['u']\n"},
		{"table(name, address:label=ADDRESS/RANGE)", "NAME       ADDRESS/RANGE\nglobal-ip  127.0.10.1\n"},
	} {
		if got := render(t, tc.expr, address, true); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s\n(%q)", tc.expr, got, tc.want, got)
		}
	}
}

func TestRenderJSONList(t *testing.T) {
	items := decode(t, `[{"a": 1}, {"a": 2.5}]`)
	if got, want := render(t, "json", items, false), "[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 2.5\n  }\n]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A list of one is still a list; single asks for an object.
	if got, want := render(t, "json", items[:1], false), "[\n  {\n    \"a\": 1\n  }\n]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := render(t, "json", items[:1], true), "{\n  \"a\": 1\n}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Characters HTML would escape are printed as they are, as Python does.
	if got, want := render(t, "json", []any{"<a&b>"}, true), "\"<a&b>\"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderEmptyList(t *testing.T) {
	for expr, want := range map[string]string{
		"json": "[]\n", "yaml": "", "text": "", "list": "", "value(name)": "", "csv(name)": "", "table(name)": "",
		"table[box,title=T](name)": "", "list[title=T,always-display-title]": "T\n",
	} {
		if got := render(t, expr, nil, false); got != want {
			t.Errorf("%s of no resources: got %q, want %q", expr, got, want)
		}
	}
}

func TestRenderNumbersAndBooleans(t *testing.T) {
	items := []any{map[string]any{
		"one": float64(1), "half": 0.5, "pi": 3.14159265, "big": 1234567.5, "tiny": 0.00001, "neg": -2.0,
		"n": json.Number("7"), "nf": json.Number("2.50"), "yes": true, "no": false, "null": nil,
	}}
	got := render(t, "value(one, half, pi, big, tiny, neg, n, nf, yes, no, null)", items, true)
	if want := "1\t0.5\t3.14159\t1234567.5\t1e-05\t-2\t7\t2.5\tTrue\tFalse\t\n"; got != want {
		t.Errorf("value: got %q, want %q", got, want)
	}
	if got, want := render(t, "json(one, half, yes)", items, true), "{\n  \"half\": 0.5,\n  \"one\": 1,\n  \"yes\": true\n}\n"; got != want {
		t.Errorf("json: got %q, want %q", got, want)
	}
	if got, want := render(t, "yaml(one, no)", items, true), "\"no\": false\none: 1\n"; got != want {
		t.Errorf("yaml: got %q, want %q", got, want)
	}
}

func TestRenderSortsNumbersBeforeText(t *testing.T) {
	items := decode(t, `[{"v": "b"}, {"v": 10}, {"v": 9}, {}, {"v": "a"}]`)
	if got, want := render(t, "value(v)", items, false), "b\n10\n9\n\na\n"; got != want {
		t.Errorf("value does not sort: got %q, want %q", got, want)
	}
	if got, want := render(t, "table[no-heading](v:sort=1)", items, false), "9\n10\n\na\nb\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderMultiKeySort(t *testing.T) {
	items := decode(t, `[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "w"}]`)
	if got, want := render(t, "table[no-heading](a:sort=1, b:sort=2:reverse)", items, false), "1  z\n1  x\n2  y\n2  w\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := render(t, "table[no-heading](a:sort=2, b:sort=1)", items, false), "2  w\n1  x\n2  y\n1  z\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderProjectionShapes(t *testing.T) {
	bs := decode(t, `[{"name": "web", "backends": [
		{"group": "https://x/projects/p/regions/r/networkEndpointGroups/neg", "mode": "RATE"},
		{"group": "https://x/projects/p/global/networkEndpointGroups/origin"}]}]`)
	for _, tc := range []struct{ expr, want string }{
		{"json(backends[].group.basename())", "{\n  \"backends\": [\n    {\n      \"group\": \"neg\"\n    },\n    {\n      \"group\": \"origin\"\n    }\n  ]\n}\n"},
		{"json(backends[1].group)", "{\n  \"backends\": [\n    null,\n    {\n      \"group\": \"https://x/projects/p/global/networkEndpointGroups/origin\"\n    }\n  ]\n}\n"},
		{"yaml(backends.mode)", "backends:\n- mode: RATE\n"},
		{"yaml(missing)", "{}\n"},
		{"json(firstof(nickname, name))", "\"web\"\n"},
	} {
		if got := render(t, tc.expr, bs, true); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.expr, got, tc.want)
		}
	}
}

func TestParseDefault(t *testing.T) {
	items := decode(t, `[{"name": "a", "size": 1}]`)
	for _, tc := range []struct{ expr, def, want string }{
		{"", "yaml", "name: a\nsize: 1\n"},
		{"  ", "table(name)", "NAME\na\n"},
		{"value(size)", "table(name)", "1\n"},
		{"", "", "name: a\nsize: 1\n"},
	} {
		f, err := ParseDefault(tc.expr, tc.def)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.Render(&buf, items, true); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("ParseDefault(%q, %q): got %q, want %q", tc.expr, tc.def, buf.String(), tc.want)
		}
	}
	if _, err := ParseDefault("xml", "yaml"); err == nil {
		t.Error("a bad user format must not fall back to the default")
	}
	f, _ := ParseDefault("", "table(name)")
	if f.Name() != "table" {
		t.Errorf("Name() = %q", f.Name())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderReportsWriteErrors(t *testing.T) {
	f, _ := Parse("value(name)")
	if err := f.Render(failingWriter{}, []any{map[string]any{"name": "a"}}, true); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Render = %v, want the writer's error", err)
	}
	// Nothing to print is not a write.
	if err := f.Render(failingWriter{}, nil, false); err != nil {
		t.Errorf("Render of nothing = %v", err)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	items := decode(t, negs)
	for _, expr := range []string{"json", "yaml", "text", "list", "value(labels, .)", "table(labels, tags)"} {
		first := render(t, expr, items, false)
		for range 20 {
			if got := render(t, expr, items, false); got != first {
				t.Fatalf("%s printed differently on a second run:\n%s\nvs\n%s", expr, got, first)
			}
		}
	}
}
