package format

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		name    string
		columns int
	}{
		{"json", "json", 0},
		{"  yaml  ", "yaml", 0},
		{"value(address)", "value", 1},
		{"table(name, region.basename(), networkEndpointType, size)", "table", 4},
		{`value[separator=","](name,status)`, "value", 2},
		{"table[no-heading, box](name)", "table", 1},
		{"table(name)[box]", "table", 1},
		{"table( name ,  size : sort=1 : reverse )", "table", 2},
		{"csv(a.b[0].c, d[].e, f[-1], \"dotted.name\".x, g['k.y'])", "csv", 5},
		{"value(.)", "value", 1},
		{"value(firstof(a, b.c):label=X)", "value", 1},
		{`value(name.sub("(\w+)-(\d+)", "\2-\1"))`, "value", 1},
		{"value(tags.map().upper().list())", "value", 1},
		{"value(x.join(sep=' ', undefined=none))", "value", 1},
		{"table(a:no-reverse:wrap:alias=A:align=center:width=5:optional)", "table", 1},
	} {
		f, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		if f.Name() != tc.name || len(f.columns) != tc.columns {
			t.Errorf("Parse(%q) = %s with %d columns, want %s with %d", tc.expr, f.Name(), len(f.columns), tc.name, tc.columns)
		}
	}
}

func TestParseKeys(t *testing.T) {
	f, err := Parse(`csv(a.b[0].c, d[].e, f[-1], "dotted.name".x, g['k.y'], .)`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.columns {
		got = append(got, c.key.String())
	}
	want := []string{"a.b[0].c", "d[].e", "f[-1]", `"dotted.name".x`, `g."k.y"`, "."}
	if !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "expected a format name"},
		{"xyz", `format: unknown format "xyz"`},
		{"json2", "expected a format name"},
		{"value", "value needs keys to print"},
		{"table()", "table needs keys to print"},
		{"value(", "expected a key"},
		{"value(name", `expected ')' at offset 10 in "value(name"`},
		{"table(name region)", "expected ',' or ')' at offset 11"},
		{"table(name,)", "expected a key"},
		{"value(a.basename(x, y))", "basename(): takes at most 1 arguments"},
		{"value(a.nope())", "unknown transform nope() at offset 8"},
		{"value(a.len().b)", "expected a transform such as .basename() after a transform"},
		{"value(a.len(),)", "expected a key"},
		{"value(a.join(,))", "expected a transform argument"},
		{"value(a.join(x)(y))", "expected ',' or ')' at offset 15"},
		{"value(a.join(x", "expected ')' after the transform arguments"},
		{"value(a:sort=x)", `sort="x": want a positive number`},
		{"value(a:sort)", "key attribute sort needs a value"},
		{"value(a:reverse=1)", "key attribute reverse takes no value"},
		{"value(a:bogus=1)", `unknown key attribute "bogus"`},
		{"value(a:align=middle)", `align="middle"`},
		{"value(a:width=99999)", "width"},
		{"value(a:format='json')", "nested formats"},
		{`value[separator="x](a)`, "unterminated \" quote"},
		{"value[separator=x(a)", "expected ',' or ']'"},
		{"value[separator=x", "expected ']'"},
		{"table[pad=-1](a)", "pad"},
		{"value(a[x)", "expected ']'"},
		{"value(a])", "unmatched ']'"},
		{"value(a..b)", "expected a key name"},
		{"value(a.)", "expected a key name"},
		{"json extra", `unexpected "extra"`},
		{"yaml(name) json(size)", `unexpected "json(size)"`},
		{"value(a.sub('(', x))", "sub(): pattern"},
		{"value(a.sub(x))", "sub(): replacement is required"},
		{"value(a.segment(one))", `segment(): index="one" is not an integer`},
		{"value(a.slice(1:2:0))", "zero step"},
		{"value(a.split(''))", "empty separator"},
		{"value(a.map(0).len())", "map(\"0\")"},
		{"value(a.date(tz=Nowhere/Else))", "unknown time zone"},
		{"value(firstof())", "needs at least one key"},
		{"value(firstof('a..b'))", `key "a..b"`},
		{"value(a.yesno(yes=1, yes=2))", "yes is given twice"},
		{"value(a[0](x))", "expected a transform name before '('"},
		{strings.Repeat("x", maxExpression+1), "longer than"},
	} {
		f, err := Parse(tc.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", tc.expr, f)
			continue
		}
		if !strings.HasPrefix(err.Error(), "format: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): error %q, want one starting \"format: \" and containing %q", tc.expr, err, tc.want)
		}
	}
}

func TestHeadings(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"table(name, region.basename(), networkEndpointType, size)", []string{"NAME", "REGION", "NETWORK_ENDPOINT_TYPE", "SIZE"}},
		{"table(cdnPolicy.cacheMode, IPAddress, IPProtocol, http2HealthCheck)", []string{"CACHE_MODE", "IP_ADDRESS", "IP_PROTOCOL", "HTTP2_HEALTH_CHECK"}},
		// gcloud disambiguates with the key's earlier names.
		{"table(first.name, last.name, name)", []string{"NAME", "LAST_NAME", "NAME"}},
		{"table(backends[].group, name:label=BACKEND_NAME, x:label='')", []string{"GROUP", "BACKEND_NAME", ""}},
		{"table(firstof(zone, region), uri())", []string{"REGION", "URI"}},
	} {
		f, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.labels()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: headings %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestAngrySnake(t *testing.T) {
	for in, want := range map[string]string{
		"name": "NAME", "networkEndpointType": "NETWORK_ENDPOINT_TYPE", "IPAddress": "IP_ADDRESS",
		"sslCertificates": "SSL_CERTIFICATES", "cache-mode": "CACHE-MODE", "http2HealthCheck": "HTTP2_HEALTH_CHECK",
		"fooBARBaz": "FOO_BARBAZ", "already_snake": "ALREADY_SNAKE", "X": "X",
	} {
		if got := angrySnake(in); got != want {
			t.Errorf("angrySnake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttributes(t *testing.T) {
	f, err := Parse(`table[box,no-box,title="My table",separator='\t',unknown](a)`)
	if err != nil {
		t.Fatal(err)
	}
	if f.has("box") || !f.has("no-box") {
		t.Errorf("no-box must cancel box: %v", f.attrs)
	}
	if f.attrOr("title", "") != "My table" || f.attrOr("separator", "") != "\t" || !f.has("unknown") {
		t.Errorf("attrs = %q", f.attrs)
	}
}
