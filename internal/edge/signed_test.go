package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"meridian/internal/cdn/signed"
)

// TestSignedURLsThroughEdge: on a backend service with a signed URL key, unsigned
// requests pass, signed URLs and cookies made as gcloud makes them are served and
// cached (for signedUrlCacheMaxAgeSec, whatever the origin's Cache-Control) under one
// entry without their signature, which the origin never sees, and bad or expired
// signatures get 403.
func TestSignedURLsThroughEdge(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var seen []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Cache-Control", "private") // signed responses are cached anyway
		io.WriteString(w, "video "+r.URL.Path)
	}))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{
		"enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS", "signedUrlCacheMaxAgeSec": "600"},
		"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}"},
		"logConfig":             map[string]any{"enable": true},
	}, map[string]any{"defaultService": "global/backendServices/web"})
	const keyValue = "nZtRohdNF9m3cKM24IcK4w=="
	h.call("POST", "global/backendServices/web/addSignedUrlKey", map[string]any{"keyName": "k1", "keyValue": keyValue})
	key, _ := signed.DecodeKey(keyValue)
	// The edge serves with the key once it has reloaded the backend service.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if svc := h.edge.Snapshot().Services["projects/p/global/backendServices/web"]; svc != nil && len(svc.Resource.SignedURLKeys) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the signed URL key never reached the edge: %v", h.edge.Snapshot().Services)
		}
	}
	if resp, body := get("/v/a.mp4"); resp.StatusCode != 200 || body != "video /v/a.mp4" {
		t.Errorf("unsigned: %d %q", resp.StatusCode, body)
	}
	path := func(u string) string { return strings.TrimPrefix(u, "http://lb.example.com") }
	in := time.Now().Add(time.Hour)
	s1 := path(signed.SignURL("http://lb.example.com/v/b.mp4?quality=hd", "k1", key, in))
	s2 := path(signed.SignURL("http://lb.example.com/v/b.mp4?quality=hd", "k1", key, in.Add(time.Minute)))
	if resp, body := get(s1); resp.StatusCode != 200 || body != "video /v/b.mp4" || resp.Header.Get("X-Cache-Status") != "miss" {
		t.Errorf("signed, first: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := get(s2); resp.StatusCode != 200 || resp.Header.Get("X-Cache-Status") != "hit" {
		t.Errorf("another signed URL of the same object: %d %v", resp.StatusCode, resp.Header)
	}
	prefix := "/v/?" + signed.SignPrefix("http://lb.example.com/v/", "k1", key, in)
	if resp, _ := get(strings.Replace(prefix, "/v/?", "/v/c.mp4?", 1)); resp.StatusCode != 200 {
		t.Errorf("a URL under a signed prefix: %d", resp.StatusCode)
	}
	for name, u := range map[string]string{
		"expired":          path(signed.SignURL("http://lb.example.com/v/b.mp4", "k1", key, time.Now().Add(-time.Minute))),
		"tampered":         strings.Replace(s1, "b.mp4", "c.mp4", 1),
		"unknown key":      path(signed.SignURL("http://lb.example.com/v/b.mp4", "k2", key, in)),
		"outside prefix":   strings.Replace(prefix, "/v/?", "/w/c.mp4?", 1),
		"signed for https": path(strings.Replace(signed.SignURL("https://lb.example.com/v/b.mp4", "k1", key, in), "https://", "http://", 1)),
	} {
		if resp, body := get(u); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not valid") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}

	// A signed cookie covers a prefix.
	req, _ := http.NewRequest("GET", "http://lb.example.com/v/d.mp4", nil)
	req.AddCookie(&http.Cookie{Name: signed.CookieName, Value: signed.SignCookie("http://lb.example.com/v/", "k1", key, in)})
	cookieClient := edgeClient(t, h.edge.ListenAddresses()["127.0.0.1:80"])
	resp, err := cookieClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a signed cookie: %d", resp.StatusCode)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range seen {
		if strings.Contains(u, "Signature") || strings.Contains(u, "Expires") {
			t.Errorf("the origin saw the signature: %s", u)
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"statusDetails":"`+detailSignedURL+`"`) {
		t.Errorf("a refused signature is not in the request log:\n%s", logs)
	}
}
