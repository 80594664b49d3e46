package controlplane

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"meridian/internal/store"
	"meridian/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// client is a test client of a Server running behind httptest.
type client struct {
	t   *testing.T
	srv *httptest.Server
	st  *store.Store
}

func newTestServer(t *testing.T, cfg Config) *client {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	}
	st := testutil.Store(t)
	s := New(st, cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv, st: st}
}

// do sends a request with a JSON body (a string or a value) and decodes the answer.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("%s %s: decoding the answer: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// must sends a request that must succeed.
func (c *client) must(method, path string, body any) map[string]any {
	c.t.Helper()
	code, out := c.do(method, path, body)
	if code != 200 {
		c.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// wantError sends a request that must fail with code and GCP reason.
func (c *client) wantError(method, path string, body any, code int, reason string) string {
	c.t.Helper()
	got, out := c.do(method, path, body)
	e, _ := out["error"].(map[string]any)
	if got != code || e == nil {
		c.t.Fatalf("%s %s: got %d %v, want %d %s", method, path, got, out, code, reason)
	}
	errs, _ := e["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["reason"] != reason || e["code"] != float64(code) || e["message"] == "" {
		c.t.Fatalf("%s %s: error %v, want reason %s in GCP's shape", method, path, e, reason)
	}
	return e["message"].(string)
}

const g = "/compute/v1/projects/p/global/"
const uc = "/compute/v1/projects/p/regions/us-central1/"
