package policy

import (
	"strings"
	"time"
)

// httpDateLayouts are RFC 9110 5.6.7's three date formats: IMF-fixdate and the
// obsolete RFC 850 and asctime forms, which recipients must accept too.
var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
}

// ParseHTTPDate parses an HTTP-date strictly: a value is valid only when it is exactly
// one of the three formats (letter case and a wrong day name aside), so "2:01:18" or doubled spaces are
// invalid, which for Expires means already expired (RFC 9111 5.3). time.Parse alone is
// more lenient than the grammar.
func ParseHTTPDate(s string) (time.Time, bool) {
	for _, layout := range httpDateLayouts {
		if len(s) < len(layout)-3 || len(s) > len(layout)+6 {
			continue
		}
		t, err := time.Parse(layout, normaliseCase(s))
		if err != nil || !strings.EqualFold(afterWeekday(t.Format(layout)), afterWeekday(s)) {
			continue
		}
		return t, true
	}
	return time.Time{}, false
}

// afterWeekday is a date without its day name, which the date itself determines: a
// wrong one (as in "Thu Aug  8 02:01:18 2050", a Monday) is ignored, as time.Parse
// ignores it, rather than making the date invalid.
func afterWeekday(s string) string {
	if i := strings.IndexAny(s, ", "); i >= 0 {
		return s[i:]
	}
	return s
}

// normaliseCase capitalises day and month names and upper-cases GMT, so that a date in
// the wrong letter case still parses.
func normaliseCase(s string) string {
	b := []byte(s)
	word := false
	for i, c := range b {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case letter && !word:
			if c >= 'a' && c <= 'z' {
				b[i] = c - 32
			}
		case letter && word:
			if c >= 'A' && c <= 'Z' {
				b[i] = c + 32
			}
		}
		word = letter
	}
	out := string(b)
	if strings.HasSuffix(out, "Gmt") {
		out = out[:len(out)-3] + "GMT"
	}
	return out
}
