package format

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse checks the package's contract on arbitrary expressions: Parse never
// panics, its errors say where they come from, and whatever it accepts renders
// every kind of JSON value, as one resource and as a list, the same way twice.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"json", "yaml", "text", "list", "none", "default",
		"value(address)",
		"table(name, region.basename(), networkEndpointType, size)",
		`value[separator=","](name,status)`,
		"table[box,title=T](name:sort=1:reverse, size:align=right:width=4, tags.join(','):optional)",
		"table[all-box,ascii,pad=3,no-heading](backends[].group.scoped_suffixes().list():label=BACKENDS)",
		"csv[no-heading,separator=';',delimiter='|'](a.yesno(yes=1,no=0), labels, .)",
		"value[quote,terminator=' '](a[-1].segment(2), a[0][1], \"x.y\".z)",
		"yaml(a.b[0].c, d[].e) json(x)",
		"flattened[no-pad,separator='='](name:label=N)",
		"value(firstof(a, b.c), extract(n, t), uri())",
		`value(s.sub("(\w+)", "<\1>", count=1).trailoff(5), s.split().slice(::-1).sort().notnull())`,
		"value(n.size(units_in=K, precision=3, min=1), t.date('%Y-%m-%d %H:%M:%S.%6f %Ez', tz=UTC), t.iso())",
		"value(a.map(2).upper().lower(), a.len(), m.list(show=keys), m.join('-'))",
		"table(name:sort=1, n:sort=2:reverse, f:reverse)",
		"value(a.",
		"table[title=\"unterminated",
	} {
		f.Add(seed)
	}
	const sample = `[
	 {"name": "n", "a": [{"b": "x/y", "c": [1, 2]}, "s", null, ["p", "q"]], "n": 3, "f": 0.25, "t": "2024-01-02T03:04:05Z",
	  "m": {"k": null, "l": [true, false], "o": {}}, "s": "Hello\nWorld/", "labels": {"env": "prod"},
	  "selfLink": "https://h/projects/p/regions/r/things/n", "x": {"y": {"z": "deep"}}, "big": 1e300, "neg": -1.5e-300},
	 "a string", 42, true, null, [], {}, [1, "two", [3]]
	]`
	// The CLI decodes with json.Number; other callers get float64. Render both.
	resources := decode(f, sample)
	var plain []any
	if err := json.Unmarshal([]byte(sample), &plain); err != nil {
		f.Fatal(err)
	}
	resources = append(resources, plain...)
	f.Fuzz(func(t *testing.T, expr string) {
		fm, err := Parse(expr)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "format: ") {
				t.Fatalf("Parse(%q): error %q lacks the package prefix", expr, err)
			}
			return
		}
		for _, single := range []bool{true, false} {
			items := resources
			if single {
				items = resources[:1]
			}
			var first, second bytes.Buffer
			if err := fm.Render(&first, items, single); err != nil {
				t.Fatalf("Parse(%q).Render: %v", expr, err)
			}
			if err := fm.Render(&second, items, single); err != nil {
				t.Fatalf("Parse(%q).Render: %v", expr, err)
			}
			if first.String() != second.String() {
				t.Fatalf("Parse(%q).Render printed differently twice:\n%s\nvs\n%s", expr, first.String(), second.String())
			}
			if fm.kind == printJSON && !json.Valid(first.Bytes()) {
				t.Fatalf("Parse(%q).Render printed invalid JSON:\n%s", expr, first.String())
			}
		}
	})
}
