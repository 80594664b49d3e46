package policy

import (
	"net/http"
	"time"
)

// Age is a stored response's current age (RFC 9111 4.2.3): the age it had when it
// arrived (InitialAge) plus the time it has been stored.
func Age(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	return InitialAge(h, requestTime, responseTime) + max(0, now.Sub(responseTime))
}

// InitialAge is a response's corrected initial age (RFC 9111 4.2.3): the larger of its
// apparent age (response time minus Date) and its Age header plus the time the
// exchange took. A cache computes it once, when it stores the response.
func InitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	ageValue, _ := ParseDirectives([]string{"age=" + h.Get("Age")}).Delta("age")
	apparent := time.Duration(0)
	if date, ok := ParseHTTPDate(h.Get("Date")); ok {
		apparent = max(0, responseTime.Sub(date))
	}
	delay := max(0, responseTime.Sub(requestTime))
	return max(apparent, ageValue+delay)
}

// Lifetime is a response's explicit freshness lifetime for a shared cache (RFC 9111
// 4.2.1): s-maxage, else max-age, else Expires minus Date. ok is false when the
// response gives none. An invalid value gives a lifetime of 0 (stale), as does an
// invalid or repeated Expires.
func Lifetime(d Directives, h http.Header, responseTime time.Time) (time.Duration, bool) {
	if v, ok := d.Delta("s-maxage"); ok {
		return v, true
	}
	if v, ok := d.Delta("max-age"); ok {
		return v, true
	}
	expires := h.Values("Expires")
	if len(expires) == 0 {
		return 0, false
	}
	exp, ok := ParseHTTPDate(expires[0])
	if !ok || len(expires) > 1 {
		return 0, true // "0" and other invalid dates are in the past (RFC 9111 5.3)
	}
	date, ok := ParseHTTPDate(h.Get("Date"))
	if !ok {
		date = responseTime
	}
	return max(0, exp.Sub(date)), true
}

// Freshness is what a stored response may do for a request.
type Freshness int

const (
	// FreshHit: serve it.
	FreshHit Freshness = iota
	// StaleServeWhileRevalidate: serve it and revalidate it in the background.
	StaleServeWhileRevalidate
	// MustValidate: validate it with the origin before serving.
	MustValidate
)

// Check says what a stored response of the given decision and age may do for a
// request with header req. Of the request's directives only max-stale is honoured
// (Cloud CDN ignores no-cache, max-age, min-fresh and only-if-cached in requests).
func Check(d Decision, age time.Duration, req http.Header) Freshness {
	if d.NoCache {
		return MustValidate
	}
	if age < d.TTL {
		return FreshHit
	}
	if d.NoStale {
		return MustValidate // must-revalidate, proxy-revalidate, s-maxage (RFC 9111 4.2.4)
	}
	stale := age - d.TTL
	rd := ParseDirectives(req.Values("Cache-Control"))
	if v, ok := rd["max-stale"]; ok {
		if v == "" {
			return FreshHit // any staleness (RFC 9111 5.2.1.2)
		}
		if limit, _ := rd.Delta("max-stale"); stale <= limit {
			return FreshHit
		}
	}
	if stale < d.StaleWhileRevalidate {
		return StaleServeWhileRevalidate
	}
	return MustValidate
}
