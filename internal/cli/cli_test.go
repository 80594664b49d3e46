package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const bsPath = "/compute/v1/projects/p/global/backendServices"

func TestBackendServiceCreateSendsFlags(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("POST "+bsPath, 200, f.doneOp(bsPath+"/web"))
	f.reply("GET "+bsPath+"/web", 200, map[string]any{"name": "web", "protocol": "HTTP", "selfLink": f.url(bsPath + "/web")})
	r := f.run("compute", "backend-services", "create", "web", "--global",
		"--load-balancing-scheme=external-managed", "--protocol=HTTPS", "--timeout=1m", "--description=site",
		"--enable-cdn", "--cache-mode=FORCE_CACHE_ALL", "--default-ttl=1h", "--client-ttl=600", "--serve-while-stale=1d",
		"--negative-caching", "--negative-caching-policy=404=60,301=2m", "--no-request-coalescing",
		"--bypass-cache-on-request-headers=X-Bypass", "--bypass-cache-on-request-headers=X-Debug",
		"--signed-url-cache-max-age=12h", "--cache-key-include-host=false", "--no-cache-key-include-protocol",
		"--cache-key-query-string-whitelist=a,b", "--cache-key-include-http-header=X-Tenant",
		"--cache-key-include-named-cookie=session",
		"--custom-request-header=X-Geo: {client_region},{client_city}", "--custom-response-header=Cache-Status: {cdn_cache_status}",
		"--enable-logging", "--logging-sample-rate=0.5", "--logging-optional=custom", "--logging-optional-fields=tls.protocol,tls.cipher").mustSucceed(t)

	want := `{"cdnPolicy":{"bypassCacheOnRequestHeaders":[{"headerName":"X-Bypass"},{"headerName":"X-Debug"}],` +
		`"cacheKeyPolicy":{"includeHost":false,"includeHttpHeaders":["X-Tenant"],"includeNamedCookies":["session"],"includeProtocol":false,"includeQueryString":true,"queryStringWhitelist":["a","b"]},` +
		`"cacheMode":"FORCE_CACHE_ALL","clientTtl":600,"defaultTtl":3600,"negativeCaching":true,"negativeCachingPolicy":[{"code":404,"ttl":60},{"code":301,"ttl":120}],` +
		`"requestCoalescing":false,"serveWhileStale":86400,"signedUrlCacheMaxAgeSec":"43200"},` +
		`"customRequestHeaders":["X-Geo: {client_region},{client_city}"],"customResponseHeaders":["Cache-Status: {cdn_cache_status}"],` +
		`"description":"site","enableCDN":true,"loadBalancingScheme":"EXTERNAL_MANAGED","logConfig":{"enable":true,"optionalFields":["tls.protocol","tls.cipher"],"optionalMode":"CUSTOM","sampleRate":0.5},` +
		`"name":"web","protocol":"HTTPS","timeoutSec":60}`
	if got := jsonOf(t, f.last("POST", bsPath).Body); got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
	if want := "Created [" + f.url(bsPath+"/web") + "].\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	if want := "NAME  BACKENDS  PROTOCOL\nweb             HTTP\n"; r.stdout != want {
		t.Errorf("stdout = %q, want the new backend service as a row of the list table, %q", r.stdout, want)
	}
}

func TestDefaultListFormatsShortenLinks(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET /compute/v1/projects/p/global/backendServices", 200, map[string]any{"items": []any{
		map[string]any{"name": "web", "protocol": "HTTP", "backends": []any{
			map[string]any{"group": f.url("/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/neg")},
			map[string]any{"group": f.url("/compute/v1/projects/p/global/networkEndpointGroups/origin")},
		}},
	}})
	r := f.run("compute", "backend-services", "list", "--global").mustSucceed(t)
	want := "NAME  BACKENDS                                                            PROTOCOL\n" +
		"web   us-central1/networkEndpointGroups/neg,networkEndpointGroups/origin  HTTP\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	// A --format of the user's is used as given.
	r = f.run("compute", "backend-services", "list", "--global", "--format=value(backends[].group.basename())").mustSucceed(t)
	if r.stdout != "neg;origin\n" {
		t.Errorf("user format: %q", r.stdout)
	}
}

func TestBackendServiceUpdateReadsModifiesWrites(t *testing.T) {
	f := newFakeAPI(t)
	current := map[string]any{"name": "web", "fingerprint": "fp1", "enableCDN": true, "protocol": "HTTP",
		"backends":  []any{map[string]any{"group": f.url("/compute/v1/projects/p/regions/r/networkEndpointGroups/neg")}},
		"cdnPolicy": map[string]any{"cacheMode": "CACHE_ALL_STATIC", "defaultTtl": 3600, "maxTtl": 86400, "clientTtl": 3600, "serveWhileStale": 86400}}
	f.reply("GET "+bsPath+"/web", 200, current)
	puts := 0
	f.on("PUT "+bsPath+"/web", func(map[string]any) (int, any) {
		puts++
		if puts == 1 { // another writer got there first: the CLI reads again
			return 412, gcpError(412, "conditionNotMet", "Supplied fingerprint does not match current fingerprint of the backend service.")
		}
		return 200, f.doneOp(bsPath + "/web")
	})
	r := f.run("compute", "backend-services", "update", "web", "--global", "--cache-mode=USE_ORIGIN_HEADERS",
		"--custom-response-header=X-Cache: {cdn_cache_status}", "--no-serve-while-stale").mustSucceed(t)
	body := f.last("PUT", bsPath+"/web").Body
	want := `{"backends":[{"group":"` + f.url("/compute/v1/projects/p/regions/r/networkEndpointGroups/neg") + `"}],` +
		`"cdnPolicy":{"cacheMode":"USE_ORIGIN_HEADERS"},"customResponseHeaders":["X-Cache: {cdn_cache_status}"],` +
		`"enableCDN":true,"fingerprint":"fp1","name":"web","protocol":"HTTP"}`
	if got := jsonOf(t, body); got != want {
		t.Errorf("PUT body:\n got %s\nwant %s", got, want)
	}
	if puts != 2 {
		t.Errorf("%d PUTs, want 2 (one retry after 412)", puts)
	}
	if !strings.HasPrefix(r.stderr, "Updated [") {
		t.Errorf("stderr = %q", r.stderr)
	}
	f.run("compute", "backend-services", "update", "web", "--global").mustFail(t, "At least one property must be modified.")
}

func TestAddBackend(t *testing.T) {
	f := newFakeAPI(t)
	neg := "/compute/v1/projects/p/regions/us-central1/networkEndpointGroups/neg"
	f.reply("GET "+bsPath+"/web", 200, map[string]any{"name": "web", "backends": []any{map[string]any{"group": f.url(neg)}}})
	f.reply("PUT "+bsPath+"/web", 200, f.doneOp(bsPath+"/web"))

	f.run("compute", "backend-services", "add-backend", "web", "--global", "--network-endpoint-group=neg",
		"--network-endpoint-group-region=us-central1").
		mustFail(t, "ERROR: (meridian.compute.backend-services.add-backend) Backend [neg] in region [us-central1] already exists in backend service [web].")

	f.run("compute", "backend-services", "add-backend", "web", "--global", "--network-endpoint-group=other",
		"--network-endpoint-group-region=europe-west1", "--capacity-scaler=0.5", "--balancing-mode=rate", "--max-rate-per-endpoint=100").mustSucceed(t)
	want := `[{"group":"` + f.url(neg) + `"},{"balancingMode":"RATE","capacityScaler":0.5,"group":"projects/p/regions/europe-west1/networkEndpointGroups/other","maxRatePerEndpoint":100}]`
	if got := jsonOf(t, f.last("PUT", bsPath+"/web").Body["backends"]); got != want {
		t.Errorf("backends:\n got %s\nwant %s", got, want)
	}

	f.run("compute", "backend-services", "remove-backend", "web", "--global", "--network-endpoint-group=neg",
		"--network-endpoint-group-region=us-central1").mustSucceed(t)
	if got := f.last("PUT", bsPath+"/web").Body["backends"]; got != nil {
		t.Errorf("backends after remove-backend = %v, want none", got)
	}
	f.run("compute", "backend-services", "remove-backend", "web", "--global", "--network-endpoint-group=gone",
		"--global-network-endpoint-group").mustFail(t, "Backend [gone] in global is not a backend of backend service [web].")
	f.run("compute", "backend-services", "add-backend", "web", "--global", "--network-endpoint-group=neg").
		mustFail(t, "Underspecified resource [neg]")
}

func TestOperationsArePolledUntilDone(t *testing.T) {
	f := newFakeAPI(t)
	negs := "/compute/v1/projects/p/regions/us-central1/networkEndpointGroups"
	opPath := "/compute/v1/projects/p/regions/us-central1/operations/op-7"
	f.reply("POST "+negs, 200, map[string]any{"name": "op-7", "status": "RUNNING", "selfLink": f.url(opPath), "targetLink": f.url(negs + "/neg")})
	f.reply("POST "+opPath+"/wait", 200, map[string]any{"name": "op-7", "status": "DONE", "selfLink": f.url(opPath), "targetLink": f.url(negs + "/neg")})
	r := f.run("compute", "network-endpoint-groups", "create", "neg", "--region=us-central1",
		"--network-endpoint-type=serverless", "--cloud-run-service=app", "--cloud-run-tag=blue").mustSucceed(t)
	if r.stderr != "Created network endpoint group [neg].\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	f.last("POST", opPath+"/wait")
	want := `{"cloudRun":{"service":"app","tag":"blue"},"name":"neg","networkEndpointType":"SERVERLESS"}`
	if got := jsonOf(t, f.last("POST", negs).Body); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	f.run("compute", "network-endpoint-groups", "create", "neg", "--region=us-central1").mustFail(t, "argument --network-endpoint-type: Must be specified")
}

func TestErrorsPrintLikeGcloud(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("POST "+bsPath, 409, gcpError(409, "alreadyExists", "The resource 'projects/p/global/backendServices/web' already exists"))
	r := f.run("compute", "backend-services", "create", "web", "--global").
		mustFail(t, "ERROR: (meridian.compute.backend-services.create) Could not fetch resource:\n - The resource 'projects/p/global/backendServices/web' already exists\n")
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}

	// An operation that finished with errors.
	ums := "/compute/v1/projects/p/global/urlMaps"
	failed := f.doneOp(ums + "/m")
	failed["error"] = map[string]any{"errors": []any{map[string]any{"code": "INVALID", "message": "first problem"}, map[string]any{"message": "second problem"}}}
	f.reply("POST "+ums, 200, failed)
	f.run("compute", "url-maps", "create", "m", "--default-service=web").
		mustFail(t, "ERROR: (meridian.compute.url-maps.create) Could not fetch resource:\n - first problem\n - second problem\n")

	// Cloud Run errors are printed as they are.
	f.run("run", "services", "describe", "nope", "--region=r").mustFail(t, "ERROR: (meridian.run.services.describe) The resource")

	// Not JSON at all.
	f.reply("GET "+bsPath+"/odd", 502, "bad gateway")
	f.run("compute", "backend-services", "describe", "odd", "--global").mustFail(t, "HTTP 502 Bad Gateway")
}

func TestUnreachableAPI(t *testing.T) {
	srv := newFakeAPI(t)
	endpoint := srv.srv.URL
	srv.srv.Close() // nothing listens there any more
	r := runWithEnv(t, map[string]string{"MERIDIAN_API_ENDPOINT": endpoint}, "", "compute", "addresses", "list")
	r.mustFail(t, "Cannot reach Meridian's API at "+endpoint)
	if !strings.Contains(r.stderr, "meridian serve") {
		t.Errorf("stderr = %q, want a hint to run meridian serve", r.stderr)
	}
}

func TestScopeFlags(t *testing.T) {
	f := newFakeAPI(t)
	f.run("compute", "addresses", "describe", "global-ip").
		mustFail(t, "ERROR: (meridian.compute.addresses.describe) Underspecified resource [global-ip]. Specify one of the [--global, --region] flags.")
	f.run("compute", "addresses", "delete", "a", "b").mustFail(t, "Underspecified resources [a, b].")
	f.run("compute", "forwarding-rules", "describe", "fr", "--global", "--region=r").mustFail(t, "At most one of --global | --region")
	if n := len(f.sent()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
	// URL maps, certificates, proxies and health checks are global unless told.
	f.reply("GET /compute/v1/projects/p/global/urlMaps/m", 200, map[string]any{"name": "m"})
	f.run("compute", "url-maps", "describe", "m").mustSucceed(t)
	f.reply("GET /compute/v1/projects/p/regions/r/urlMaps/m", 200, map[string]any{"name": "m"})
	f.run("compute", "url-maps", "describe", "m", "--region=r").mustSucceed(t)
	// A URL names its own project and scope.
	f.reply("GET /compute/v1/projects/other/regions/r2/networkEndpointGroups/n", 200, map[string]any{"name": "n"})
	f.run("compute", "network-endpoint-groups", "describe", "https://x/compute/v1/projects/other/regions/r2/networkEndpointGroups/n").mustSucceed(t)
}

func TestDescribeFormats(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET /compute/v1/projects/p/global/addresses/ip", 200, map[string]any{"name": "ip", "address": "127.0.10.1", "status": "RESERVED"})
	r := f.run("compute", "addresses", "describe", "ip", "--global", "--format=value(address)").mustSucceed(t)
	if r.stdout != "127.0.10.1\n" {
		t.Errorf("value(address) printed %q", r.stdout)
	}
	r = f.run("compute", "addresses", "describe", "ip", "--global").mustSucceed(t)
	if !strings.Contains(r.stdout, "address: 127.0.10.1\n") || !strings.Contains(r.stdout, "name: ip\n") {
		t.Errorf("describe printed %q, want YAML", r.stdout)
	}
}

func TestDeletePrompts(t *testing.T) {
	f := newFakeAPI(t)
	path := "/compute/v1/projects/p/global/healthChecks"
	f.reply("DELETE "+path+"/a", 200, f.doneOp(path+"/a"))
	f.reply("DELETE "+path+"/b", 200, f.doneOp(path+"/b"))
	r := f.run("compute", "health-checks", "delete", "a", "b").mustSucceed(t)
	want := "The following health checks will be deleted:\n - [a]\n - [b]\n\nDo you want to continue (Y/n)?  \n" +
		"Deleted [" + f.url(path+"/a") + "].\nDeleted [" + f.url(path+"/b") + "].\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	r = f.run("compute", "health-checks", "delete", "a", "--quiet").mustSucceed(t)
	if r.stderr != "Deleted ["+f.url(path+"/a")+"].\n" {
		t.Errorf("with --quiet, stderr = %q", r.stderr)
	}
	negs := "/compute/v1/projects/p/regions/r/networkEndpointGroups"
	f.reply("DELETE "+negs+"/n", 200, f.doneOp(negs+"/n"))
	r = f.run("compute", "network-endpoint-groups", "delete", "n", "--region=r", "-q").mustSucceed(t)
	if r.stderr != "Deleted network endpoint group [n].\n" {
		t.Errorf("NEG delete stderr = %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.run("compute", "addresses", "create", "--global").mustFail(t, "ERROR: (meridian.compute.addresses.create) argument NAME: Must be specified.\nUsage: meridian compute addresses create NAME [NAME ...] [flags]")
	f.run("compute", "addresses", "describe", "a", "b", "--global").mustFail(t, "unrecognized arguments: b")
	f.run("compute", "addresses", "create", "a", "--bogus").mustFail(t, "ERROR: (meridian.compute.addresses.create) unknown flag: --bogus")
	f.run("compute", "backend-services", "create", "a", "--cache-mode=SOMETIMES").mustFail(t, "Invalid choice: 'SOMETIMES'")
	f.run("compute", "backend-services", "create", "a", "--default-ttl=soon").mustFail(t, `"soon" is not a duration`)
	f.run("compute", "teleporters").mustFail(t, "ERROR: (meridian.compute) Invalid choice: 'teleporters'.")
	f.run("compute").mustFail(t, "ERROR: (meridian.compute) Command name argument expected.")
}

func TestConfigurationPrecedence(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET /compute/v1/projects/from-flag/global/addresses/a", 200, map[string]any{"name": "a"})
	f.reply("GET /compute/v1/projects/from-env/global/addresses/a", 200, map[string]any{"name": "a"})
	f.reply("GET /compute/v1/projects/from-file/global/addresses/a", 200, map[string]any{"name": "a"})
	f.reply("GET /compute/v1/projects/default/global/addresses/a", 200, map[string]any{"name": "a"})
	config := filepath.Join(t.TempDir(), "meridian", "config.json")
	describe := func(env map[string]string, extra ...string) request {
		t.Helper()
		env["MERIDIAN_CONFIG"] = config
		runWithEnv(t, env, "", append([]string{"compute", "addresses", "describe", "a", "--global"}, extra...)...).mustSucceed(t)
		reqs := f.sent()
		return reqs[len(reqs)-1]
	}
	// Nothing configured: the default endpoint would be used, so give it by flag.
	if got := describe(map[string]string{}, "--api-endpoint="+f.srv.URL).Path; !strings.Contains(got, "/projects/default/") {
		t.Errorf("default project: path %s", got)
	}
	if err := WriteConfig(config, Config{Endpoint: f.srv.URL, Project: "from-file", Token: "file-token"}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(config); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v, %v; want 0600", info.Mode(), err)
	}
	r := describe(map[string]string{})
	if !strings.Contains(r.Path, "/projects/from-file/") || r.Auth != "Bearer file-token" {
		t.Errorf("from the file: %s, auth %q", r.Path, r.Auth)
	}
	r = describe(map[string]string{"CLOUDSDK_CORE_PROJECT": "from-env", "MERIDIAN_API_TOKEN": "env-token"})
	if !strings.Contains(r.Path, "/projects/from-env/") || r.Auth != "Bearer env-token" {
		t.Errorf("from the environment: %s, auth %q", r.Path, r.Auth)
	}
	r = describe(map[string]string{"MERIDIAN_PROJECT": "from-env"}, "--project=from-flag")
	if !strings.Contains(r.Path, "/projects/from-flag/") {
		t.Errorf("from the flag: %s", r.Path)
	}
	bad := runWithEnv(t, map[string]string{"MERIDIAN_CONFIG": config, "MERIDIAN_PROJECT": "Bad/Project"}, "", "compute", "addresses", "list")
	bad.mustFail(t, "Invalid project [Bad/Project]")
}

func TestDefaultConfigPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := DefaultConfigPath(env(map[string]string{"MERIDIAN_CONFIG": "/x/c.json", "XDG_CONFIG_HOME": "/xdg"})); got != "/x/c.json" {
		t.Errorf("with MERIDIAN_CONFIG: %s", got)
	}
	if got := DefaultConfigPath(env(map[string]string{"XDG_CONFIG_HOME": "/xdg"})); got != "/xdg/meridian/config.json" {
		t.Errorf("with XDG_CONFIG_HOME: %s", got)
	}
	if got := DefaultConfigPath(env(map[string]string{})); !strings.HasSuffix(got, filepath.Join("meridian", "config.json")) {
		t.Errorf("default: %s", got)
	}
}

func TestUpdateConfigKeepsOtherFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := WriteConfig(path, Config{Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	if err := UpdateConfig(path, func(c *Config) { c.Endpoint, c.Project = "http://127.0.0.1:9610", "p" }); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(path)
	if err != nil || c != (Config{Endpoint: "http://127.0.0.1:9610", Project: "p", Token: "secret"}) {
		t.Errorf("config = %+v, %v", c, err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(path); err == nil {
		t.Error("ReadConfig accepted a broken file")
	}
}

func TestConfigCommands(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	env := map[string]string{"MERIDIAN_CONFIG": config}
	r := runWithEnv(t, env, "", "config", "set", "project", "my-proj").mustSucceed(t)
	if r.stderr != "Updated property [core/project].\n" {
		t.Errorf("set: %q", r.stderr)
	}
	runWithEnv(t, env, "", "config", "set", "api_endpoint", "http://127.0.0.1:9999").mustSucceed(t)
	runWithEnv(t, env, "", "config", "set", "token", "s3cret").mustSucceed(t)
	if r := runWithEnv(t, env, "", "config", "get-value", "core/project").mustSucceed(t); r.stdout != "my-proj\n" {
		t.Errorf("get-value: %q", r.stdout)
	}
	r = runWithEnv(t, env, "", "config", "list").mustSucceed(t)
	if r.stdout != "[core]\nproject = my-proj\n[meridian]\napi_endpoint = http://127.0.0.1:9999\napi_token = (hidden)\n" {
		t.Errorf("list: %q", r.stdout)
	}
	runWithEnv(t, env, "", "config", "unset", "project").mustSucceed(t)
	if r := runWithEnv(t, env, "", "config", "get-value", "project").mustSucceed(t); r.stdout != "" || r.stderr != "(unset)\n" {
		t.Errorf("get-value after unset: %q %q", r.stdout, r.stderr)
	}
	runWithEnv(t, env, "", "config", "set", "zone", "x").mustFail(t, "has no property")
}

func TestListScopes(t *testing.T) {
	f := newFakeAPI(t)
	f.reply("GET /compute/v1/projects/p/aggregated/networkEndpointGroups", 200, map[string]any{"items": map[string]any{
		"regions/us-central1": map[string]any{"networkEndpointGroups": []any{map[string]any{"name": "b", "selfLink": "u/b"}}},
		"global":              map[string]any{"networkEndpointGroups": []any{map[string]any{"name": "c", "selfLink": "u/c"}}},
		"regions/asia-east1":  map[string]any{"warning": map[string]any{"code": "NO_RESULTS_ON_PAGE"}},
		"regions/europe-west1": map[string]any{"networkEndpointGroups": []any{
			map[string]any{"name": "a", "selfLink": "u/a"}}},
	}})
	r := f.run("compute", "network-endpoint-groups", "list", "--uri").mustSucceed(t)
	if r.stdout != "u/c\nu/a\nu/b\n" {
		t.Errorf("aggregated list: %q", r.stdout)
	}
	r = f.run("compute", "network-endpoint-groups", "list", "--uri", "--sort-by=~name", "--limit=2").mustSucceed(t)
	if r.stdout != "u/c\nu/b\n" {
		t.Errorf("sorted and limited: %q", r.stdout)
	}
	f.reply("GET /compute/v1/projects/p/global/networkEndpointGroups", 200, map[string]any{
		"items": []any{map[string]any{"name": "g1", "selfLink": "u/g1"}}, "nextPageToken": "t2"})
	f.on("GET /compute/v1/projects/p/global/networkEndpointGroups", func(map[string]any) (int, any) {
		reqs := f.sent()
		if reqs[len(reqs)-1].Query == "pageToken=t2" {
			return 200, map[string]any{"items": []any{map[string]any{"name": "g2", "selfLink": "u/g2"}}}
		}
		return 200, map[string]any{"items": []any{map[string]any{"name": "g1", "selfLink": "u/g1"}}, "nextPageToken": "t2"}
	})
	if r := f.run("compute", "network-endpoint-groups", "list", "--global", "--uri").mustSucceed(t); r.stdout != "u/g1\nu/g2\n" {
		t.Errorf("paged global list: %q", r.stdout)
	}
	f.reply("GET /compute/v1/projects/p/regions/r1/networkEndpointGroups", 200, map[string]any{"items": []any{map[string]any{"name": "x", "selfLink": "u/x"}}})
	f.reply("GET /compute/v1/projects/p/regions/r2/networkEndpointGroups", 200, map[string]any{})
	if r := f.run("compute", "network-endpoint-groups", "list", "--regions=r1,r2", "--uri").mustSucceed(t); r.stdout != "u/x\n" {
		t.Errorf("regional list: %q", r.stdout)
	}
	if r := f.run("compute", "network-endpoint-groups", "list", "x", "--regions=r1", "--format=value(name)").mustSucceed(t); r.stdout != "x\n" {
		t.Errorf("named list: %q", r.stdout)
	}
	if r := f.run("compute", "network-endpoint-groups", "list", "--regions=r2").mustSucceed(t); r.stdout != "" || r.stderr != "Listed 0 items.\n" {
		t.Errorf("empty list: %q %q", r.stdout, r.stderr)
	}
}

func TestNEGEndpoints(t *testing.T) {
	f := newFakeAPI(t)
	negs := "/compute/v1/projects/p/global/networkEndpointGroups"
	f.reply("POST "+negs+"/origin/attachNetworkEndpoints", 200, f.doneOp(negs+"/origin"))
	f.run("compute", "network-endpoint-groups", "update", "origin", "--global",
		"--add-endpoint=fqdn=origin.example.com,port=443", "--add-endpoint=ip=192.0.2.1,port=80").mustSucceed(t)
	want := `{"networkEndpoints":[{"fqdn":"origin.example.com","port":443},{"ipAddress":"192.0.2.1","port":80}]}`
	if got := jsonOf(t, f.last("POST", negs+"/origin/attachNetworkEndpoints").Body); got != want {
		t.Errorf("attach body = %s, want %s", got, want)
	}
	f.reply("POST "+negs+"/origin/detachNetworkEndpoints", 200, f.doneOp(negs+"/origin"))
	f.run("compute", "network-endpoint-groups", "update", "origin", "--global", "--remove-endpoint=ip=192.0.2.1,port=80").mustSucceed(t)
	f.run("compute", "network-endpoint-groups", "update", "origin", "--global").mustFail(t, "Exactly one of (--add-endpoint | --remove-endpoint)")
	f.run("compute", "network-endpoint-groups", "update", "origin", "--global", "--add-endpoint=port=99999").mustFail(t, "Invalid endpoint [port=99999]")
}

func TestTargetHTTPSProxyUpdateUsesGCPMethods(t *testing.T) {
	f := newFakeAPI(t)
	const base = "/compute/v1/projects/p"
	for _, p := range []string{base + "/targetHttpsProxies/px/setSslCertificates", base + "/targetHttpsProxies/px/setUrlMap",
		base + "/global/targetHttpsProxies/px/setQuicOverride", base + "/global/targetHttpsProxies/px/setSslPolicy"} {
		f.reply("POST "+p, 200, f.doneOp(base+"/global/targetHttpsProxies/px"))
	}
	f.reply("PATCH "+base+"/global/targetHttpsProxies/px", 200, f.doneOp(base+"/global/targetHttpsProxies/px"))
	r := f.run("compute", "target-https-proxies", "update", "px", "--ssl-certificates=c1,c2", "--url-map=um",
		"--quic-override=ENABLE", "--http-keep-alive-timeout-sec=100", "--clear-ssl-policy").mustSucceed(t)
	var got []string
	for _, req := range f.sent() {
		got = append(got, req.Method+" "+req.Path+" "+jsonOf(t, req.Body))
	}
	want := []string{
		`POST ` + base + `/targetHttpsProxies/px/setSslCertificates {"sslCertificates":["projects/p/global/sslCertificates/c1","projects/p/global/sslCertificates/c2"]}`,
		`POST ` + base + `/targetHttpsProxies/px/setUrlMap {"urlMap":"projects/p/global/urlMaps/um"}`,
		`POST ` + base + `/global/targetHttpsProxies/px/setQuicOverride {"quicOverride":"ENABLE"}`,
		`POST ` + base + `/global/targetHttpsProxies/px/setSslPolicy {}`,
		`PATCH ` + base + `/global/targetHttpsProxies/px {"httpKeepAliveTimeoutSec":100}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Count(r.stderr, "Updated [") != 1 {
		t.Errorf("stderr = %q, want one Updated line", r.stderr)
	}
	f.run("compute", "target-https-proxies", "update", "px").mustFail(t, "At least one property must be modified.")
}

// TestSSLPolicies: ssl-policies create and update send gcloud's fields (the minimum
// version as the API's enum, a PATCH with the fingerprint that drops custom features
// for a pre-configured profile), and list-available-features prints one per line.
func TestSSLPolicies(t *testing.T) {
	f := newFakeAPI(t)
	const base = "/compute/v1/projects/p/global/sslPolicies"
	f.reply("POST "+base, 200, f.doneOp(base+"/sp"))
	f.reply("GET "+base+"/sp", 200, map[string]any{"name": "sp", "profile": "CUSTOM", "minTlsVersion": "TLS_1_2", "fingerprint": "Zm9v"})
	f.reply("PATCH "+base+"/sp", 200, f.doneOp(base+"/sp"))
	f.reply("GET "+base+"/listAvailableFeatures", 200, map[string]any{"features": []string{"TLS_A", "TLS_B"}})
	f.run("compute", "ssl-policies", "create", "sp", "--profile=CUSTOM", "--min-tls-version=1.2", "--custom-features=TLS_A").mustSucceed(t)
	f.run("compute", "ssl-policies", "update", "sp", "--profile=MODERN").mustSucceed(t)
	r := f.run("compute", "ssl-policies", "list-available-features").mustSucceed(t)
	var got []string
	for _, req := range f.sent() {
		if req.Method != "GET" {
			got = append(got, req.Method+" "+req.Path+" "+jsonOf(t, req.Body))
		}
	}
	want := []string{
		`POST ` + base + ` {"customFeatures":["TLS_A"],"minTlsVersion":"TLS_1_2","name":"sp","profile":"CUSTOM"}`,
		`PATCH ` + base + `/sp {"customFeatures":null,"fingerprint":"Zm9v","profile":"MODERN"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.stdout != "TLS_A\nTLS_B\n" {
		t.Errorf("list-available-features printed %q", r.stdout)
	}
	f.run("compute", "ssl-policies", "update", "sp").mustFail(t, "At least one property must be modified.")
	f.run("compute", "ssl-policies", "create", "sp2", "--profile=STRICT").mustFail(t, "STRICT")
}

func TestForwardingRuleCreate(t *testing.T) {
	f := newFakeAPI(t)
	frs := "/compute/v1/projects/p/global/forwardingRules"
	f.reply("POST "+frs, 200, f.doneOp(frs+"/fr"))
	f.reply("GET "+frs+"/fr", 200, map[string]any{"name": "fr"})
	f.run("compute", "forwarding-rules", "create", "fr", "--global", "--address=127.0.10.1", "--target-https-proxy=px",
		"--ports=443", "--load-balancing-scheme=EXTERNAL_MANAGED").mustSucceed(t)
	want := `{"IPAddress":"127.0.10.1","loadBalancingScheme":"EXTERNAL_MANAGED","name":"fr","portRange":"443","target":"projects/p/global/targetHttpsProxies/px"}`
	if got := jsonOf(t, f.last("POST", frs).Body); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	f.run("compute", "forwarding-rules", "create", "fr", "--global", "--address=global-ip", "--target-http-proxy=hp", "--ports=80").mustSucceed(t)
	want = `{"IPAddress":"projects/p/global/addresses/global-ip","name":"fr","portRange":"80","target":"projects/p/global/targetHttpProxies/hp"}`
	if got := jsonOf(t, f.last("POST", frs).Body); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	f.run("compute", "forwarding-rules", "create", "fr", "--global", "--ports=443").mustFail(t, "Exactly one of (--target-http-proxy | --target-https-proxy)")
	f.run("compute", "forwarding-rules", "create", "fr", "--global", "--target-http-proxy=hp", "--ports=80,443").mustFail(t, "single port or port range")
	f.run("compute", "forwarding-rules", "create", "fr", "--global", "--target-http-proxy=hp", "--ports=http").mustFail(t, "argument --ports")
}

func TestRunServicesReplace(t *testing.T) {
	f := newFakeAPI(t)
	services := "/regions/us-central1/apis/serving.knative.dev/v1/namespaces/p/services"
	file := filepath.Join(t.TempDir(), "service.yaml")
	os.WriteFile(file, []byte("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: app\n  namespace: default\nspec:\n  template:\n    spec:\n      containers:\n      - image: hello\n"), 0o644)
	f.reply("GET "+services+"/app", 404, gcpError(404, "notFound", "Resource 'app' of kind 'SERVICE' does not exist."))
	f.reply("POST "+services, 200, map[string]any{"metadata": map[string]any{"name": "app"}, "status": map[string]any{"url": "http://app.example"}})
	r := f.run("run", "services", "replace", file, "--region=us-central1", "--async").mustSucceed(t)
	want := "Applying new configuration to Cloud Run service [app] in project [p] region [us-central1]\n" +
		"New configuration has been applied to service [app].\nURL: http://app.example\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}

	// Without --async, replace waits until the service is Ready.
	var posted atomic.Bool
	f.on("GET "+services+"/app", func(map[string]any) (int, any) {
		if !posted.Load() {
			return 404, gcpError(404, "notFound", "Resource 'app' of kind 'SERVICE' does not exist.")
		}
		return 200, map[string]any{"metadata": map[string]any{"name": "app", "generation": 1}, "status": map[string]any{
			"observedGeneration": 1, "url": "http://app.example", "latestReadyRevisionName": "app-00001-abc",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}}
	})
	f.on("POST "+services, func(map[string]any) (int, any) {
		posted.Store(true)
		return 200, map[string]any{"metadata": map[string]any{"name": "app"}}
	})
	r = f.run("run", "services", "replace", file, "--region=us-central1").mustSucceed(t)
	want = "Applying new configuration to Cloud Run service [app] in project [p] region [us-central1]\n" +
		"New configuration has been applied to service [app].\nURL: http://app.example\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	body := f.last("POST", services).Body
	if got := jsonOf(t, body["metadata"]); got != `{"name":"app","namespace":"p"}` {
		t.Errorf("metadata = %s", got)
	}

	f.reply("GET "+services+"/app", 200, map[string]any{"metadata": map[string]any{"name": "app"}})
	f.reply("PUT "+services+"/app", 200, map[string]any{"metadata": map[string]any{"name": "app"}})
	f.run("run", "services", "replace", file, "--region=us-central1", "--async").mustSucceed(t)
	f.last("PUT", services+"/app")

	f.run("run", "services", "replace", file).mustFail(t, "Missing required argument [--region]")
	os.WriteFile(file, []byte("metadata:\n  name: app\n  namespace: other-project\n"), 0o644)
	f.run("run", "services", "replace", file, "--region=us-central1").mustFail(t, "Namespace must be project ID [p]")
}

func TestRunServicesDeleteAndList(t *testing.T) {
	f := newFakeAPI(t)
	services := "/regions/r/apis/serving.knative.dev/v1/namespaces/p/services"
	f.reply("DELETE "+services+"/app", 200, map[string]any{"status": "Success"})
	r := f.run("run", "services", "delete", "app", "--region=r").mustSucceed(t)
	if r.stderr != "Service [app] will be deleted.\n\nDo you want to continue (Y/n)?  \nDeleted service [app].\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	f.reply("GET "+services, 200, map[string]any{"kind": "ServiceList", "items": []any{map[string]any{"metadata": map[string]any{"name": "app"}}}})
	if r := f.run("run", "services", "list", "--region=r", "--format=value(metadata.name)").mustSucceed(t); r.stdout != "app\n" {
		t.Errorf("list: %q", r.stdout)
	}
}

func TestURLMapEdits(t *testing.T) {
	f := newFakeAPI(t)
	um := "/compute/v1/projects/p/global/urlMaps/m"
	f.reply("GET "+um, 200, map[string]any{"name": "m", "fingerprint": "fp", "defaultService": "projects/p/global/backendServices/web",
		"hostRules":    []any{map[string]any{"hosts": []any{"a.example", "b.example"}, "pathMatcher": "pm-a"}},
		"pathMatchers": []any{map[string]any{"name": "pm-a", "defaultService": "projects/p/global/backendServices/web"}}})
	f.reply("PUT "+um, 200, f.doneOp(um))
	put := func() string { return jsonOf(t, f.last("PUT", um).Body) }

	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=pm-v", "--default-service=video",
		"--path-rules=/v/*=video,/live=live,/v2/*=video", "--new-hosts=v.example").mustSucceed(t)
	want := `{"defaultService":"projects/p/global/backendServices/web","fingerprint":"fp",` +
		`"hostRules":[{"hosts":["a.example","b.example"],"pathMatcher":"pm-a"},{"hosts":["v.example"],"pathMatcher":"pm-v"}],"name":"m",` +
		`"pathMatchers":[{"defaultService":"projects/p/global/backendServices/web","name":"pm-a"},` +
		`{"defaultService":"projects/p/global/backendServices/video","name":"pm-v","pathRules":[{"paths":["/live"],"service":"projects/p/global/backendServices/live"},{"paths":["/v/*","/v2/*"],"service":"projects/p/global/backendServices/video"}]}]}`
	if got := put(); got != want {
		t.Errorf("add-path-matcher:\n got %s\nwant %s", got, want)
	}
	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=x", "--default-service=web", "--new-hosts=b.example").
		mustFail(t, "Cannot create a new host rule with host [b.example] because the host is already part of a host rule that references the path matcher [pm-a].")
	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=x", "--default-service=web", "--existing-host=a.example").
		mustFail(t, "This operation will orphan the path matcher [pm-a].")
	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=x", "--default-service=web", "--existing-host=a.example",
		"--delete-orphaned-path-matcher").mustSucceed(t)
	if got := put(); !strings.Contains(got, `"pathMatcher":"x"`) || strings.Contains(got, `"name":"pm-a"`) {
		t.Errorf("existing host: %s", got)
	}
	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=x", "--default-service=web").
		mustFail(t, "Exactly one of (--existing-host | --new-hosts)")
	f.run("compute", "url-maps", "add-path-matcher", "m", "--path-matcher-name=x", "--default-backend-bucket=b", "--new-hosts=z").
		mustFail(t, "no backend buckets")

	f.run("compute", "url-maps", "remove-host-rule", "m", "--host=nope").mustFail(t, "No host rule contains the host [nope].")
	f.run("compute", "url-maps", "remove-host-rule", "m", "--host=a.example").mustFail(t, "orphan the path matcher [pm-a]")
	f.run("compute", "url-maps", "remove-host-rule", "m", "--host=b.example", "--delete-orphaned-path-matcher").mustSucceed(t)
	if got := put(); strings.Contains(got, "hostRules") || strings.Contains(got, "pathMatchers") {
		t.Errorf("remove-host-rule: %s", got)
	}
	f.run("compute", "url-maps", "remove-path-matcher", "m", "--path-matcher-name=pm-a").mustSucceed(t)
	if got := put(); strings.Contains(got, "hostRules") || strings.Contains(got, "pm-a") {
		t.Errorf("remove-path-matcher: %s", got)
	}
	f.run("compute", "url-maps", "remove-path-matcher", "m", "--path-matcher-name=nope").mustFail(t, "No path matcher with the name [nope] was found.")
	f.run("compute", "url-maps", "add-host-rule", "m", "--hosts=c.example,d.example", "--path-matcher-name=pm-a").mustSucceed(t)
	if got := put(); !strings.Contains(got, `{"hosts":["c.example","d.example"],"pathMatcher":"pm-a"}`) {
		t.Errorf("add-host-rule: %s", got)
	}
	f.run("compute", "url-maps", "set-default-service", "m", "--default-service=other").mustSucceed(t)
	if got := put(); !strings.Contains(got, `"defaultService":"projects/p/global/backendServices/other","fingerprint"`) {
		t.Errorf("set-default-service: %s", got)
	}
}

func TestURLMapInvalidateCache(t *testing.T) {
	f := newFakeAPI(t)
	um := "/compute/v1/projects/p/global/urlMaps/m"
	opPath := "/compute/v1/projects/p/global/operations/inv"
	pending := map[string]any{"name": "inv", "status": "PENDING", "targetLink": f.url(um), "selfLink": f.url(opPath)}
	f.reply("POST "+um+"/invalidateCache", 200, pending)
	r := f.run("compute", "url-maps", "invalidate-cdn-cache", "m", "--path=/images/*", "--host=example.com", "--async").mustSucceed(t)
	want := "Invalidation pending for [" + f.url(um) + "]\nMonitor its progress at [" + f.url(opPath) + "]\n"
	if r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	if got := jsonOf(t, f.last("POST", um+"/invalidateCache").Body); got != `{"host":"example.com","path":"/images/*"}` {
		t.Errorf("rule = %s", got)
	}
	f.reply("POST "+opPath+"/wait", 200, map[string]any{"name": "inv", "status": "DONE", "targetLink": f.url(um), "selfLink": f.url(opPath)})
	f.run("compute", "url-maps", "invalidate-cdn-cache", "m", "--tags=a,b").mustSucceed(t)
	f.last("POST", opPath+"/wait")
	f.run("compute", "url-maps", "invalidate-cdn-cache", "m").mustFail(t, "argument --path: Must be specified.")
}

func TestHealthCheckUpdateChecksProtocol(t *testing.T) {
	f := newFakeAPI(t)
	hc := "/compute/v1/projects/p/global/healthChecks/hc"
	f.reply("GET "+hc, 200, map[string]any{"name": "hc", "type": "HTTP", "httpHealthCheck": map[string]any{"port": 80, "requestPath": "/"}})
	f.reply("PUT "+hc, 200, f.doneOp(hc))
	f.run("compute", "health-checks", "update", "https", "hc", "--port=443").mustFail(t, "update https subcommand applied to health check with protocol HTTP.")
	f.run("compute", "health-checks", "update", "http", "hc", "--request-path=/healthz", "--check-interval=10s", "--use-serving-port").mustSucceed(t)
	want := `{"checkIntervalSec":10,"httpHealthCheck":{"port":80,"portSpecification":"USE_SERVING_PORT","requestPath":"/healthz"},"name":"hc","type":"HTTP"}`
	if got := jsonOf(t, f.last("PUT", hc).Body); got != want {
		t.Errorf("PUT = %s, want %s", got, want)
	}
	hcs := "/compute/v1/projects/p/global/healthChecks"
	f.reply("POST "+hcs, 200, f.doneOp(hcs+"/tcp"))
	f.reply("GET "+hcs+"/tcp", 200, map[string]any{"name": "tcp", "type": "TCP"})
	f.run("compute", "health-checks", "create", "tcp", "tcp", "--port=5432", "--healthy-threshold=3", "--timeout=2s").mustSucceed(t)
	want = `{"healthyThreshold":3,"name":"tcp","tcpHealthCheck":{"port":5432,"portSpecification":"USE_FIXED_PORT"},"timeoutSec":2,"type":"TCP"}`
	if got := jsonOf(t, f.last("POST", hcs).Body); got != want {
		t.Errorf("POST = %s, want %s", got, want)
	}
}

func TestSignedURLKeys(t *testing.T) {
	f := newFakeAPI(t)
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("nZtRohdNF9m3cKM24IcK4w==\n"), 0o600)
	f.reply("POST "+bsPath+"/web/addSignedUrlKey", 200, f.doneOp(bsPath+"/web"))
	f.run("compute", "backend-services", "add-signed-url-key", "web", "--global", "--key-name=k1", "--key-file="+key).mustSucceed(t)
	if got := jsonOf(t, f.last("POST", bsPath+"/web/addSignedUrlKey").Body); got != `{"keyName":"k1","keyValue":"nZtRohdNF9m3cKM24IcK4w=="}` {
		t.Errorf("body = %s", got)
	}
	f.reply("POST "+bsPath+"/web/deleteSignedUrlKey", 200, f.doneOp(bsPath+"/web"))
	f.run("compute", "backend-services", "delete-signed-url-key", "web", "--global", "--key-name=k1").mustSucceed(t)
	if q := f.last("POST", bsPath+"/web/deleteSignedUrlKey").Query; q != "keyName=k1" {
		t.Errorf("query = %q", q)
	}
}

func TestGetHealth(t *testing.T) {
	f := newFakeAPI(t)
	neg := f.url("/compute/v1/projects/p/regions/r/networkEndpointGroups/neg")
	f.reply("GET "+bsPath+"/web", 200, map[string]any{"name": "web", "backends": []any{map[string]any{"group": neg}}})
	f.reply("POST "+bsPath+"/web/getHealth", 200, map[string]any{"kind": "compute#backendServiceGroupHealth"})
	r := f.run("compute", "backend-services", "get-health", "web", "--global").mustSucceed(t)
	if got := jsonOf(t, f.last("POST", bsPath+"/web/getHealth").Body); got != `{"group":"`+neg+`"}` {
		t.Errorf("body = %s", got)
	}
	if !strings.Contains(r.stdout, "backend: "+neg) || !strings.Contains(r.stdout, "kind: compute#backendServiceGroupHealth") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestSSLCertificateCreate(t *testing.T) {
	f := newFakeAPI(t)
	certs := "/compute/v1/projects/p/global/sslCertificates"
	f.reply("POST "+certs, 200, f.doneOp(certs+"/c"))
	f.reply("GET "+certs+"/c", 200, map[string]any{"name": "c"})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("CERT"), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("KEY"), 0o600)
	f.run("compute", "ssl-certificates", "create", "c", "--certificate="+filepath.Join(dir, "cert.pem"), "--private-key="+filepath.Join(dir, "key.pem")).mustSucceed(t)
	if got := jsonOf(t, f.last("POST", certs).Body); got != `{"certificate":"CERT","name":"c","privateKey":"KEY"}` {
		t.Errorf("self-managed body = %s", got)
	}
	f.run("compute", "ssl-certificates", "create", "c", "--domains=a.example,b.example").mustSucceed(t)
	if got := jsonOf(t, f.last("POST", certs).Body); got != `{"managed":{"domains":["a.example","b.example"]},"name":"c","type":"MANAGED"}` {
		t.Errorf("managed body = %s", got)
	}
	f.run("compute", "ssl-certificates", "create", "c").mustFail(t, "Exactly one of (--certificate | --domains)")
	f.run("compute", "ssl-certificates", "create", "c", "--certificate=x").mustFail(t, "Must be specified together")
	f.run("compute", "ssl-certificates", "create", "c", "--certificate=/nonexistent", "--private-key=/nonexistent").mustFail(t, "Unable to read file [/nonexistent]")
}

func TestMethodNotAllowedIsReported(t *testing.T) {
	f := newFakeAPI(t)
	f.on("GET "+bsPath+"/web", func(map[string]any) (int, any) {
		return http.StatusMethodNotAllowed, gcpError(405, "httpMethodNotAllowed", "Method GET is not allowed")
	})
	f.run("compute", "backend-services", "describe", "web", "--global").mustFail(t, " - Method GET is not allowed")
}
