package policy

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"meridian/api"
)

// Request is what Decide needs of the request a response answers.
type Request struct {
	Method string
	Header http.Header
	Signed bool // carries a valid signed URL or cookie
}

// Response is what Decide needs of a response.
type Response struct {
	Status                    int
	Header                    http.Header
	RequestTime, ResponseTime time.Time
	BodySize                  int64 // -1 when not known in advance
	// HTTP1Framed: the origin delimited the body (Content-Length, Content-Range or
	// chunked), not by closing the connection. Cloud CDN stores only delimited bodies.
	HTTP1Framed bool
}

// Decision is whether and how a response is stored.
type Decision struct {
	Store  bool
	Reason string // cacheDecision in the request log: why it was or was not stored
	// TTL is the freshness lifetime the cache uses (clamped to 30 days).
	TTL time.Duration
	// NoCache: validate with the origin before every use (response no-cache).
	NoCache bool
	// NoStale: never serve stale (must-revalidate, proxy-revalidate, s-maxage).
	NoStale bool
	// StaleWhileRevalidate is how long past its TTL the response may be served while
	// one background revalidation runs.
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long past its TTL the response may be served when its
	// validation fails (the origin cannot be reached or answers 5xx): serveWhileStale.
	StaleIfError time.Duration
	// ClientCacheControl replaces the Cache-Control sent to clients ("" keeps it).
	ClientCacheControl string
	// Negative: the TTL comes from negative caching.
	Negative bool
}

// MaxTTL is the longest a response is kept fresh; longer TTLs are clamped internally,
// clients still see the original directives.
const MaxTTL = 30 * 24 * time.Hour

// MaxObjectSize is the largest response stored whole (Cloud CDN: 10 MiB for origins
// that do not support byte ranges).
const MaxObjectSize = 10 << 20

// cacheableStatus are the status codes Cloud CDN may store.
var cacheableStatus = map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true,
	302: true, 307: true, 308: true, 404: true, 405: true, 410: true, 421: true, 451: true, 501: true}

// defaultNegativeTTL is Cloud CDN's negative caching TTL per status code.
var defaultNegativeTTL = map[int]time.Duration{300: 10 * time.Minute, 301: 10 * time.Minute,
	308: 10 * time.Minute, 404: 120 * time.Second, 410: 120 * time.Second, 451: 120 * time.Second,
	405: 60 * time.Second, 501: 60 * time.Second}

// varyAllowed are the request headers a stored response may vary on, besides the
// cache key's own headers.
var varyAllowed = map[string]bool{"Accept": true, "Accept-Encoding": true, "Access-Control-Request-Headers": true,
	"Access-Control-Request-Method": true, "Origin": true, "Sec-Fetch-Dest": true, "Sec-Fetch-Mode": true,
	"Sec-Fetch-Site": true, "X-Goog-Allowed-Resources": true, "X-Origin": true}

// Decide applies Cloud CDN's cacheability rules for the policy's cache mode, and RFC
// 9111's where they are silent, to a response to req. keyHeaders are the request
// headers in the cache key, which Vary may also name.
func Decide(req Request, resp Response, p *api.CdnPolicy, keyHeaders []string) Decision {
	if p == nil {
		p = &api.CdnPolicy{}
	}
	mode := p.CacheMode
	if mode == "" {
		mode = api.CacheAllStatic
	}
	force := mode == api.ForceCacheAll
	no := func(reason string) Decision { return Decision{Reason: reason} }

	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return no("REQUEST_METHOD_NOT_CACHEABLE")
	}
	if ParseDirectives(req.Header.Values("Cache-Control")).Has("no-store") {
		return no("REQUEST_HAS_NO_STORE")
	}
	if !cacheableStatus[resp.Status] {
		return no("RESPONSE_STATUS_NOT_CACHEABLE")
	}
	if resp.Status == http.StatusPartialContent {
		return no("RESPONSE_IS_PARTIAL") // ranges are filled in chunks of the cache's own (issue 7)
	}
	h := resp.Header
	if _, ok := h["Set-Cookie"]; ok {
		return no("RESPONSE_HAS_SET_COOKIE")
	}
	if !varyOK(h, keyHeaders) {
		return no("RESPONSE_HAS_VARY")
	}
	if !resp.HTTP1Framed {
		return no("RESPONSE_NOT_DELIMITED")
	}
	if resp.BodySize > MaxObjectSize {
		return no("RESPONSE_SIZE_TOO_LARGE")
	}
	if tags := h.Values("Cache-Tag"); len(tags) > 0 && !validCacheTags(tags) {
		return no("RESPONSE_CACHE_TAG_INVALID")
	}
	d, _ := ResponseDirectives(h)

	if req.Signed {
		// Signed requests are cached regardless of Cache-Control, for
		// signedUrlCacheMaxAgeSec.
		ttl := time.Hour
		if p.SignedURLCacheMaxAgeSec != nil {
			ttl = time.Duration(*p.SignedURLCacheMaxAgeSec) * time.Second
		}
		return Decision{Store: true, Reason: "SIGNED_REQUEST", TTL: min(ttl, MaxTTL)}
	}
	if !force {
		if d.Has("no-store") {
			return no("RESPONSE_HAS_NO_STORE")
		}
		if d.Has("private") {
			return no("RESPONSE_HAS_PRIVATE")
		}
		// RFC 9111 3.5: a shared cache reuses a response to an authorized request only
		// when the origin says so.
		if req.Header.Get("Authorization") != "" && !d.Has("public") && !d.Has("must-revalidate") && !d.Has("s-maxage") {
			return no("REQUEST_HAS_AUTHORIZATION")
		}
		if d.Has("no-cache") && !d.Has("public") {
			return no("RESPONSE_HAS_NO_CACHE") // Cloud CDN stores no-cache responses only when also public
		}
	}

	dec := Decision{Store: true}
	lifetime, explicit := Lifetime(d, h, resp.ResponseTime)
	negTTL, negative := negativeTTL(resp.Status, p)
	// Negative caching applies to responses without freshness of their own (in
	// FORCE_CACHE_ALL to all of them).
	if negative && (force || (!explicit && len(h.Values("Cache-Control")) == 0 && !pragmaNoCache(h))) {
		dec.TTL, dec.Negative, dec.Reason = negTTL, true, "NEGATIVE_CACHING"
	} else {
		switch mode {
		case api.ForceCacheAll:
			if resp.Status >= 300 {
				return no("RESPONSE_STATUS_NOT_CACHEABLE") // FORCE_CACHE_ALL caches successful responses
			}
			def := seconds(p.DefaultTTL, time.Hour)
			dec.TTL, dec.Reason = def, "FORCE_CACHE_ALL"
			client := def
			if p.ClientTTL != nil {
				client = min(client, seconds(p.ClientTTL, def))
			}
			dec.ClientCacheControl = "public, max-age=" + deltaString(client)
		case api.UseOriginHeaders:
			ttl, ok, reason := originTTL(h, lifetime, explicit)
			if !ok {
				return no(reason)
			}
			dec.TTL, dec.Reason = ttl, reason
		default: // CACHE_ALL_STATIC
			if ttl, ok, reason := originTTL(h, lifetime, explicit); ok {
				dec.TTL, dec.Reason = min(ttl, seconds(p.MaxTTL, 24*time.Hour)), reason
				if p.ClientTTL != nil && explicit {
					dec.ClientCacheControl = clampClientMaxAge(h, seconds(p.ClientTTL, 0))
				}
			} else if !explicit && (resp.Status == 200 || resp.Status == 203) && isStatic(h.Get("Content-Type")) {
				def := seconds(p.DefaultTTL, time.Hour)
				dec.TTL, dec.Reason = def, "CACHE_ALL_STATIC_DEFAULT_TTL"
				client := def
				if p.ClientTTL != nil {
					client = min(client, seconds(p.ClientTTL, def))
				}
				dec.ClientCacheControl = withClientMaxAge(h.Values("Cache-Control"), client)
			} else {
				return no(reason)
			}
		}
	}
	dec.TTL = min(max(dec.TTL, 0), MaxTTL)
	if !force {
		dec.NoCache = d.Has("no-cache")
		dec.NoStale = d.Has("must-revalidate") || d.Has("proxy-revalidate") || d.Has("s-maxage")
	}
	if !dec.NoStale {
		swr, _ := d.Delta("stale-while-revalidate")
		sws := seconds(p.ServeWhileStale, 0)
		dec.StaleIfError = sws
		switch {
		case mode == api.UseOriginHeaders:
			// The origin's headers decide: stale is served only as far as the origin's
			// stale-while-revalidate allows it, and never beyond serveWhileStale.
			dec.StaleWhileRevalidate = min(swr, sws)
		default:
			dec.StaleWhileRevalidate = max(swr, sws)
		}
	}
	return dec
}

// originTTL is the TTL the origin's headers give: an explicit lifetime (s-maxage,
// max-age, Expires). Cloud CDN has no heuristic freshness (RFC 9111 4.2.2): a response
// without explicit freshness is not cached on its Last-Modified.
func originTTL(h http.Header, lifetime time.Duration, explicit bool) (time.Duration, bool, string) {
	if explicit {
		if lifetime == 0 && h.Get("ETag") == "" && h.Get("Last-Modified") == "" {
			return 0, false, "RESPONSE_ALREADY_EXPIRED" // stale at once and cannot be validated
		}
		return lifetime, true, "RESPONSE_HAS_EXPLICIT_FRESHNESS"
	}
	return 0, false, "RESPONSE_HAS_NO_EXPLICIT_FRESHNESS"
}

// negativeTTL is the negative caching TTL of a status under the policy. An explicit
// negativeCachingPolicy replaces the defaults entirely.
func negativeTTL(status int, p *api.CdnPolicy) (time.Duration, bool) {
	if p.NegativeCaching == nil || !*p.NegativeCaching {
		return 0, false
	}
	if len(p.NegativeCachingPolicy) > 0 {
		for _, n := range p.NegativeCachingPolicy {
			if int(n.Code) == status {
				return time.Duration(n.TTL) * time.Second, true
			}
		}
		return 0, false
	}
	ttl, ok := defaultNegativeTTL[status]
	return ttl, ok
}

func pragmaNoCache(h http.Header) bool {
	for _, v := range h.Values("Pragma") {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return true
		}
	}
	return false
}

// varyOK reports whether every header the response varies on is one Cloud CDN allows.
func varyOK(h http.Header, keyHeaders []string) bool {
	for _, line := range h.Values("Vary") {
		for _, name := range strings.Split(line, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if name == "" || varyAllowed[name] {
				continue
			}
			found := false
			for _, k := range keyHeaders {
				if http.CanonicalHeaderKey(k) == name {
					found = true
				}
			}
			if !found {
				return false // including "*"
			}
		}
	}
	return true
}

// validCacheTags checks Cache-Tag against Cloud CDN's limits: at most 50 tags of at
// most 120 bytes each, 4 KiB in all.
func validCacheTags(lines []string) bool {
	n, size := 0, 0
	for _, line := range lines {
		size += len(line)
		for _, t := range strings.Split(line, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if n++; n > 50 || len(t) > 120 {
				return false
			}
		}
	}
	return size <= 4096
}

// isStatic reports whether a content type is one CACHE_ALL_STATIC caches without
// directives.
func isStatic(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	major, _, _ := strings.Cut(mt, "/")
	switch major {
	case "font", "image", "video", "audio":
		return true
	}
	switch mt {
	case "text/css", "text/ecmascript", "text/javascript", "application/javascript",
		"application/pdf", "application/postscript":
		return true
	}
	return false
}

func seconds(v *int64, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	return time.Duration(*v) * time.Second
}

// clampClientMaxAge lowers the max-age clients see to clientTtl (CACHE_ALL_STATIC),
// or returns "" when the origin's is already no longer.
func clampClientMaxAge(h http.Header, client time.Duration) string {
	cur, ok := ParseDirectives(h.Values("Cache-Control")).Delta("max-age")
	if ok && cur <= client {
		return ""
	}
	if !ok && h.Get("Expires") == "" {
		return ""
	}
	return withClientMaxAge(h.Values("Cache-Control"), client)
}

// withClientMaxAge rewrites Cache-Control with max-age set to ttl and public present,
// keeping the origin's other directives.
func withClientMaxAge(lines []string, ttl time.Duration) string {
	out := []string{"public"}
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			item = strings.TrimSpace(item)
			name, _, _ := strings.Cut(item, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "public", "max-age":
				continue
			}
			out = append(out, item)
		}
	}
	return strings.Join(append(out, "max-age="+deltaString(ttl)), ", ")
}

// Bypass reports whether a request goes around the cache: a method other than GET and
// HEAD, or one of the policy's bypassCacheOnRequestHeaders present (in every mode).
func Bypass(method string, h http.Header, p *api.CdnPolicy) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return true
	}
	if p != nil {
		for _, b := range p.BypassCacheOnRequestHeaders {
			if _, ok := h[http.CanonicalHeaderKey(b.HeaderName)]; ok {
				return true
			}
		}
	}
	return false
}
