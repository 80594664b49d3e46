package format

import (
	"bytes"
	"testing"
)

// backendService is a resource with the shapes transforms meet: URLs, lists,
// objects, numbers, Booleans and timestamps.
const backendService = `[{
 "name": "web",
 "selfLink": "https://compute.googleapis.com/compute/v1/projects/p/global/backendServices/web",
 "region": "https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1",
 "zone": "https://compute.googleapis.com/compute/v1/projects/p/zones/us-central1-a",
 "escaped": "projects/p/regions/us%2Dwest1",
 "backends": [
  {"group": "https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/neg"},
  {"group": "https://compute.googleapis.com/compute/v1/projects/p/global/networkEndpointGroups/origin"},
  {"balancingMode": "RATE"}
 ],
 "tags": ["b", "a", "c"],
 "nested": [["x", "y"], ["z"]],
 "labels": {"env": "prod", "team": "web"},
 "metadata": {"items": [{"key": "startup", "value": "echo hi"}, {"key": "other", "value": "x"}]},
 "cdnPolicy": {"cacheMode": "CACHE_ALL_STATIC", "enabled": true, "ttl": 0},
 "bytes": 1536,
 "huge": 5368709120,
 "created": "2024-03-05T07:08:09.123456-08:00",
 "epoch": 1700000000,
 "empty": "",
 "nothing": null,
 "description": "Hello World, hello"
}]`

func TestTransforms(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		// Keys: members, indexes, slices, implicit slices, metadata, case variants.
		{"name", "web"},
		{"cdnPolicy.cacheMode", "CACHE_ALL_STATIC"},
		{"cdn_policy.cache_mode", "CACHE_ALL_STATIC"},
		{"backends[0].group.basename()", "neg"},
		{"backends[-1].balancingMode", "RATE"},
		{"backends[5].group", ""},
		{"backends[].group.basename()", "neg;origin;"},
		{"backends.group.basename()", "neg;origin;"},
		{"backends.balancingMode", "RATE"},
		{"metadata.items.startup", "echo hi"},
		{"labels[]", "env=prod;team=web"},
		{"name[0]", "w"},
		{"tags[1]", "a"},
		{"name.nope", ""},

		{"region.basename()", "us-central1"},
		{"nothing.basename(undefined=-)", "-"},
		{"backends[].group.scoped_suffixes().list()", "us-central1/networkEndpointGroups/neg,networkEndpointGroups/origin,"},
		{"selfLink.scoped_suffixes()", "backendServices/web"},
		{"zone.scope()", "us-central1-a"},
		{"selfLink.scope(projects)", "p/global/backendServices/web"},
		{"name.scope()", "web"},
		{"escaped.scope()", "us-west1"},
		{"selfLink.segment(-2)", "backendServices"},
		{"selfLink.segment(6)", "p"},
		{"selfLink.segment(99, undefined=none)", "none"},

		{"tags.len()", "3"},
		{"labels.len()", "2"},
		{"name.len()", "3"},
		{"nothing.len()", "0"},
		{"tags.join()", "b/a/c"},
		{`tags.join(", ")`, "b, a, c"},
		{"name.join(-)", "w-e-b"},
		{"tags.list()", "b,a,c"},
		{"labels.list()", "env=prod,team=web"},
		{"labels.list(show=keys)", "env,team"},
		{"labels.list(show=values, separator=' ')", "prod web"},
		{"empty.list(undefined=n/a)", "n/a"},
		{"tags.sort().join('')", "abc"},
		{"backends.sort(balancingMode).len()", "3"},
		{"tags.slice(1:).join('')", "ac"},
		{"tags.slice(::-1).join('')", "cab"},
		{"tags.slice(-1).join('')", "c"},
		{"tags.slice(7, undefined=none)", "none"},
		{"description.split(' ').len()", "3"},
		{"nested.map(2).upper().join('')", "XYZ"},
		{"tags.map().upper()", "B;A;C"},
		{"tags.upper()", "B;A;C"},
		{"tags.map(), nested.len()", "b;a;c\t2"},
		{"name.lower()", "web"},
		{"backends[].group.notnull().len()", "2"},
		{"extract(name, empty, labels.env)", "web;prod"},
		{"firstof(nickname, nothing, name)", "web"},
		{"firstof(nickname)", ""},

		{"cdnPolicy.enabled.yesno()", "True"},
		{"cdnPolicy.ttl.yesno()", "No"},
		{"cdnPolicy.enabled.yesno(yes=on, no=off)", "on"},
		{"missing.yesno(no=off)", "off"},
		{"description.sub('hello', 'bye')", "bye World, bye"},
		{"description.sub('hello', 'bye', count=1)", "bye World, hello"},
		{"description.sub('hello', 'bye', ignorecase=false)", "Hello World, bye"},
		{`description.sub("(\w+) (\w+)", "\2 \1", 1)`, "World Hello, hello"},
		{"description.trailoff(8)", "Hello..."},
		{"name.trailoff(8)", "web"},
		{"uri()", "https://compute.googleapis.com/compute/v1/projects/p/global/backendServices/web"},
		{"name.uri()", "https://compute.googleapis.com/compute/v1/projects/p/global/backendServices/web"},

		{"bytes.size()", "1.5 KiB"},
		{"huge.size()", "5 GiB"},
		{"empty.size()", "0"},
		{"bytes.size(units_out=K, precision=2)", "1.50"},
		{"bytes.size(min=2048)", "< 2 KiB"},

		{"created.date()", "2024-03-05T07:08:09"},
		{"created.date('%Y/%m/%d %H:%M:%S.%3f %z %Oz')", "2024/03/05 07:08:09.123 -0800 -08:00"},
		{"created.date('%a %b %e %I%p %j', tz=UTC)", "Tue Mar  5 03PM 065"},
		{"epoch.date('%Y-%m-%dT%H:%M:%S%Ez', tz=UTC)", "2023-11-14T22:13:20Z"},
		{"epoch.date('%s', unit=1000)", "1700000"},
		{"created.iso()", "2024-03-05T07:08:09.123-08:00"},
		{"name.date(undefined=never)", "never"},
		{"created.date('%% %Q')", "% %Q"},
	} {
		expr := "value(" + tc.expr + ")"
		f, err := Parse(expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		var buf bytes.Buffer
		if err := f.Render(&buf, decode(t, backendService), true); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tc.want+"\n" {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want+"\n")
		}
	}
}

func TestPythonText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		str  string
		cell string
	}{
		{nil, "None", ""},
		{true, "True", "True"},
		{"it's", "it's", "it's"},
		{[]any{"it's", `a"b'c`, "tab\there\x01é", 1.5, nil, false}, `["it's", 'a"b\'c', 'tab\there\x01é', 1.5, None, False]`, ""},
		{map[string]any{"b": []any{}, "a": map[string]any{}}, "{'a': {}, 'b': []}", ""},
		{float64(1), "1", "1"},
		{3.14159265, "3.14159265", "3.14159"},
		{100000.4, "100000.4", "100000.4"},
		{1234567890.5, "1234567890.5", "1.23457e+09"},
		{1e-5, "1e-05", "1e-05"},
		{1e21, "1e+21", "1e+21"},
	} {
		if got := pyStr(tc.v); got != tc.str {
			t.Errorf("pyStr(%#v) = %q, want %q", tc.v, got, tc.str)
		}
		if tc.cell == "" {
			continue
		}
		if got := cellText(tc.v); got != tc.cell {
			t.Errorf("cellText(%#v) = %q, want %q", tc.v, got, tc.cell)
		}
	}
}

func TestCenterMatchesPython(t *testing.T) {
	// Python: 'abc'.center(8) == '  abc   ', 'ab'.center(9) == '    ab   '.
	if got := justify("abc", 8, "center"); got != "  abc   " {
		t.Errorf("got %q", got)
	}
	if got := justify("ab", 9, "center"); got != "    ab   " {
		t.Errorf("got %q", got)
	}
}
