package cli

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// `meridian gcloud-config` points Google's own gcloud at Meridian: it writes a named
// gcloud configuration whose API endpoint overrides send Compute Engine, Cloud Run,
// Resource Manager and Service Usage calls to Meridian's API.
//
// Cloud Run needs one more thing. gcloud derives a region's Cloud Run endpoint by
// prefixing the override's host with "REGION-" (http://us-central1-127.0.0.1:9610/),
// a name nothing resolves. Rather than adding a hosts-file line per region (root only,
// a change outside gcloud, and one more thing to undo), the configuration makes
// Meridian's API gcloud's HTTP proxy: gcloud then sends every request, with its derived
// host, to the API, which routes it by that host. No name has to resolve, it works
// unprivileged, and it stays inside the configuration.

// gcloudConfigName is the configuration's name unless --configuration says otherwise.
const gcloudConfigName = "meridian"

// gcloudAPIs are the APIs gcloud's load balancer and Cloud Run commands call, and the
// path of each under Meridian's endpoint.
var gcloudAPIs = []struct{ name, path string }{
	{"compute", "/compute/v1/"},
	{"run", "/"},
	{"cloudresourcemanager", "/"},
	{"serviceusage", "/"},
	{"logging", "/"}, // run services logs read: /v2/entries:list
}

func (a *app) gcloudConfigCommand() *cobra.Command {
	var name string
	var activate bool
	cmd := a.localCommand("gcloud-config", "Point Google's gcloud at Meridian: write a gcloud configuration named meridian.", exactArgs(),
		func(s *session, _ []string) error {
			set, err := a.resolveSettings()
			if err != nil {
				return err
			}
			return writeGcloudConfig(s, a.env.Getenv, name, set, activate)
		})
	cmd.Long = `Creates or updates a gcloud configuration (in $CLOUDSDK_CONFIG, else ~/.config/gcloud)
that sends gcloud's Compute Engine, Cloud Run, Resource Manager and Service Usage calls
to Meridian's API (--api-endpoint, $MERIDIAN_API_ENDPOINT or the CLI's configuration),
with the project set and credentials disabled (or $MERIDIAN_API_TOKEN sent as gcloud's
access token). gcloud reaches Cloud Run's regional endpoints through the API as its
HTTP proxy, so nothing outside the configuration changes. Other properties of an
existing configuration are kept.`
	cmd.Flags().StringVar(&name, "configuration", gcloudConfigName, "name of the gcloud configuration to write")
	cmd.Flags().BoolVar(&activate, "activate", false, "also make it gcloud's active configuration")
	return cmd
}

func writeGcloudConfig(s *session, getenv func(string) string, name string, set settings, activate bool) error {
	if !validConfigurationName(name) {
		return fmt.Errorf("Invalid name [%s] for a configuration. Except for special cases (NONE), configuration names start with a lower case letter and contain only lower case letters a-z, digits 0-9, and hyphens '-'.", name)
	}
	endpoint, err := url.Parse(strings.TrimSuffix(set.endpoint, "/"))
	if err != nil || (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" {
		return fmt.Errorf("Meridian's API endpoint [%s] is not an http:// or https:// URL.", set.endpoint)
	}
	dir := gcloudConfigDir(getenv)
	values, err := gcloudProperties(dir, name, endpoint, set)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "configurations", "config_"+name)
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading the gcloud configuration: %w", err)
	}
	if err := writePrivateFile(path, []byte(iniSet(string(old), values))); err != nil {
		return fmt.Errorf("writing the gcloud configuration: %w", err)
	}
	verb := "Created"
	if old != nil {
		verb = "Updated"
	}
	s.status("%s gcloud configuration [%s] in [%s]: gcloud's Compute Engine, Cloud Run, Resource Manager and Service Usage calls go to Meridian at %s, project [%s].", verb, name, path, endpoint, set.project)
	if endpoint.Scheme == "https" {
		s.status("Meridian's API is reached over HTTPS, so it cannot be gcloud's proxy: Cloud Run's regional names (us-central1-%s and so on) must resolve to it, through DNS or a hosts-file line for each region.", endpoint.Hostname())
	}
	if activate {
		if err := writePrivateFile(filepath.Join(dir, "active_config"), []byte(name)); err != nil {
			return fmt.Errorf("activating the gcloud configuration: %w", err)
		}
		s.status("Activated [%s]: gcloud now talks to Meridian. `gcloud config configurations activate default` goes back.", name)
		return nil
	}
	s.status("To use it, run:\n  gcloud config configurations activate %s\nor, for one shell or one command:\n  export CLOUDSDK_ACTIVE_CONFIG_NAME=%s", name, name)
	return nil
}

// gcloudProperties are the configuration's settings; an empty value removes one.
func gcloudProperties(dir, name string, endpoint *url.URL, set settings) ([]iniValue, error) {
	base := endpoint.String()
	values := []iniValue{
		{"core", "project", set.project},
		// Nothing of this configuration should go to Google: not usage statistics, not
		// update checks (both would go through the proxy, and fail).
		{"core", "disable_usage_reporting", "True"},
		{"component_manager", "disable_update_check", "True"},
	}
	for _, api := range gcloudAPIs {
		values = append(values, iniValue{"api_endpoint_overrides", api.name, base + api.path})
	}
	proxy := []iniValue{{"proxy", "type", ""}, {"proxy", "address", ""}, {"proxy", "port", ""}}
	if endpoint.Scheme == "http" {
		port := endpoint.Port()
		if port == "" {
			port = "80"
		}
		proxy = []iniValue{{"proxy", "type", "http"}, {"proxy", "address", endpoint.Hostname()}, {"proxy", "port", port}}
	}
	values = append(values, proxy...)
	if set.token == "" {
		return append(values, iniValue{"auth", "disable_credentials", "True"}, iniValue{"auth", "access_token_file", ""}), nil
	}
	// gcloud sends an access token file's contents as "Authorization: Bearer …", the
	// header Meridian's API checks.
	tokenFile := filepath.Join(dir, "meridian_token_"+name)
	if err := writePrivateFile(tokenFile, []byte(set.token)); err != nil {
		return nil, fmt.Errorf("writing the API token for gcloud: %w", err)
	}
	return append(values, iniValue{"auth", "disable_credentials", ""}, iniValue{"auth", "access_token_file", tokenFile}), nil
}

// gcloudConfigDir is gcloud's configuration directory: $CLOUDSDK_CONFIG, else
// ~/.config/gcloud.
func gcloudConfigDir(getenv func(string) string) string {
	if d := getenv("CLOUDSDK_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "gcloud")
}

// validConfigurationName is gcloud's rule for configuration names.
func validConfigurationName(name string) bool {
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// writePrivateFile replaces a file atomically, readable by its owner only.
func writePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename this fails harmlessly
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// iniValue is one property of a gcloud configuration file (Python's configparser
// format: "[section]" lines, then "key = value" lines).
type iniValue struct{ section, key, value string }

// iniSet returns text with each value set in its section, or removed when the value is
// empty, keeping every other line (comments, other properties) as it was.
func iniSet(text string, values []iniValue) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	pending := map[[2]string]string{}
	var order [][2]string
	for _, v := range values {
		k := [2]string{v.section, v.key}
		if _, ok := pending[k]; !ok {
			order = append(order, k)
		}
		pending[k] = v.value
	}
	var out []string
	section := ""
	// flush adds the pending values of the section that just ended, before its
	// trailing blank lines.
	flush := func() {
		end := len(out)
		for end > 0 && strings.TrimSpace(out[end-1]) == "" {
			end--
		}
		var added []string
		for _, k := range order {
			if v, ok := pending[k]; ok && k[0] == section {
				if v != "" {
					added = append(added, k[1]+" = "+v)
				}
				delete(pending, k)
			}
		}
		out = append(out[:end:end], append(added, out[end:]...)...)
	}
	for _, line := range lines {
		if name, ok := iniSection(line); ok {
			flush()
			section = name
			out = append(out, line)
			continue
		}
		if key, ok := iniKey(line); ok && section != "" {
			if v, set := pending[[2]string{section, key}]; set {
				if v != "" {
					out = append(out, key+" = "+v)
				}
				delete(pending, [2]string{section, key})
				continue
			}
		}
		out = append(out, line)
	}
	flush()
	// Sections the text did not have, in the order their values came.
	for _, k := range order {
		if _, ok := pending[k]; !ok {
			continue
		}
		section = k[0]
		header := false
		for _, k2 := range order {
			v, ok := pending[k2]
			if !ok || k2[0] != section {
				continue
			}
			if v != "" && !header {
				out = append(out, "", "["+section+"]")
				header = true
			}
			if v != "" {
				out = append(out, k2[1]+" = "+v)
			}
			delete(pending, k2)
		}
	}
	return strings.TrimLeft(strings.Join(out, "\n"), "\n") + "\n"
}

// iniSection reads a "[section]" line.
func iniSection(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return "", false
	}
	return strings.TrimSpace(t[1 : len(t)-1]), true
}

// iniKey reads the key of a "key = value" or "key: value" line; configparser's keys
// are case-insensitive and stored lowercase. Comments and continuation lines (which
// start with white space) have none.
func iniKey(line string) (string, bool) {
	if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == ';' {
		return "", false
	}
	i := strings.IndexAny(line, "=:")
	if i <= 0 {
		return "", false
	}
	return strings.ToLower(strings.TrimSpace(line[:i])), true
}
