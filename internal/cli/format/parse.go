// Package format implements gcloud's --format flag for Meridian's CLI: a format name
// (json, yaml, value, table, csv, text, none), optional [attributes] and an optional
// (projection) of keys with transforms and :attributes, e.g.
//
//	value(address)
//	table(name, region.basename(), networkEndpointType, size)
//	value[separator=","](name,status)
//	table[no-heading](backends[].group.basename():label=GROUPS:sort=1)
//
// Parse turns an expression into a Format; Render prints resources (values decoded
// from JSON: maps, slices, strings, numbers, booleans, nil) as gcloud would. Parse never
// panics; every error names the offset in the expression.
package format

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is a parsed --format expression.
type Format struct {
	name    string            // json, yaml, value, table, csv, text, none
	attrs   map[string]string // [no-heading, separator=","]
	columns []column          // the projection; nil means the whole resource
}

type column struct {
	key        []keyPart
	transforms []transform
	label      string
	sort       int // 0: not a sort key; else its rank
	reverse    bool
}

// keyPart is one step of a key: a member name, optionally indexed ([0]) or fanned out
// over a list ([]).
type keyPart struct {
	name  string
	index *int
	all   bool
}

type transform struct {
	name string
	args []string
}

var formatNames = map[string]bool{"json": true, "yaml": true, "value": true, "table": true, "csv": true, "text": true, "flattened": true, "none": true, "list": true, "default": true}

var transformArity = map[string][2]int{ // min and max argument count
	"basename": {0, 0}, "len": {0, 0}, "list": {0, 1}, "join": {0, 1}, "lower": {0, 0}, "upper": {0, 0},
	"yesno": {0, 2}, "segment": {0, 1}, "date": {0, 1}, "size": {0, 0}, "uri": {0, 0}, "sub": {2, 2},
	"scoped_suffixes": {0, 0},
}

// maxExpression bounds the input; gcloud's own expressions are short.
const maxExpression = 4096

// Parse parses a --format expression.
func Parse(expr string) (*Format, error) {
	if len(expr) > maxExpression {
		return nil, fmt.Errorf("format: expression longer than %d characters", maxExpression)
	}
	p := &parser{s: expr}
	f, err := p.format()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errorf("unexpected %q", p.s[p.i:])
	}
	return f, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("format: %s at offset %d in %q", fmt.Sprintf(format, args...), p.i, p.s)
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *parser) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *parser) expect(c byte) error {
	p.skipSpace()
	if p.peek() != c {
		return p.errorf("expected '%c'", c)
	}
	p.i++
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c == '@' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (p *parser) ident() string {
	p.skipSpace()
	start := p.i
	for !p.eof() && isIdentByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) format() (*Format, error) {
	name := p.ident()
	if name == "" {
		return nil, p.errorf("expected a format name such as json, yaml, value(...) or table(...)")
	}
	if !formatNames[name] {
		return nil, fmt.Errorf("format: unknown format %q (known: csv, json, none, table, text, value, yaml)", name)
	}
	f := &Format{name: name, attrs: map[string]string{}}
	p.skipSpace()
	if p.peek() == '[' {
		p.i++
		if err := p.attributes(f.attrs); err != nil {
			return nil, err
		}
	}
	p.skipSpace()
	if p.peek() == '(' {
		p.i++
		cols, err := p.projection()
		if err != nil {
			return nil, err
		}
		f.columns = cols
	}
	return f, nil
}

// attributes parses `name[=value], …]` after the opening bracket.
func (p *parser) attributes(into map[string]string) error {
	for {
		p.skipSpace()
		if p.peek() == ']' {
			p.i++
			return nil
		}
		name := p.ident()
		if name == "" {
			return p.errorf("expected an attribute name")
		}
		value := ""
		p.skipSpace()
		if p.peek() == '=' {
			p.i++
			v, err := p.value(",]")
			if err != nil {
				return err
			}
			value = v
		}
		into[name] = value
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
		default:
			return p.errorf("expected ',' or ']'")
		}
	}
}

// value parses a quoted string or a bare word ending at one of stops.
func (p *parser) value(stops string) (string, error) {
	p.skipSpace()
	if q := p.peek(); q == '"' || q == '\'' {
		end := strings.IndexByte(p.s[p.i+1:], q)
		if end < 0 {
			return "", p.errorf("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return unescape(v), nil
	}
	start := p.i
	for !p.eof() && !strings.ContainsRune(stops, rune(p.s[p.i])) {
		p.i++
	}
	return unescape(strings.TrimSpace(p.s[start:p.i])), nil
}

// unescape handles the \n and \t gcloud users write in separators and terminators.
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

func (p *parser) projection() ([]column, error) {
	var cols []column
	for {
		p.skipSpace()
		if p.peek() == ')' {
			p.i++
			return cols, nil
		}
		c, err := p.column()
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case ')':
		default:
			return nil, p.errorf("expected ',' or ')'")
		}
	}
}

// column parses key[.transform(args)…][:attr[=value]…].
func (p *parser) column() (column, error) {
	var c column
	for {
		name := p.ident()
		if name == "" {
			return c, p.errorf("expected a key")
		}
		if p.peek() == '(' { // a transform: basename(), join(",")
			p.i++
			args, err := p.transformArgs()
			if err != nil {
				return c, err
			}
			lim, ok := transformArity[name]
			if !ok {
				return c, fmt.Errorf("format: unknown transform %s() in %q", name, p.s)
			}
			if len(args) < lim[0] || len(args) > lim[1] {
				return c, fmt.Errorf("format: transform %s() takes %d to %d arguments in %q", name, lim[0], lim[1], p.s)
			}
			c.transforms = append(c.transforms, transform{name, args})
		} else {
			if len(c.transforms) > 0 {
				return c, p.errorf("a key cannot follow a transform")
			}
			part := keyPart{name: name}
			if p.peek() == '[' {
				if err := p.index(&part); err != nil {
					return c, err
				}
			}
			c.key = append(c.key, part)
		}
		if p.peek() != '.' {
			break
		}
		p.i++
	}
	for p.skipSpace(); p.peek() == ':'; p.skipSpace() {
		p.i++
		if err := p.columnAttribute(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (p *parser) index(part *keyPart) error {
	p.i++ // '['
	p.skipSpace()
	if p.peek() == ']' {
		p.i++
		part.all = true
		return nil
	}
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	for !p.eof() && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil {
		return p.errorf("expected a list index")
	}
	part.index = &n
	return p.expect(']')
}

func (p *parser) transformArgs() ([]string, error) {
	var args []string
	for {
		p.skipSpace()
		if p.peek() == ')' {
			p.i++
			return args, nil
		}
		v, err := p.value(",)")
		if err != nil {
			return nil, err
		}
		if k, val, ok := strings.Cut(v, "="); ok && isWord(k) { // yesno(yes="Y", no="N")
			v = k + "=" + strings.Trim(val, `"'`)
		}
		args = append(args, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case ')':
		default:
			return nil, p.errorf("expected ',' or ')' in transform arguments")
		}
	}
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func (p *parser) columnAttribute(c *column) error {
	name := p.ident()
	value := ""
	if p.peek() == '=' {
		p.i++
		v, err := p.value(",):")
		if err != nil {
			return err
		}
		value = v
	}
	switch name {
	case "label":
		c.label = value
	case "sort":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return p.errorf("sort takes a positive number")
		}
		c.sort = n
	case "reverse":
		c.reverse = true
	case "align", "wrap", "optional":
		// Layout hints gcloud accepts; a plain text table has nothing to do with them.
	default:
		return p.errorf("unknown key attribute %q", name)
	}
	return nil
}
