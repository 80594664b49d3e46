package format

import (
	"fmt"
	"strconv"
	"strings"
)

// The grammar, after gcloud's resource_projection_parser and resource_lex:
//
//	format     = NAME { "[" attributes "]" | "(" projection ")" }
//	attributes = [ attr { "," attr } ]          attr = name [ "=" value ]
//	projection = [ column { "," column } ]
//	column     = key [ call { "." call } ] { ":" name [ "=" value ] }
//	key        = "." | part { "." part }        part = name { "[" [ integer ] "]" }
//	call       = name "(" [ arg { "," arg } ] ")"
//
// Names, values and arguments are tokens: runs of characters up to a terminator or
// space, in which '...' or "..." quote terminators and \ escapes a quote or itself.

// maxExpression bounds the input; gcloud's own expressions are a few hundred bytes,
// and the bound keeps a hostile --format from costing much.
const maxExpression = 16 << 10

// keyTerminators end an unquoted key name: gcloud reserves these for operators.
const keyTerminators = ":=!<>~()[].{},+*/%&|^#;?"

// Limits on numbers that size output, so an expression cannot ask for gigabytes.
const (
	maxWidth     = 1000 // :width=N, table[pad=N]
	maxPrecision = 20   // size(precision=N)
)

type parser struct {
	src     string
	pos     int
	labels  map[string]bool // generated headings so far, to disambiguate as gcloud does
	pending int             // map() depth waiting for the next transform
}

func parse(expr string) (*Format, error) {
	if len(expr) > maxExpression {
		return nil, fmt.Errorf("format: expression is longer than %d bytes", maxExpression)
	}
	p := &parser{src: expr}
	return p.format()
}

// errorf reports a syntax error at the current offset.
func (p *parser) errorf(format string, args ...any) error {
	return p.errorAt(p.pos, format, args...)
}

func (p *parser) errorAt(pos int, format string, args ...any) error {
	return fmt.Errorf("format: %s at offset %d in %q", fmt.Sprintf(format, args...), pos, p.src)
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

// peek returns the next byte, or 0 at the end of input.
func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (p *parser) skipSpace() {
	for !p.eof() && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// token reads a possibly quoted token ending at one of terminators or at a space
// after the token's first character, as gcloud's lexer does. ok is false when there
// is no token at all (an empty quoted "" is a token). With balance, parentheses
// nest, so that transform arguments may contain them.
func (p *parser) token(terminators string, balance bool) (tok string, ok, quoted bool, err error) {
	var b strings.Builder
	var quote byte
	depth := 0
	i := p.pos
	for i < len(p.src) {
		c := p.src[i]
		switch {
		case c == '\\' && i+1 < len(p.src):
			// Only a backslash or a quote is escaped; \n and the like stay as written.
			next := p.src[i+1]
			if next != '\\' && next != quote && (quote != 0 || (next != '"' && next != '\'')) {
				b.WriteByte('\\')
			}
			b.WriteByte(next)
			ok = true
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, quoted, ok = c, true, true
		case quote == 0 && isSpace(c) && !ok:
			// Leading space.
		case quote == 0 && balance && (c == '(' || c == ')'):
			if c == ')' && depth == 0 && strings.IndexByte(terminators, c) >= 0 {
				p.pos = i
				return b.String(), ok, quoted, nil
			}
			if c == '(' {
				depth++
			} else {
				depth--
			}
			b.WriteByte(c)
			ok = true
		case quote == 0 && depth == 0 && strings.IndexByte(terminators, c) >= 0:
			p.pos = i
			return b.String(), ok, quoted, nil
		case quote != 0 || !isSpace(c) || (ok && balance):
			b.WriteByte(c)
			ok = true
		default: // a space after the token
			p.pos = i
			return b.String(), ok, quoted, nil
		}
		i++
	}
	if quote != 0 {
		p.pos = i
		return "", false, false, p.errorf("unterminated %c quote", quote)
	}
	p.pos = i
	return b.String(), ok, quoted, nil
}

// format parses the whole expression.
func (p *parser) format() (*Format, error) {
	p.skipSpace()
	start := p.pos
	name, _, _, err := p.token(":([", false)
	if err != nil {
		return nil, err
	}
	if name == "" || !isLetters(name) {
		return nil, p.errorAt(start, "expected a format name such as json, yaml, value(...) or table(...)")
	}
	kind, ok := printerFor(name)
	if !ok {
		return nil, fmt.Errorf("format: unknown format %q (known formats: %s)", name, knownFormats)
	}
	f := &Format{name: name, kind: kind, attrs: map[string]string{}}
	for p.skipSpace(); !p.eof(); p.skipSpace() {
		switch p.peek() {
		case '[':
			p.pos++
			if err := p.attributes(f.attrs); err != nil {
				return nil, err
			}
		case '(':
			p.pos++
			p.labels = map[string]bool{} // a later projection replaces an earlier one
			cols, err := p.projection()
			if err != nil {
				return nil, err
			}
			f.columns = cols
		default:
			return nil, p.errorf("unexpected %q after the format name; a format is NAME[ATTRIBUTES](KEYS)", p.src[p.pos:])
		}
	}
	if kind.needsProjection() && len(f.columns) == 0 {
		return nil, fmt.Errorf("format: %s needs keys to print, such as %s(name, status)", name, name)
	}
	if err := checkAttributes(f.attrs); err != nil {
		return nil, err
	}
	return f, nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// attributes parses [no-]name[=value] pairs after '['. A later no-X cancels X and
// X cancels no-X, as in gcloud. Unknown attributes are kept and ignored, as gcloud
// ignores them.
func (p *parser) attributes(into map[string]string) error {
	for {
		name, _, _, err := p.token("=,])", false)
		if err != nil {
			return err
		}
		p.skipSpace()
		if name != "" {
			value := ""
			if p.peek() == '=' {
				p.pos++
				if value, _, _, err = p.token(",])", false); err != nil {
					return err
				}
				// gcloud lets users write \n and \t for separators and terminators.
				value = strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(value)
				p.skipSpace()
			}
			into[name] = value
			if base, ok := strings.CutPrefix(name, "no-"); ok {
				delete(into, base)
			} else {
				delete(into, "no-"+name)
			}
		}
		switch p.peek() {
		case ']':
			p.pos++
			return nil
		case ',':
			p.pos++
		case 0:
			return p.errorf("expected ']'")
		default:
			return p.errorf("expected ',' or ']' in the attributes")
		}
	}
}

// checkAttributes validates the printer attributes that take numbers.
func checkAttributes(attrs map[string]string) error {
	if v, ok := attrs["pad"]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > maxWidth {
			return fmt.Errorf("format: pad=%q: want a number from 0 to %d", v, maxWidth)
		}
	}
	return nil
}

// projection parses the comma-separated columns after '('.
func (p *parser) projection() ([]*column, error) {
	cols := []*column{}
	p.skipSpace()
	if p.peek() == ')' {
		p.pos++
		return cols, nil
	}
	for {
		c, err := p.column()
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
		p.skipSpace()
		switch p.peek() {
		case ')':
			p.pos++
			return cols, nil
		case ',':
			p.pos++
		case 0:
			return nil, p.errorf("expected ')'")
		default:
			return nil, p.errorf("expected ',' or ')'")
		}
	}
}

// column parses a key, its transforms and its :attributes.
func (p *parser) column() (*column, error) {
	p.skipSpace()
	start := p.pos
	k, err := p.key()
	if err != nil {
		return nil, err
	}
	c := &column{key: k}
	if p.peek() == '(' {
		// The key's last name was a transform: region.basename().
		last := len(k) - 1
		if last < 0 || k[last].kind != partName {
			return nil, p.errorf("expected a transform name before '('")
		}
		c.key = k[:last]
		if err := p.transforms(c, k[last].name, p.pos-len(k[last].name)); err != nil {
			return nil, err
		}
	} else if p.pos == start {
		return nil, p.errorf("expected a key")
	}
	for p.skipSpace(); p.peek() == ':'; p.skipSpace() {
		p.pos++
		if err := p.keyAttribute(c); err != nil {
			return nil, err
		}
	}
	c.label = p.heading(c)
	return c, nil
}

// key parses a dotted key with [N] and [] indexes. A lone "." is the whole resource.
func (p *parser) key() (key, error) {
	var k key
	for !p.eof() {
		name, ok, _, err := p.token(keyTerminators, false)
		if err != nil {
			return nil, err
		}
		if ok && name != "" {
			k = append(k, keyPart{kind: partName, name: name})
		} else if p.peek() != '[' {
			if len(k) == 0 && p.peek() == '.' && p.wholeResourceDot() {
				p.pos++
				return k, nil
			}
			return nil, p.errorf("expected a key name")
		}
		if p.peek() == ']' {
			return nil, p.errorf("unmatched ']' in a key")
		}
		for p.peek() == '[' {
			p.pos++
			part, err := p.index()
			if err != nil {
				return nil, err
			}
			k = append(k, part)
		}
		if p.peek() != '.' {
			return k, nil
		}
		p.pos++
		if p.eof() {
			return nil, p.errorf("expected a key name after '.'")
		}
	}
	return k, nil
}

// wholeResourceDot reports whether the '.' at the current offset stands alone, as in
// value(.), rather than starting a key.
func (p *parser) wholeResourceDot() bool {
	next := p.pos + 1
	if next >= len(p.src) {
		return true
	}
	c := p.src[next]
	return c != '.' && (isSpace(c) || strings.IndexByte(keyTerminators, c) >= 0)
}

// index parses what follows '[' in a key: "]", "N]" or a quoted member name.
func (p *parser) index() (keyPart, error) {
	p.skipSpace()
	tok, ok, quoted, err := p.token("]", false)
	if err != nil {
		return keyPart{}, err
	}
	p.skipSpace()
	if p.peek() != ']' {
		return keyPart{}, p.errorf("expected ']'")
	}
	p.pos++
	if !ok || (tok == "" && !quoted) {
		return keyPart{kind: partSlice}, nil
	}
	if !quoted {
		if n, err := strconv.Atoi(tok); err == nil {
			return keyPart{kind: partIndex, index: n}, nil
		}
	}
	return keyPart{kind: partName, name: tok}, nil
}

// transforms parses name(args) and any .name(args) that follow, starting after the
// first name.
func (p *parser) transforms(c *column, name string, nameAt int) error {
	// A map() that ends a column has nothing to apply to; it must not carry over
	// to the next column.
	defer func() { p.pending = 0 }()
	for {
		p.pos++ // '('
		args, err := p.args()
		if err != nil {
			return err
		}
		if err := p.addTransform(c, name, nameAt, args); err != nil {
			return err
		}
		if p.peek() != '.' {
			return nil
		}
		p.pos++
		nameAt = p.pos
		next, err := p.key()
		if err != nil {
			return err
		}
		if p.peek() != '(' {
			return p.errorf("expected a transform such as .basename() after a transform")
		}
		if len(next) != 1 || next[0].kind != partName {
			return p.errorAt(nameAt, "expected a transform name")
		}
		name = next[0].name
	}
}

// addTransform binds a call to its transform. map() is not a transform of its own:
// it makes the next one apply to each item of a list.
func (p *parser) addTransform(c *column, name string, at int, args []string) error {
	if name == "map" {
		depth := 1
		if len(args) > 1 {
			return p.errorAt(at, "map() takes at most one argument")
		}
		if len(args) == 1 {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > 100 {
				return p.errorAt(at, "map(%q): want a depth from 1 to 100", args[0])
			}
			depth = n
		}
		p.pending = depth
		return nil
	}
	spec, ok := lookupTransform(name)
	if !ok {
		return p.errorAt(at, "unknown transform %s()", name)
	}
	eval, err := spec.bind(args)
	if err != nil {
		return p.errorAt(at, "%s(): %v", name, err)
	}
	c.transforms = append(c.transforms, transform{name: name, args: args, eval: eval, eachItem: spec.eachItem, mapDepth: p.pending})
	p.pending = 0
	return nil
}

// args parses a transform's arguments after '(' up to and including ')'.
func (p *parser) args() ([]string, error) {
	var args []string
	required := false
	for {
		here := p.pos
		arg, ok, _, err := p.token(",)", true)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		end := false
		switch p.peek() {
		case ')':
			end = true
		case ',':
		case 0:
			return nil, p.errorf("expected ')' after the transform arguments")
		default:
			return nil, p.errorf("expected ',' or ')' in the transform arguments")
		}
		p.pos++
		if ok {
			args = append(args, arg)
		} else if required || !end {
			return nil, p.errorAt(here, "expected a transform argument")
		}
		if end {
			return args, nil
		}
		required = true
	}
}

// keyAttribute parses one :name[=value] after a key.
func (p *parser) keyAttribute(c *column) error {
	at := p.pos
	name, _, _, err := p.token("=:,)", false)
	if err != nil {
		return err
	}
	value, hasValue := "", false
	if p.peek() == '=' {
		p.pos++
		if value, _, _, err = p.token(":,)", false); err != nil {
			return err
		}
		hasValue = true
	}
	on := true
	if base, ok := strings.CutPrefix(name, "no-"); ok && !hasValue {
		name, on = base, false
	}
	switch name {
	case "optional", "reverse":
		if hasValue {
			return p.errorAt(at, "key attribute %s takes no value", name)
		}
		if name == "optional" {
			c.optional = on
		} else {
			c.reverse = on
		}
		return nil
	case "wrap":
		return nil // wrapping needs the terminal width; tables are printed unwrapped
	case "":
		return p.errorAt(at, "expected a key attribute such as label=NAME")
	}
	if !hasValue {
		return p.errorAt(at, "key attribute %s needs a value, as in %s=VALUE", name, name)
	}
	return p.setKeyAttribute(c, name, value, at)
}

// setKeyAttribute applies one of the valued key attributes.
func (p *parser) setKeyAttribute(c *column, name, value string, at int) error {
	switch name {
	case "label":
		c.label, c.labelSet = value, true
	case "alias":
		// Aliases name keys for --filter and later projections; there is nothing to
		// do with one here.
	case "align":
		if value != "left" && value != "center" && value != "right" {
			return p.errorAt(at, "align=%q: want left, center or right", value)
		}
		c.align = value
	case "sort":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return p.errorAt(at, "sort=%q: want a positive number", value)
		}
		c.order = n
	case "width":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > maxWidth {
			return p.errorAt(at, "width=%q: want a number from 0 to %d", value, maxWidth)
		}
		c.width = n
	case "format":
		return p.errorAt(at, "nested formats (:format=...) are not supported")
	default:
		return p.errorAt(at, "unknown key attribute %q", name)
	}
	return nil
}

// heading returns the column's label: the one given, else gcloud's default, the
// key's last name in ANGRY_SNAKE_CASE, with earlier names prefixed while that
// heading is already taken (first.name, last.name => NAME, LAST_NAME).
func (p *parser) heading(c *column) string {
	if c.labelSet {
		return c.label
	}
	names := c.key.names()
	if len(names) == 0 && len(c.transforms) > 0 {
		// A transform of the whole resource, such as firstof(a, b), is named by its
		// call.
		names = append([]string{c.transforms[0].name}, c.transforms[0].args...)
	}
	label := ""
	for i := len(names) - 1; i >= 0; i-- {
		part := angrySnake(names[i])
		if label == "" {
			label = part
		} else {
			label = part + "_" + label
		}
		if !p.labels[label] {
			p.labels[label] = true
			break
		}
	}
	return label
}
