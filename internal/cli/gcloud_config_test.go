package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGcloudConfigWritesAConfiguration(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CLOUDSDK_CONFIG": dir, "MERIDIAN_API_ENDPOINT": "http://127.0.0.1:9611", "MERIDIAN_PROJECT": "my-project"}
	r := runWithEnv(t, env, "", "gcloud-config").mustSucceed(t)
	if !strings.Contains(r.stderr, "gcloud config configurations activate meridian") || !strings.Contains(r.stderr, "CLOUDSDK_ACTIVE_CONFIG_NAME=meridian") {
		t.Errorf("it does not say how to activate it:\n%s", r.stderr)
	}
	path := filepath.Join(dir, "configurations", "config_meridian")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `[core]
project = my-project
disable_usage_reporting = True

[component_manager]
disable_update_check = True

[api_endpoint_overrides]
compute = http://127.0.0.1:9611/compute/v1/
run = http://127.0.0.1:9611/
cloudresourcemanager = http://127.0.0.1:9611/
serviceusage = http://127.0.0.1:9611/
logging = http://127.0.0.1:9611/

[proxy]
type = http
address = 127.0.0.1
port = 9611

[auth]
disable_credentials = True
`
	if string(data) != want {
		t.Errorf("config_meridian:\n%s\nwant:\n%s", data, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "active_config")); err == nil {
		t.Errorf("activated without --activate")
	}

	// Run again with a token and another endpoint: the user's own properties stay, the
	// token goes to a private file gcloud sends as its access token.
	os.WriteFile(path, []byte("# mine\n[core]\naccount = me@example.com\nproject = old\n\n[auth]\ndisable_credentials = True\n"), 0o600)
	env["MERIDIAN_API_TOKEN"], env["MERIDIAN_API_ENDPOINT"] = "s3cret", "http://meridian.internal"
	r = runWithEnv(t, env, "", "gcloud-config", "--activate").mustSucceed(t)
	data, _ = os.ReadFile(path)
	got := string(data)
	for _, line := range []string{"# mine", "account = me@example.com", "project = my-project", "compute = http://meridian.internal/compute/v1/",
		"address = meridian.internal", "port = 80", "access_token_file = " + filepath.Join(dir, "meridian_token_meridian")} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("config lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "disable_credentials") || strings.Contains(got, "project = old") {
		t.Errorf("stale properties kept:\n%s", got)
	}
	if tok, _ := os.ReadFile(filepath.Join(dir, "meridian_token_meridian")); string(tok) != "s3cret" {
		t.Errorf("token file %q", tok)
	}
	if active, _ := os.ReadFile(filepath.Join(dir, "active_config")); string(active) != "meridian" {
		t.Errorf("active_config %q", active)
	}
}

func TestGcloudConfigErrors(t *testing.T) {
	dir := t.TempDir()
	runWithEnv(t, map[string]string{"CLOUDSDK_CONFIG": dir}, "", "gcloud-config", "--configuration=Bad_Name").mustFail(t, "Invalid name [Bad_Name]")
	runWithEnv(t, map[string]string{"CLOUDSDK_CONFIG": dir, "MERIDIAN_API_ENDPOINT": "127.0.0.1:9610"}, "", "gcloud-config").mustFail(t, "is not an http:// or https:// URL")
	// Over HTTPS the API cannot be gcloud's proxy; it says what must resolve instead.
	r := runWithEnv(t, map[string]string{"CLOUDSDK_CONFIG": dir, "MERIDIAN_API_ENDPOINT": "https://api.example.com"}, "", "gcloud-config").mustSucceed(t)
	if !strings.Contains(r.stderr, "us-central1-api.example.com") {
		t.Errorf("no word on regional names:\n%s", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "configurations", "config_meridian")); strings.Contains(string(data), "[proxy]") {
		t.Errorf("a proxy for an HTTPS endpoint:\n%s", data)
	}
}

func TestIniSet(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		values     []iniValue
		want       string
	}{
		{"empty", "", []iniValue{{"core", "project", "p"}}, "[core]\nproject = p\n"},
		{"replace in place", "[core]\nProject: old\naccount = a\n", []iniValue{{"core", "project", "p"}}, "[core]\nproject = p\naccount = a\n"},
		{"add to a section", "[core]\naccount = a\n\n[x]\ny = 1\n", []iniValue{{"core", "project", "p"}}, "[core]\naccount = a\nproject = p\n\n[x]\ny = 1\n"},
		{"remove", "[auth]\ndisable_credentials = True\nother = 1\n", []iniValue{{"auth", "disable_credentials", ""}}, "[auth]\nother = 1\n"},
		{"remove absent", "[core]\na = 1\n", []iniValue{{"auth", "x", ""}}, "[core]\na = 1\n"},
		{"continuation and comments kept", "; c\n[core]\nkey = a\n  b\n# k = v\n", []iniValue{{"core", "k", "v"}}, "; c\n[core]\nkey = a\n  b\n# k = v\nk = v\n"},
		{"new sections grouped", "", []iniValue{{"a", "x", "1"}, {"b", "y", "2"}, {"a", "z", "3"}}, "[a]\nx = 1\nz = 3\n\n[b]\ny = 2\n"},
	} {
		if got := iniSet(tc.text, tc.values); got != tc.want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}

// iniGet reads one property as Python's configparser would (first section of the
// name, last value of the key), for checking iniSet.
func iniGet(text, section, key string) (string, bool) {
	cur, val, found, seenSection := "", "", false, false
	for _, line := range strings.Split(text, "\n") {
		if name, ok := iniSection(line); ok {
			if cur == section {
				seenSection = true
			}
			cur = name
			continue
		}
		if k, ok := iniKey(line); ok && cur == section && !seenSection && k == key {
			_, v, _ := strings.Cut(line, "=")
			if i := strings.IndexAny(line, "=:"); i >= 0 {
				v = line[i+1:]
			}
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

func FuzzIniSet(f *testing.F) {
	f.Add("[core]\nproject = old\n", "core", "project", "new")
	f.Add("; comment\n[auth]\ndisable_credentials = True\n", "auth", "disable_credentials", "")
	f.Add("", "proxy", "port", "9610")
	f.Fuzz(func(t *testing.T, text, section, key, value string) {
		if !validIniName(section) || !validIniName(key) || strings.ContainsAny(value, "\n\r") || value != strings.TrimSpace(value) {
			return
		}
		key = strings.ToLower(key)
		if strings.Count(text, "["+section+"]") > 1 {
			return // configparser refuses a file with a section twice
		}
		out := iniSet(text, []iniValue{{section, key, value}})
		got, found := iniGet(out, section, key)
		if value == "" && found || value != "" && got != value {
			t.Fatalf("set [%s] %s = %q in %q: got %q (%v) from %q", section, key, value, text, got, found, out)
		}
	})
}

func validIniName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "[]=:;#\n\r\t ") && s == strings.TrimSpace(s)
}
