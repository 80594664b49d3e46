package policy

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"meridian/api"
)

// Key is a request's primary cache key under a cacheKeyPolicy: by default the full
// URI (protocol, host, path, query). Query parameters are sorted, so their order does
// not matter, and filtered by the allow-list or deny-list; named headers and cookies
// are appended, each length-prefixed so that no two requests share a key by accident.
// path is the request's escaped path.
func Key(scheme, host, path, rawQuery string, h http.Header, kp *api.CacheKeyPolicy) string {
	if kp == nil {
		kp = &api.CacheKeyPolicy{}
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + 1 + len(rawQuery)) // one allocation for the usual key
	if on(kp.IncludeProtocol) {
		b.WriteString(strings.ToLower(scheme))
		b.WriteString("://")
	} else {
		b.WriteString("//")
	}
	if on(kp.IncludeHost) {
		b.WriteString(strings.ToLower(host))
	}
	b.WriteString(path)
	if on(kp.IncludeQueryString) {
		if q := normalQuery(rawQuery, kp.QueryStringWhitelist, kp.QueryStringBlacklist); q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
	}
	for _, name := range kp.IncludeHTTPHeaders {
		b.WriteString("\x00h")
		field(&b, strings.ToLower(name))
		field(&b, strings.Join(h.Values(name), ","))
	}
	if len(kp.IncludeNamedCookies) > 0 {
		cookies := (&http.Request{Header: http.Header{"Cookie": h.Values("Cookie")}}).Cookies()
		for _, name := range kp.IncludeNamedCookies {
			b.WriteString("\x00c")
			field(&b, name)
			for _, c := range cookies {
				if c.Name == name {
					field(&b, c.Value)
					break
				}
			}
		}
	}
	return b.String()
}

func on(b *bool) bool { return b == nil || *b }

// field writes a length-prefixed value.
func field(b *strings.Builder, v string) {
	b.WriteString(strconv.Itoa(len(v)))
	b.WriteByte(':')
	b.WriteString(v)
}

// normalQuery sorts a query's parameters and keeps those the lists select (by decoded
// name). Parameters keep their encoding.
func normalQuery(raw string, allow, deny []string) string {
	if raw == "" {
		return ""
	}
	params := strings.Split(raw, "&")
	kept := params[:0]
	for _, p := range params {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if len(allow) > 0 && !slices.Contains(allow, name) {
			continue
		}
		if len(deny) > 0 && slices.Contains(deny, name) {
			continue
		}
		kept = append(kept, p)
	}
	slices.Sort(kept)
	return strings.Join(kept, "&")
}

// SecondaryKey is the part of a variant's key made of the request headers its
// response varies on (RFC 9111 4.1): each named field's values, with whitespace
// around commas normalised.
func SecondaryKey(vary []string, h http.Header) string {
	var b strings.Builder
	for _, name := range vary {
		name = http.CanonicalHeaderKey(strings.TrimSpace(name))
		if name == "*" {
			return "\x00*" // matches nothing stored
		}
		var vals []string
		for _, line := range h.Values(name) {
			for _, v := range strings.Split(line, ",") {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		field(&b, name)
		if vals == nil {
			b.WriteByte('-') // absent differs from empty
			continue
		}
		field(&b, strings.Join(vals, ","))
	}
	return b.String()
}
