package controlplane

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// logFilter is a parsed Cloud Logging query (the subset `run services logs read` and
// users send): comparisons `field OP value` with =, !=, <, <=, >, >=, : (has), =~ and
// !~ (RE2), a bare value (the entry has it anywhere), NOT (or -) and parentheses,
// joined by AND (or juxtaposition) and OR. As in Cloud Logging, NOT binds tightest,
// then OR, then AND. Timestamps compare as times and severities by level.
type logFilter interface {
	match(e logFields) bool
}

// logFields are an entry's values by field path ("resource.labels.service_name").
type logFields map[string]string

const maxLogFilterLength = 20000

type logAnd []logFilter
type logOr []logFilter
type logNot struct{ f logFilter }
type logCompare struct {
	field, op, value string
	re               *regexp.Regexp
	at               time.Time // for timestamp comparisons
}
type logText string // a bare value

func (a logAnd) match(e logFields) bool {
	for _, f := range a {
		if !f.match(e) {
			return false
		}
	}
	return true
}

func (o logOr) match(e logFields) bool {
	for _, f := range o {
		if f.match(e) {
			return true
		}
	}
	return false
}

func (n logNot) match(e logFields) bool { return !n.f.match(e) }

func (t logText) match(e logFields) bool {
	for _, v := range e {
		if strings.Contains(strings.ToLower(v), strings.ToLower(string(t))) {
			return true
		}
	}
	return false
}

// severities in Cloud Logging's order.
var severities = map[string]int{"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500, "CRITICAL": 600, "ALERT": 700, "EMERGENCY": 800}

func (c *logCompare) match(e logFields) bool {
	v, ok := e[c.field]
	switch c.op {
	case ":":
		return ok && strings.Contains(strings.ToLower(v), strings.ToLower(c.value))
	case "=~":
		return ok && c.re.MatchString(v)
	case "!~":
		return !ok || !c.re.MatchString(v)
	}
	if !ok {
		return c.op == "!="
	}
	var cmp int
	switch {
	case c.field == "timestamp":
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return false
		}
		cmp = t.Compare(c.at)
	case c.field == "severity":
		a, b := severities[strings.ToUpper(v)], severities[strings.ToUpper(c.value)]
		cmp = a - b
	default:
		cmp = strings.Compare(v, c.value)
	}
	switch c.op {
	case "=":
		return cmp == 0
	case "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

// parseLogFilter parses a query; an empty one matches everything.
func parseLogFilter(s string) (logFilter, error) {
	if len(s) > maxLogFilterLength {
		return nil, fmt.Errorf("The filter is longer than %d characters.", maxLogFilterLength)
	}
	toks, err := tokenizeLogFilter(s)
	if err != nil {
		return nil, err
	}
	p := &logParser{toks: toks}
	f, err := p.and(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("Unexpected %q in the filter.", p.toks[p.i].text)
	}
	return f, nil
}

type logToken struct {
	text   string
	quoted bool
}

// tokenizeLogFilter splits a query into words, quoted strings, operators and
// parentheses.
func tokenizeLogFilter(s string) ([]logToken, error) {
	var toks []logToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ':':
			toks = append(toks, logToken{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("Unterminated quoted string in the filter.")
			}
			toks = append(toks, logToken{text: b.String(), quoted: true})
			i = j + 1
		case strings.IndexByte("=!<>", c) >= 0:
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '~') {
				op += string(s[i+1])
			}
			switch op {
			case "=", "!=", "<", "<=", ">", ">=", "=~", "!~":
			default:
				return nil, fmt.Errorf("Unknown operator %q in the filter.", op)
			}
			toks = append(toks, logToken{text: op})
			i += len(op)
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r():=!<>\"", s[j]) < 0 {
				j++
			}
			toks = append(toks, logToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type logParser struct {
	toks []logToken
	i    int
}

const maxLogFilterDepth = 64

func (p *logParser) peek() (logToken, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return logToken{}, false
}

func (p *logParser) keyword(word string) bool {
	t, ok := p.peek()
	return ok && !t.quoted && t.text == word
}

// and := or { [AND] or }
func (p *logParser) and(depth int) (logFilter, error) {
	var terms logAnd
	for {
		and := p.keyword("AND")
		if and {
			p.i++
		}
		t, ok := p.peek()
		end := !ok || (!t.quoted && t.text == ")")
		if and && (len(terms) == 0 || end) {
			return nil, errors.New("AND needs a term on each side in the filter.")
		}
		if end {
			break
		}
		f, err := p.or(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, f)
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

// or := unary { OR unary }
func (p *logParser) or(depth int) (logFilter, error) {
	f, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	terms := logOr{f}
	for p.keyword("OR") {
		p.i++
		f, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, f)
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

// unary := NOT unary | -unary | ( and ) | comparison | value
func (p *logParser) unary(depth int) (logFilter, error) {
	if depth > maxLogFilterDepth {
		return nil, errors.New("The filter nests too deeply.")
	}
	t, ok := p.peek()
	if !ok {
		return nil, errors.New("The filter ends where a term was expected.")
	}
	switch {
	case !t.quoted && t.text == "NOT":
		p.i++
		f, err := p.unary(depth + 1)
		return logNot{f}, err
	case !t.quoted && strings.HasPrefix(t.text, "-") && len(t.text) > 1:
		p.toks[p.i].text = t.text[1:]
		f, err := p.unary(depth + 1)
		return logNot{f}, err
	case !t.quoted && t.text == "(":
		p.i++
		f, err := p.and(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, errors.New("A parenthesis is not closed in the filter.")
		}
		p.i++
		return f, nil
	case !t.quoted && (t.text == ")" || t.text == "AND" || t.text == "OR" || isLogOp(t.text)):
		return nil, fmt.Errorf("Unexpected %q in the filter.", t.text)
	}
	p.i++
	op, ok := p.peek()
	if !ok || op.quoted || !isLogOp(op.text) {
		return logText(t.text), nil
	}
	p.i++
	v, ok := p.peek()
	if !ok || (!v.quoted && (v.text == "(" || v.text == ")" || isLogOp(v.text))) {
		return nil, fmt.Errorf("The comparison on %q has no value in the filter.", t.text)
	}
	p.i++
	c := &logCompare{field: t.text, op: op.text, value: v.text}
	switch {
	case c.op == "=~" || c.op == "!~":
		re, err := regexp.Compile(c.value)
		if err != nil {
			return nil, fmt.Errorf("Invalid regular expression %q in the filter.", c.value)
		}
		c.re = re
	case c.field == "timestamp":
		at, err := time.Parse(time.RFC3339Nano, c.value)
		if err != nil {
			return nil, fmt.Errorf("Invalid timestamp %q in the filter: use RFC 3339, such as 2026-01-02T15:04:05Z.", c.value)
		}
		c.at = at
	case c.field == "severity" && c.op != ":":
		if _, ok := severities[strings.ToUpper(c.value)]; !ok {
			return nil, fmt.Errorf("Unknown severity %q in the filter.", c.value)
		}
	}
	return c, nil
}

func isLogOp(s string) bool {
	switch s {
	case "=", "!=", "<", "<=", ">", ">=", ":", "=~", "!~":
		return true
	}
	return false
}
