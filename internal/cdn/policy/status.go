package policy

import (
	"strconv"
	"strings"
	"time"
)

// StatusInfo is what one cache did with a request, for its Cache-Status member
// (RFC 9211).
type StatusInfo struct {
	Hit       bool
	Fwd       string // uri-miss, vary-miss, stale, bypass, ... ("" on a hit)
	FwdStatus int    // the status the forwarded request got
	Stored    bool   // the response was stored
	TTL       *time.Duration
	Collapsed bool   // the request was coalesced onto another's fill
	Detail    string // a token with more detail
}

// Status renders a Cache-Status field member for the cache named name.
func Status(name string, i StatusInfo) string {
	var b strings.Builder
	if sfToken(name) {
		b.WriteString(name)
	} else {
		b.WriteString(strconv.Quote(name))
	}
	if i.Hit {
		b.WriteString("; hit")
	}
	if i.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(i.Fwd)
		if i.FwdStatus != 0 {
			b.WriteString("; fwd-status=")
			b.WriteString(strconv.Itoa(i.FwdStatus))
		}
	}
	if i.Stored {
		b.WriteString("; stored")
	}
	if i.Collapsed {
		b.WriteString("; collapsed")
	}
	if i.TTL != nil {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(int64(*i.TTL/time.Second), 10))
	}
	if i.Detail != "" {
		b.WriteString("; detail=")
		b.WriteString(strconv.Quote(i.Detail))
	}
	return b.String()
}

// sfToken reports whether s can be written as a Structured Field token (RFC 8941).
func sfToken(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] != ':' && s[i] != '/' && !isToken(s[i:i+1]) {
			return false
		}
	}
	return true
}
