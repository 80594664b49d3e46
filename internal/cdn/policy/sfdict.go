package policy

import "strings"

// integerDirectives take a non-negative integer in CDN-Cache-Control.
var integerDirectives = map[string]bool{"max-age": true, "s-maxage": true, "stale-while-revalidate": true, "stale-if-error": true}

// booleanDirectives are flags in CDN-Cache-Control.
var booleanDirectives = map[string]bool{"no-store": true, "no-cache": true, "private": true, "public": true,
	"must-revalidate": true, "proxy-revalidate": true, "no-transform": true, "immutable": true, "must-understand": true}

// parseTargeted parses a CDN-Cache-Control field as RFC 9213 defines it: a Structured
// Field Dictionary (RFC 8941). ok is false when the field is not a valid dictionary or
// a directive has the wrong type; the cache then ignores the field.
func parseTargeted(lines []string) (Directives, bool) {
	p := sfParser{s: strings.Join(lines, ", ")}
	d := Directives{}
	p.sp()
	if p.end() {
		return nil, false
	}
	for {
		name, ok := p.key()
		if !ok {
			return nil, false
		}
		value, kind := "", sfTrue
		if p.eat('=') {
			if value, kind, ok = p.memberValue(); !ok {
				return nil, false
			}
		}
		if !p.params() {
			return nil, false
		}
		switch {
		case integerDirectives[name]:
			if kind != sfInteger || strings.HasPrefix(value, "-") {
				return nil, false
			}
		case booleanDirectives[name]:
			if kind == sfFalse {
				delete(d, name)
				goto next
			}
			if kind != sfTrue && name != "no-cache" && name != "private" {
				return nil, false
			}
			value = ""
		}
		if len(d) < maxDirectives {
			d[name] = value // the last of a duplicated key wins in a dictionary
		}
	next:
		p.ows()
		if p.end() {
			return d, true
		}
		if !p.eat(',') {
			return nil, false
		}
		p.ows()
		if p.end() {
			return nil, false // a trailing comma
		}
	}
}

type sfKind int

const (
	sfTrue sfKind = iota
	sfFalse
	sfInteger
	sfOther
)

type sfParser struct {
	s string
	i int
}

func (p *sfParser) end() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.end() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) eat(c byte) bool {
	if p.peek() == c && !p.end() {
		p.i++
		return true
	}
	return false
}

func (p *sfParser) sp() {
	for p.peek() == ' ' {
		p.i++
	}
}

func (p *sfParser) ows() {
	for p.peek() == ' ' || p.peek() == '\t' {
		p.i++
	}
}

func lcalpha(c byte) bool { return c >= 'a' && c <= 'z' }
func digit(c byte) bool   { return c >= '0' && c <= '9' }
func alpha(c byte) bool   { return lcalpha(c) || c >= 'A' && c <= 'Z' }

func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !lcalpha(c) && c != '*' {
		return "", false
	}
	for !p.end() {
		c := p.peek()
		if !lcalpha(c) && !digit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

func (p *sfParser) memberValue() (string, sfKind, bool) {
	if p.eat('(') { // an inner list
		for {
			p.sp()
			if p.eat(')') {
				return "", sfOther, p.params()
			}
			if _, _, ok := p.bareItem(); !ok || !p.params() {
				return "", 0, false
			}
			if c := p.peek(); c != ' ' && c != ')' {
				return "", 0, false
			}
		}
	}
	return p.bareItem()
}

func (p *sfParser) params() bool {
	for p.eat(';') {
		p.sp()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.eat('=') {
			if _, _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) bareItem() (string, sfKind, bool) {
	start := p.i
	switch c := p.peek(); {
	case c == '-' || digit(c):
		p.eat('-')
		n, decimal := 0, false
		for !p.end() && (digit(p.peek()) || p.peek() == '.' && !decimal) {
			if p.peek() == '.' {
				decimal = true
			} else {
				n++
			}
			p.i++
		}
		if n == 0 || n > 15 || p.s[p.i-1] == '.' {
			return "", 0, false
		}
		if decimal {
			return p.s[start:p.i], sfOther, true
		}
		return p.s[start:p.i], sfInteger, true
	case c == '"':
		p.i++
		for !p.end() {
			switch ch := p.s[p.i]; {
			case ch == '\\':
				if p.i+1 >= len(p.s) || (p.s[p.i+1] != '"' && p.s[p.i+1] != '\\') {
					return "", 0, false
				}
				p.i += 2
			case ch == '"':
				p.i++
				return unquote(p.s[start+1 : p.i-1]), sfOther, true
			case ch < 0x20 || ch > 0x7e:
				return "", 0, false
			default:
				p.i++
			}
		}
		return "", 0, false
	case alpha(c) || c == '*':
		for !p.end() {
			ch := p.peek()
			if !isToken(string(ch)) && ch != ':' && ch != '/' {
				break
			}
			p.i++
		}
		return p.s[start:p.i], sfOther, true
	case c == ':':
		p.i++
		for !p.end() && p.peek() != ':' {
			ch := p.peek()
			if !alpha(ch) && !digit(ch) && ch != '+' && ch != '/' && ch != '=' {
				return "", 0, false
			}
			p.i++
		}
		return "", sfOther, p.eat(':')
	case c == '?':
		p.i++
		switch {
		case p.eat('1'):
			return "", sfTrue, true
		case p.eat('0'):
			return "", sfFalse, true
		}
	}
	return "", 0, false
}
