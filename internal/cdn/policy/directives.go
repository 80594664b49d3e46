// Package policy is the edge cache's pure core: what a response's and a request's
// cache directives say (RFC 9111 section 5.2, RFC 9213's CDN-Cache-Control), how old a
// stored response is and for how long it is fresh (section 4.2), whether Cloud CDN's
// rules for the backend service's cdnPolicy let it be stored and for how long (the
// reference's section 2), what a request's cache key is, and the Cache-Status field
// that reports all of it (RFC 9211). Nothing here does I/O or reads a clock.
package policy

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Directives are the cache directives of one field: lower-cased names, each with its
// argument (unquoted; "" when it has none). The first occurrence of a name wins
// (RFC 9111 4.2.1 allows the first or treating the response as stale).
type Directives map[string]string

// maxDirectives bounds what one field may make the cache remember.
const maxDirectives = 64

// ParseDirectives parses the lines of a Cache-Control (or CDN-Cache-Control) field.
// Unknown directives are kept and ignored by their users; malformed ones are skipped.
// Both token and quoted-string arguments are accepted (RFC 9111 5.2).
func ParseDirectives(lines []string) Directives {
	d := Directives{}
	for _, line := range lines {
		for len(line) > 0 && len(d) < maxDirectives {
			var item string
			item, line = nextItem(line)
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || !isToken(name) {
				continue
			}
			if hasArg {
				arg = strings.TrimSpace(arg)
				if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
					arg = unquote(arg[1 : len(arg)-1])
				} else if !isToken(arg) {
					arg = "\x00invalid" // an argument that is neither a token nor a quoted string
				}
			}
			if _, seen := d[name]; !seen {
				d[name] = arg
			}
		}
	}
	return d
}

// nextItem splits off one comma-separated item, respecting quoted strings.
func nextItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Has reports whether the directive is present.
func (d Directives) Has(name string) bool {
	_, ok := d[name]
	return ok
}

// maxDelta is what a delta-seconds too large to represent means (RFC 9111 1.2.2).
const maxDelta = (1 << 31) * time.Second

// Delta returns a delta-seconds directive's value and whether the directive is
// present. A present directive with an invalid value (missing, negative, not digits)
// is 0: a response whose max-age is invalid is stale, not fresh.
func (d Directives) Delta(name string) (time.Duration, bool) {
	v, ok := d[name]
	if !ok {
		return 0, false
	}
	if v == "" {
		return 0, true
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, true
		}
		n = n*10 + int64(c-'0')
		if n >= 1<<31 {
			return maxDelta, true
		}
	}
	return time.Duration(n) * time.Second, true
}

// ResponseDirectives returns the directives a shared CDN cache obeys: those of
// CDN-Cache-Control when the response has that field and it is a valid Structured
// Field Dictionary with directives of the right types (RFC 9213: the targeted field
// then replaces Cache-Control for this cache), else Cache-Control's. targeted reports
// which.
func ResponseDirectives(h http.Header) (d Directives, targeted bool) {
	if lines := h.Values("Cdn-Cache-Control"); len(lines) > 0 {
		if d, ok := parseTargeted(lines); ok {
			return d, true
		}
	}
	return ParseDirectives(h.Values("Cache-Control")), false
}

// deltaString formats seconds for a directive.
func deltaString(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
