// Package signed implements Cloud CDN's signed URLs and signed cookies: signing, as
// `gcloud compute sign-url` and Google's samples do, and the edge's verification. It is
// pure: the time comes from the caller.
//
// A signed URL ends in Expires=<unix seconds>&KeyName=<name>&Signature=<sig>, where sig
// is base64url(HMAC-SHA1(key, everything before "&Signature=")), the URL given as
// scheme://host/path?query. The prefix form signs "URLPrefix=<base64url(prefix)>&
// Expires=…&KeyName=…" and covers every URL starting with the prefix; the cookie
// Cloud-CDN-Cookie carries the same fields separated by colons.
package signed

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"meridian/api"
)

// CookieName is the cookie that carries a signed prefix.
const CookieName = "Cloud-CDN-Cookie"

// Request is what verification looks at.
type Request struct {
	Method   string
	Scheme   string // http or https
	Host     string // the Host header
	Path     string // as sent (escaped)
	RawQuery string
	Cookie   string // the Cloud-CDN-Cookie value, "" when absent
}

// Outcome is what verification concluded.
type Outcome int

const (
	// Unsigned: the request carries no signature; it is served as any other.
	Unsigned Outcome = iota
	// Valid: a signature made with one of the keys, for this URL, not expired.
	Valid
	// Invalid: a signature that does not verify, an unknown key, a URL outside the
	// signed prefix, or an expired one; the edge answers 403.
	Invalid
)

// Verify checks a request's signed URL or, failing that, its signed cookie. The reason
// explains an Invalid outcome.
//
// Cloud CDN signs URLs without a port; a URL signed with the port the client used (a
// Meridian listener on a mapped port) verifies too.
func Verify(r Request, keys []api.SignedURLKey, now time.Time) (Outcome, string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		return Unsigned, ""
	}
	check := verifyCookie
	switch {
	case signedQuery(r.RawQuery):
		check = verifyQuery
	case r.Cookie == "":
		return Unsigned, ""
	}
	host := r.Host
	r.Host = hostOnly(host)
	outcome, reason := check(r, keys, now)
	if outcome == Invalid && r.Host != host {
		r.Host = host
		if o, _ := check(r, keys, now); o == Valid {
			return o, ""
		}
	}
	return outcome, reason
}

// signedQuery reports whether a query carries a signature.
func signedQuery(q string) bool {
	_, ok := param(q, '&', "Signature")
	return ok
}

// param finds the last name=value among sep-separated fields of s: the signer appends
// its fields after whatever the URL had.
func param(s string, sep byte, name string) (string, bool) {
	value, found := "", false
	for s != "" {
		field, rest, _ := strings.Cut(s, string(sep))
		if v, ok := strings.CutPrefix(field, name+"="); ok {
			value, found = v, true
		}
		s = rest
	}
	return value, found
}

func verifyQuery(r Request, keys []api.SignedURLKey, now time.Time) (Outcome, string) {
	i := strings.LastIndex(r.RawQuery, "Signature=")
	if i < 0 || (i > 0 && r.RawQuery[i-1] != '&') || strings.Contains(r.RawQuery[i:], "&") {
		return Invalid, "Signature must be the last query parameter"
	}
	sig := r.RawQuery[i+len("Signature="):]
	signedPart := strings.TrimSuffix(r.RawQuery[:i], "&")
	base := r.Scheme + "://" + r.Host + r.Path
	if p := prefixStart(signedPart); p >= 0 {
		// The prefix form: the fields from URLPrefix on are signed.
		return verifyFields(signedPart[p:], '&', sig, base+"?"+r.RawQuery, "", keys, now)
	}
	return verifyFields(signedPart, '&', sig, "", base+"?"+signedPart, keys, now)
}

// prefixStart is where a URLPrefix field begins in a query, or -1.
func prefixStart(q string) int {
	if strings.HasPrefix(q, "URLPrefix=") {
		return 0
	}
	if i := strings.Index(q, "&URLPrefix="); i >= 0 {
		return i + 1
	}
	return -1
}

func verifyCookie(r Request, keys []api.SignedURLKey, now time.Time) (Outcome, string) {
	i := strings.LastIndex(r.Cookie, ":Signature=")
	if i < 0 {
		return Invalid, "the signed cookie has no Signature"
	}
	fields, sig := r.Cookie[:i], r.Cookie[i+len(":Signature="):]
	if !strings.HasPrefix(fields, "URLPrefix=") {
		return Invalid, "the signed cookie has no URLPrefix"
	}
	url := r.Scheme + "://" + r.Host + r.Path
	if r.RawQuery != "" {
		url += "?" + r.RawQuery
	}
	return verifyFields(fields, ':', sig, url, "", keys, now)
}

// verifyFields checks signed fields (Expires, KeyName, and URLPrefix when url must
// start with it) against sig. message, when not empty, is what was signed instead of
// the fields themselves (the whole URL, in the plain form).
func verifyFields(fields string, sep byte, sig, url, message string, keys []api.SignedURLKey, now time.Time) (Outcome, string) {
	expires, ok := param(fields, sep, "Expires")
	if !ok {
		return Invalid, "Expires is missing"
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || exp < 0 {
		return Invalid, "Expires is not a Unix time"
	}
	name, ok := param(fields, sep, "KeyName")
	if !ok || name == "" {
		return Invalid, "KeyName is missing"
	}
	if url != "" {
		enc, _ := param(fields, sep, "URLPrefix")
		prefix, err := base64.URLEncoding.DecodeString(enc)
		if err != nil {
			return Invalid, "URLPrefix is not base64url"
		}
		if !strings.HasPrefix(url, string(prefix)) {
			return Invalid, "the URL is outside the signed prefix"
		}
	}
	got, err := base64.URLEncoding.DecodeString(sig)
	if err != nil {
		return Invalid, "Signature is not base64url"
	}
	var key []byte
	for _, k := range keys {
		if k.KeyName == name {
			key, _ = base64.URLEncoding.DecodeString(k.KeyValue)
		}
	}
	if key == nil {
		return Invalid, fmt.Sprintf("no key named %q", name)
	}
	if message == "" {
		message = fields
	}
	if !hmac.Equal(got, mac(key, message)) {
		return Invalid, "the signature does not match"
	}
	if now.Unix() >= exp {
		return Invalid, "the signature has expired"
	}
	return Valid, ""
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha1.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// StripQuery removes the signature's parameters (URLPrefix, Expires, KeyName,
// Signature) from a signed query: the cache key and the origin's request leave them
// out, so every signed URL of an object shares one cache entry.
func StripQuery(q string) string {
	var kept []string
	for _, f := range strings.Split(q, "&") {
		name, _, _ := strings.Cut(f, "=")
		switch name {
		case "URLPrefix", "Expires", "KeyName", "Signature":
			continue
		}
		if f != "" {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, "&")
}

// DecodeKey decodes a key as stored: 128 bits, base64url.
func DecodeKey(s string) ([]byte, error) {
	key, err := base64.URLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 16 {
		return nil, errors.New("a signed URL key is 128 bits encoded in base64url (24 characters with padding)")
	}
	return key, nil
}

// SignURL appends Expires, KeyName and Signature to url, as gcloud compute sign-url.
func SignURL(url, keyName string, key []byte, expires time.Time) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	url += sep + "Expires=" + strconv.FormatInt(expires.Unix(), 10) + "&KeyName=" + keyName
	return url + "&Signature=" + base64.URLEncoding.EncodeToString(mac(key, url))
}

// SignPrefix returns the query parameters that sign every URL starting with prefix.
func SignPrefix(prefix, keyName string, key []byte, expires time.Time) string {
	fields := "URLPrefix=" + base64.URLEncoding.EncodeToString([]byte(prefix)) + "&Expires=" + strconv.FormatInt(expires.Unix(), 10) + "&KeyName=" + keyName
	return fields + "&Signature=" + base64.URLEncoding.EncodeToString(mac(key, fields))
}

// SignCookie returns the Cloud-CDN-Cookie value that signs every URL starting with
// prefix.
func SignCookie(prefix, keyName string, key []byte, expires time.Time) string {
	fields := "URLPrefix=" + base64.URLEncoding.EncodeToString([]byte(prefix)) + ":Expires=" + strconv.FormatInt(expires.Unix(), 10) + ":KeyName=" + keyName
	return fields + ":Signature=" + base64.URLEncoding.EncodeToString(mac(key, fields))
}
