package format

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// gcloud is written in Python, and its output shows it: True and False, None, and
// lists printed as Python literals. These functions reproduce that text.

// toFloat reads a JSON number, or a string holding one, as Python's float() would.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case bool:
		return 0, false
	}
	return number(v)
}

// number returns v's value when v is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// numberText prints a number as gcloud's printers do: integers without a decimal
// point (a float64 1 prints "1"), other values to 6 significant digits
// (resource_transform.TransformFloat).
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		if isIntegerLiteral(string(x)) {
			return string(x), true
		}
		if f, err := x.Float64(); err == nil {
			return floatText(f), true
		}
		return string(x), true
	case int, int64, int32, uint64:
		return fmt.Sprint(x), true
	}
	if f, ok := number(v); ok {
		return floatText(f), true
	}
	return "", false
}

func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// integral reports whether f prints as an integer: JSON does not tell 1 from 1.0,
// and API integers are the common case. Huge values keep their exponent.
func integral(f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) < 1e21
}

// floatText is gcloud's TransformFloat: Python's '{:.6}' (6 significant digits,
// exponent form from 1e5 up and below 1e-4), with exponents +05 to +08 spelled out
// with one decimal instead.
func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case integral(f):
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	e := strconv.FormatFloat(f, 'e', 5, 64) // d.ddddde±XX, rounded as Python rounds
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	switch {
	case exp >= 5 && exp < 9:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case exp >= 9 || exp < -4:
		return trimZeros(e[:i]) + e[i:]
	}
	s := trimZeros(strconv.FormatFloat(f, 'f', 5-exp, 64))
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// trimZeros drops trailing zeros after a decimal point, and the point if bare.
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// floatRepr is Python's repr() of a float: the shortest text that reads back, with
// an exponent below 1e-4 and from 1e16 up.
func floatRepr(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) || integral(f) {
		return floatText(f)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// pyStr is Python's str(): what gcloud's list(), join() and list format print.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case []any, map[string]any:
		return pyRepr(v)
	case json.Number:
		if isIntegerLiteral(string(x)) {
			return string(x)
		}
	}
	if f, ok := number(v); ok {
		return floatRepr(f)
	}
	return fmt.Sprint(v)
}

// itemStr is pyStr for an item of a list being joined; a missing (nil) item is
// empty rather than Python's "None".
func itemStr(v any) string {
	if v == nil {
		return ""
	}
	return pyStr(v)
}

// pyRepr is Python's repr(): ['a', 'b'] and {'k': True}. Object keys are sorted.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return pyQuote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, pyQuote(k)+": "+pyRepr(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return pyStr(v)
}

// pyQuote quotes s as Python's repr() does: single quotes unless s holds one and no
// double quote.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// cellText is a table cell, as gcloud's table printer writes values: strings as
// they are, numbers per numberText, lists and objects as Python literals.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return pyStr(x)
	case []any, map[string]any:
		return pyRepr(x)
	}
	if s, ok := numberText(v); ok {
		return s
	}
	return fmt.Sprint(v)
}

// truthy is Python's truth value of a JSON value: None, False, 0, "", [] and {} are
// false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	return true
}

// compareValues orders values as gcloud's table sort does: numbers (and Booleans)
// first by value, then everything by its text.
func compareValues(a, b any) int {
	na, nb := sortNumber(a), sortNumber(b)
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return strings.Compare(cellText(a), cellText(b))
}

// sortNumber is gcloud's _Numify: a number's value, +Inf for anything else.
func sortNumber(v any) float64 {
	if b, ok := v.(bool); ok {
		if b {
			return 1
		}
		return 0
	}
	if f, ok := number(v); ok && !math.IsNaN(f) {
		return f
	}
	return math.Inf(1)
}

// width is the number of columns s takes on a terminal, counted in runes.
func width(s string) int {
	return utf8.RuneCountInString(s)
}

// pad appends n spaces, or none when n is not positive.
func pad(b *strings.Builder, n int) {
	for ; n > 0; n-- {
		b.WriteByte(' ')
	}
}

// justify pads s to w columns: align is left (""), right or center.
func justify(s string, w int, align string) string {
	gap := w - width(s)
	if gap <= 0 {
		return s
	}
	var b strings.Builder
	switch align {
	case "right":
		pad(&b, gap)
		b.WriteString(s)
	case "center":
		left := centerLeft(gap, w)
		pad(&b, left)
		b.WriteString(s)
		pad(&b, gap-left)
	default:
		b.WriteString(s)
		pad(&b, gap)
	}
	return b.String()
}

// centerLeft is how many of gap spaces Python's str.center(w) puts on the left.
func centerLeft(gap, w int) int {
	return gap/2 + (gap & w & 1)
}
