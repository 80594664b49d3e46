package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// filter is a parsed Compute list filter: comparisons `field = value`, `field != value`
// (with `*` as a wildcard), `field eq regex`, `field ne regex` (RE2, full match), and
// `>`/`<` on numbers or strings, grouped with parentheses and joined by AND (or
// juxtaposition) and OR. AND binds tighter than OR.
type filter struct {
	or [][]comparison // disjunction of conjunctions; empty matches everything
}

type comparison struct {
	field []string
	op    string
	value string
	re    *regexp.Regexp
}

const maxFilterLength = 4096

func parseFilter(s string) (*filter, error) {
	if len(s) > maxFilterLength {
		return nil, fmt.Errorf("The filter is longer than %d characters.", maxFilterLength)
	}
	toks, err := tokenizeFilter(s)
	if err != nil {
		return nil, err
	}
	f := &filter{}
	var and []comparison
	for i := 0; i < len(toks); {
		switch strings.ToUpper(toks[i]) {
		case "AND":
			i++
			continue
		case "OR":
			if len(and) == 0 {
				return nil, errors.New("OR needs a comparison on each side.")
			}
			f.or, and = append(f.or, and), nil
			i++
			continue
		}
		if i+2 >= len(toks) {
			return nil, fmt.Errorf("Incomplete comparison at %q.", strings.Join(toks[i:], " "))
		}
		c, err := newComparison(toks[i], toks[i+1], toks[i+2])
		if err != nil {
			return nil, err
		}
		and = append(and, c)
		i += 3
	}
	if len(and) > 0 {
		f.or = append(f.or, and)
	} else if len(f.or) > 0 {
		return nil, errors.New("OR needs a comparison on each side.")
	}
	return f, nil
}

// tokenizeFilter splits on spaces, treating parentheses as separators (grouping is
// flattened: Compute filters AND their parenthesised terms) and "…" as one token.
func tokenizeFilter(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '(' || c == ')':
			i++
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, errors.New("Unterminated quoted string.")
			}
			toks = append(toks, s[i+1:i+1+end])
			i += end + 2
		case c == '=' || c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, errors.New("Unknown operator '!'.")
			}
			toks = append(toks, op)
			i += len(op)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()=!<>\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func newComparison(field, op, value string) (comparison, error) {
	c := comparison{field: strings.Split(field, "."), op: strings.ToLower(op), value: value}
	switch c.op {
	case "=", "!=", "<", ">", "<=", ">=":
	case "eq", "ne":
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return c, fmt.Errorf("Invalid regular expression %q.", value)
		}
		c.re = re
	case "==":
		c.op = "="
	default:
		return c, fmt.Errorf("Unknown operator %q.", op)
	}
	for _, p := range c.field {
		if p == "" {
			return c, fmt.Errorf("Invalid field name %q.", field)
		}
	}
	return c, nil
}

func (f *filter) matches(item any) bool {
	if len(f.or) == 0 {
		return true
	}
	for _, and := range f.or {
		all := true
		for _, c := range and {
			if !c.matches(item) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// matches is true if any value at the field path (lists fan out) compares true;
// "!=" and "ne" are true when no value matches.
func (c comparison) matches(item any) bool {
	values := lookup(item, c.field)
	negate := c.op == "!=" || c.op == "ne"
	for _, v := range values {
		if c.test(v) {
			return !negate
		}
	}
	return negate
}

func (c comparison) test(v string) bool {
	// A reference may be compared with its full URL or its relative path.
	lit := c.value
	if i := strings.Index(lit, "/projects/"); i >= 0 && strings.HasPrefix(v, "projects/") {
		lit = lit[i+1:]
	}
	switch c.op {
	case "=", "!=":
		return wildcardMatch(lit, v)
	case "eq", "ne":
		return c.re.MatchString(v)
	}
	var a, b float64
	if _, err := fmt.Sscan(v, &a); err == nil {
		if _, err := fmt.Sscan(lit, &b); err == nil {
			return compareOrdered(c.op, a, b)
		}
	}
	return compareOrdered(c.op, v, lit)
}

func compareOrdered[T float64 | string](op string, a, b T) bool {
	switch op {
	case "<":
		return a < b
	case ">":
		return a > b
	case "<=":
		return a <= b
	}
	return a >= b
}

// wildcardMatch matches a pattern where "*" stands for any run of characters.
func wildcardMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// lookup returns the scalar values at a path, fanning out over lists.
func lookup(v any, path []string) []string {
	if len(path) == 0 {
		switch t := v.(type) {
		case nil:
			return nil
		case []any:
			var out []string
			for _, e := range t {
				out = append(out, lookup(e, nil)...)
			}
			return out
		case string:
			return []string{t}
		case json.Number:
			return []string{t.String()}
		case bool:
			return []string{fmt.Sprint(t)}
		}
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		return lookup(t[path[0]], path[1:])
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, lookup(e, path)...)
		}
		return out
	}
	return nil
}
