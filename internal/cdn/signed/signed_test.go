package signed

import (
	"strings"
	"testing"
	"time"

	"meridian/api"
)

// The vectors were computed outside Go with openssl (HMAC-SHA1, base64url), following
// Cloud CDN's documented algorithm, for the key in Google's documentation.
const (
	docKey     = "nZtRohdNF9m3cKM24IcK4w=="
	expiresAt  = 1893456000 // 2030-01-01T00:00:00Z
	urlSig     = "HqU1mdGs2mkILdjK8vTkWLqN6qw="
	prefixB64  = "aHR0cHM6Ly9tZWRpYS5leGFtcGxlLmNvbS92aWRlb3Mv" // https://media.example.com/videos/
	prefixSig  = "NzdoOMIQw3mVS3KxM19XSlW77hk="
	cookieSig  = "e1rCu0hspTsEci_v3I9KCP9XF0Y="
	signedPath = "/videos/demo.mp4"
)

var keys = []api.SignedURLKey{{KeyName: "other", KeyValue: "AAAAAAAAAAAAAAAAAAAAAA=="}, {KeyName: "my-key", KeyValue: docKey}}

var before, after = time.Unix(expiresAt-1, 0), time.Unix(expiresAt, 0)

func TestSignMatchesTheDocumentedAlgorithm(t *testing.T) {
	key, err := DecodeKey(docKey)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Unix(expiresAt, 0)
	if got, want := SignURL("https://media.example.com"+signedPath, "my-key", key, exp),
		"https://media.example.com"+signedPath+"?Expires=1893456000&KeyName=my-key&Signature="+urlSig; got != want {
		t.Errorf("SignURL = %s\nwant      %s", got, want)
	}
	if got, want := SignPrefix("https://media.example.com/videos/", "my-key", key, exp),
		"URLPrefix="+prefixB64+"&Expires=1893456000&KeyName=my-key&Signature="+prefixSig; got != want {
		t.Errorf("SignPrefix = %s\nwant         %s", got, want)
	}
	if got, want := SignCookie("https://media.example.com/videos/", "my-key", key, exp),
		"URLPrefix="+prefixB64+":Expires=1893456000:KeyName=my-key:Signature="+cookieSig; got != want {
		t.Errorf("SignCookie = %s\nwant         %s", got, want)
	}
	if _, err := DecodeKey("short"); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestVerify(t *testing.T) {
	plain := "Expires=1893456000&KeyName=my-key&Signature=" + urlSig
	prefix := "URLPrefix=" + prefixB64 + "&Expires=1893456000&KeyName=my-key&Signature=" + prefixSig
	cookie := "URLPrefix=" + prefixB64 + ":Expires=1893456000:KeyName=my-key:Signature=" + cookieSig
	cases := []struct {
		name   string
		r      Request
		now    time.Time
		want   Outcome
		reason string
	}{
		{"unsigned", Request{Method: "GET", Path: "/x", RawQuery: "a=b"}, before, Unsigned, ""},
		{"a signed URL", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: plain}, before, Valid, ""},
		{"the port is not signed", Request{Method: "HEAD", Scheme: "https", Host: "media.example.com:8443", Path: signedPath, RawQuery: plain}, before, Valid, ""},
		{"expired", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: plain}, after, Invalid, "expired"},
		{"another path", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/videos/other.mp4", RawQuery: plain}, before, Invalid, "does not match"},
		{"another scheme", Request{Method: "GET", Scheme: "http", Host: "media.example.com", Path: signedPath, RawQuery: plain}, before, Invalid, "does not match"},
		{"an added parameter", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: "x=1&" + plain}, before, Invalid, "does not match"},
		{"Signature not last", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: plain + "&x=1"}, before, Invalid, "last"},
		{"an unknown key", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: strings.Replace(plain, "my-key", "gone", 1)}, before, Invalid, "no key"},
		{"no Expires", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: "KeyName=my-key&Signature=" + urlSig}, before, Invalid, "Expires"},
		{"a bad signature encoding", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: "Expires=1&KeyName=my-key&Signature=%%%"}, before, Invalid, "base64url"},
		{"a prefix", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/videos/any/thing.ts", RawQuery: "quality=hd&" + prefix}, before, Valid, ""},
		{"outside the prefix", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/images/x.png", RawQuery: prefix}, before, Invalid, "outside"},
		{"a cookie", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/videos/a.ts", Cookie: cookie}, before, Valid, ""},
		{"an expired cookie", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/videos/a.ts", Cookie: cookie}, after, Invalid, "expired"},
		{"a cookie outside its prefix", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/music/a.mp3", Cookie: cookie}, before, Invalid, "outside"},
		{"a tampered cookie", Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: "/videos/a.ts", Cookie: strings.Replace(cookie, "1893456000", "1993456000", 1)}, before, Invalid, "does not match"},
		{"not GET or HEAD", Request{Method: "POST", Scheme: "https", Host: "media.example.com", Path: signedPath, RawQuery: "Signature=x"}, before, Unsigned, ""},
	}
	for _, tc := range cases {
		got, reason := Verify(tc.r, keys, tc.now)
		if got != tc.want || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, got, reason, tc.want, tc.reason)
		}
	}
}

func TestStripQuery(t *testing.T) {
	for in, want := range map[string]string{
		"a=1&Expires=1&KeyName=k&Signature=s":             "a=1",
		"URLPrefix=p&Expires=1&KeyName=k&Signature=s&b=2": "b=2",
		"": "", "a=1&b=2": "a=1&b=2",
	} {
		if got := StripQuery(in); got != want {
			t.Errorf("StripQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzVerify: verification of untrusted queries and cookies never panics, and any URL
// signed with a key verifies until it expires.
func FuzzVerify(f *testing.F) {
	f.Add("/videos/demo.mp4", "Expires=1893456000&KeyName=my-key&Signature="+urlSig, "")
	f.Add("/videos/a", "URLPrefix="+prefixB64+"&Expires=1893456000&KeyName=my-key&Signature="+prefixSig, "")
	f.Add("/videos/a", "", "URLPrefix="+prefixB64+":Expires=1893456000:KeyName=my-key:Signature="+cookieSig)
	f.Add("/", "Signature=&Signature=", ":Signature=")
	key, _ := DecodeKey(docKey)
	f.Fuzz(func(t *testing.T, path, query, cookie string) {
		Verify(Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: path, RawQuery: query, Cookie: cookie}, keys, before)
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") || strings.ContainsAny(query, "#") ||
			strings.Contains(query, "Signature") || strings.Contains(query, "URLPrefix") {
			return
		}
		u := "https://media.example.com" + path
		if query != "" {
			u += "?" + query
		}
		signed := SignURL(u, "my-key", key, time.Unix(expiresAt, 0))
		_, q, _ := strings.Cut(strings.TrimPrefix(signed, "https://media.example.com"+path), "?")
		r := Request{Method: "GET", Scheme: "https", Host: "media.example.com", Path: path, RawQuery: q}
		if got, reason := Verify(r, keys, before); got != Valid {
			t.Fatalf("%s does not verify: %s", signed, reason)
		}
		if got, _ := Verify(r, keys, after); got != Invalid {
			t.Fatalf("%s verifies after it expired", signed)
		}
	})
}
