package cli

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/cdn/signed"
)

// TestSignURL: `compute sign-url` signs as gcloud does (the edge's verifier accepts the
// URL until --expires-in has passed), --validate requests it, and bad input gets
// gcloud's messages.
func TestSignURL(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("nZtRohdNF9m3cKM24IcK4w==\n"), 0o600)
	keys := []api.SignedURLKey{{KeyName: "k1", KeyValue: "nZtRohdNF9m3cKM24IcK4w=="}}
	var validated *http.Request
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		validated = r
		w.WriteHeader(http.StatusTeapot)
	}))
	defer target.Close()

	before := time.Now()
	r := runWithEnv(t, nil, "", "compute", "sign-url", target.URL+"/v/a.mp4?q=1", "--key-name=k1", "--key-file="+keyFile, "--expires-in=1h", "--validate").mustSucceed(t)
	var signedURL string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if v, ok := strings.CutPrefix(line, "signedUrl: "); ok {
			signedURL = v
		}
	}
	if !strings.Contains(r.stdout, "validationResponseCode: 418") || validated == nil || validated.URL.RawQuery == "" {
		t.Errorf("--validate: %q, the target saw %v", r.stdout, validated)
	}
	u, err := url.Parse(signedURL)
	if err != nil {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	exp, _ := strconv.ParseInt(u.Query().Get("Expires"), 10, 64)
	if d := time.Unix(exp, 0).Sub(before); d < time.Hour-time.Second || d > time.Hour+time.Minute {
		t.Errorf("Expires is %v from now, want an hour", d)
	}
	req := signed.Request{Method: "GET", Scheme: u.Scheme, Host: u.Host, Path: u.EscapedPath(), RawQuery: u.RawQuery}
	if got, reason := signed.Verify(req, keys, time.Unix(exp-1, 0)); got != signed.Valid {
		t.Errorf("%s does not verify: %s", signedURL, reason)
	}
	if got, _ := signed.Verify(req, keys, time.Unix(exp, 0)); got != signed.Invalid {
		t.Errorf("%s verifies after it expired", signedURL)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ftp://example.com/a", "--key-name=k1", "--key-file=" + keyFile, "--expires-in=1h"}, "must be either HTTP or HTTPS"},
		{[]string{"https://example.com/a?Expires=1", "--key-name=k1", "--key-file=" + keyFile, "--expires-in=1h"}, "must not contain the query parameters"},
		{[]string{"https://example.com/a", "--key-file=" + keyFile, "--expires-in=1h"}, "Must be specified"},
		{[]string{"https://example.com/a", "--key-name=k1", "--key-file=/nonexistent", "--expires-in=1h"}, "Unable to read the key file"},
		{[]string{"https://example.com/a", "--key-name=k1", "--key-file=" + keyFile, "--expires-in=soon"}, "not a duration"},
	} {
		runWithEnv(t, nil, "", append([]string{"compute", "sign-url"}, tc.args...)...).mustFail(t, tc.want)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("short"), 0o600)
	runWithEnv(t, nil, "", "compute", "sign-url", "https://example.com/a", "--key-name=k1", "--key-file="+bad, "--expires-in=1h").mustFail(t, "is not valid")
}
