package integration

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"meridian/internal/cli"
	"meridian/internal/controlplane"
	"meridian/internal/store"
	"meridian/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// meridian runs CLI commands in-process against one API server.
type meridian struct {
	t      *testing.T
	env    map[string]string
	config string
	store  *store.Store // the API server's store, for writing what the region runtime would
}

func newMeridian(t *testing.T) *meridian {
	t.Helper()
	st := testutil.Store(t)
	s := controlplane.New(st, controlplane.Config{
		Now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) },
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	config := filepath.Join(t.TempDir(), "config.json")
	if err := cli.WriteConfig(config, cli.Config{Endpoint: srv.URL, Project: "default"}); err != nil {
		t.Fatal(err)
	}
	return &meridian{t: t, env: map[string]string{}, config: config, store: st}
}

// run executes one command line and returns its stdout and stderr.
func (m *meridian) run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	env := cli.Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return m.env[k] }, ConfigPath: m.config,
	}
	root := &cobra.Command{Use: "meridian", SilenceUsage: true}
	root.AddCommand(cli.NewCommands(env)...)
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (m *meridian) ok(args ...string) string {
	m.t.Helper()
	out, errOut, err := m.run(args...)
	if err != nil {
		m.t.Fatalf("meridian %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	m.t.Logf("$ meridian %s\n%s%s", strings.Join(args, " "), errOut, out)
	return out
}

// TestSeedScript runs the acceptance script's commands, in order, in-process.
func TestSeedScript(t *testing.T) {
	m := newMeridian(t)
	m.startRuntime() // replace waits for the service to be ready
	yaml := filepath.Join(t.TempDir(), "service.yaml")
	if err := os.WriteFile(yaml, []byte(seedService), 0o644); err != nil {
		t.Fatal(err)
	}
	m.ok("run", "services", "replace", yaml, "--region=us-central1")
	m.ok("compute", "network-endpoint-groups", "create", "cloudrun-neg", "--region=us-central1",
		"--network-endpoint-type=SERVERLESS", "--cloud-run-service=my-global-app")
	m.ok("compute", "backend-services", "create", "cloudrun-backend", "--global",
		"--load-balancing-scheme=EXTERNAL_MANAGED", "--enable-cdn")
	m.ok("compute", "backend-services", "add-backend", "cloudrun-backend", "--global",
		"--network-endpoint-group=cloudrun-neg", "--network-endpoint-group-region=us-central1")
	m.ok("compute", "url-maps", "create", "cloudrun-url-map", "--default-service=cloudrun-backend")
	m.ok("compute", "ssl-certificates", "create", "my-ssl-cert", "--domains=your-domain.com")
	m.ok("compute", "target-https-proxies", "create", "https-proxy", "--ssl-certificates=my-ssl-cert",
		"--url-map=cloudrun-url-map")
	m.ok("compute", "addresses", "create", "global-ip", "--global")
	ip := strings.TrimSpace(m.ok("compute", "addresses", "describe", "global-ip", "--global", "--format=value(address)"))
	if !strings.HasPrefix(ip, "127.0.10.") {
		t.Fatalf("address = %q, want one from the default pool", ip)
	}
	m.ok("compute", "forwarding-rules", "create", "https-forwarding-rule", "--address="+ip,
		"--global", "--target-https-proxy=https-proxy", "--ports=443")
	fr := m.ok("compute", "forwarding-rules", "describe", "https-forwarding-rule", "--global", "--format=value(IPAddress,portRange)")
	if strings.Fields(fr)[0] != ip || strings.Fields(fr)[1] != "443-443" {
		t.Errorf("forwarding rule: %q", fr)
	}

	// The list tables read as gcloud's.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compute", "backend-services", "list"},
			"NAME              BACKENDS                                        PROTOCOL\n" +
				"cloudrun-backend  us-central1/networkEndpointGroups/cloudrun-neg  HTTP\n"},
		{[]string{"compute", "network-endpoint-groups", "list"},
			"NAME          LOCATION     ENDPOINT_TYPE  SIZE\n" +
				"cloudrun-neg  us-central1  SERVERLESS\n"},
		{[]string{"compute", "url-maps", "list"},
			"NAME              DEFAULT_SERVICE\n" +
				"cloudrun-url-map  backendServices/cloudrun-backend\n"},
		{[]string{"compute", "target-https-proxies", "list"},
			"NAME         SSL_CERTIFICATES  URL_MAP\n" +
				"https-proxy  my-ssl-cert       cloudrun-url-map\n"},
		{[]string{"compute", "addresses", "list"},
			"NAME       ADDRESS/RANGE  TYPE      PURPOSE  NETWORK  REGION  SUBNET  STATUS\n" +
				"global-ip  " + ip + "     EXTERNAL                                    IN_USE\n"},
		{[]string{"compute", "forwarding-rules", "list"},
			"NAME                   REGION  IP_ADDRESS  IP_PROTOCOL  TARGET\n" +
				"https-forwarding-rule          " + ip + "  TCP          https-proxy\n"},
	} {
		if got := m.ok(tc.args...); got != tc.want {
			t.Errorf("meridian %s:\n%s\nwant:\n%s", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

const seedService = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: my-global-app
  namespace: default
spec:
  template:
    spec:
      containers:
      - image: us-docker.pkg.dev/cloudrun/container/hello
`

// fails runs a command that must fail with stderr containing want.
func (m *meridian) fails(want string, args ...string) {
	m.t.Helper()
	out, errOut, err := m.run(args...)
	if err == nil || !strings.Contains(errOut, want) {
		m.t.Fatalf("meridian %s: err=%v, want stderr containing %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, want, out, errOut)
	}
}

// TestEveryCommandAgainstTheAPI drives each command family through create, change,
// read and delete on the real API, which decodes strictly: a field the CLI made up
// would fail here.
func TestEveryCommandAgainstTheAPI(t *testing.T) {
	m := newMeridian(t)
	m.startRuntime()
	dir := t.TempDir()

	// An internet NEG with endpoints.
	m.ok("compute", "network-endpoint-groups", "create", "origin", "--global", "--network-endpoint-type=internet-fqdn-port", "--default-port=443")
	m.ok("compute", "network-endpoint-groups", "update", "origin", "--global", "--add-endpoint=fqdn=origin.example.com,port=443", "--add-endpoint=fqdn=backup.example.com")
	m.ok("compute", "network-endpoint-groups", "update", "origin", "--global", "--remove-endpoint=fqdn=backup.example.com")
	if out := m.ok("compute", "network-endpoint-groups", "list-network-endpoints", "origin", "--global", "--format=value(networkEndpoint.fqdn)"); out != "origin.example.com\n" {
		t.Errorf("endpoints: %q", out)
	}
	if out := m.ok("compute", "network-endpoint-groups", "list", "--format=value(name,size)"); out != "origin\t1\n" && out != "origin 1\n" {
		t.Errorf("NEG list: %q", out)
	}

	// A backend service with CDN settings, then changed.
	m.ok("compute", "backend-services", "create", "web", "--global", "--load-balancing-scheme=EXTERNAL_MANAGED", "--protocol=HTTPS",
		"--enable-cdn", "--cache-mode=CACHE_ALL_STATIC", "--default-ttl=1h", "--max-ttl=1d", "--client-ttl=30m",
		"--negative-caching", "--negative-caching-policy=404=60,301=120", "--serve-while-stale=1h",
		"--bypass-cache-on-request-headers=X-Bypass", "--cache-key-include-host", "--cache-key-query-string-whitelist=v",
		"--cache-key-include-http-header=X-Tenant", "--custom-request-header=X-Geo: {client_region}",
		"--custom-response-header=Cache-Status: {cdn_cache_status}", "--enable-logging", "--logging-sample-rate=0.25",
		"--signed-url-cache-max-age=2h")
	m.ok("compute", "backend-services", "add-backend", "web", "--global", "--network-endpoint-group=origin", "--global-network-endpoint-group")
	m.ok("compute", "backend-services", "update", "web", "--global", "--cache-mode=USE_ORIGIN_HEADERS", "--no-request-coalescing",
		"--no-custom-request-headers", "--cache-key-query-string-blacklist=utm_source")
	bs := m.ok("compute", "backend-services", "describe", "web", "--global", "--format=json")
	for _, want := range []string{`"cacheMode": "USE_ORIGIN_HEADERS"`, `"requestCoalescing": false`, `"utm_source"`, `"sampleRate": 0.25`, `"signedUrlCacheMaxAgeSec": "7200"`} {
		if !strings.Contains(bs, want) {
			t.Errorf("backend service lacks %s:\n%s", want, bs)
		}
	}
	if strings.Contains(bs, "defaultTtl") || strings.Contains(bs, "customRequestHeaders") {
		t.Errorf("backend service kept TTLs or request headers:\n%s", bs)
	}
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("nZtRohdNF9m3cKM24IcK4w==\n"), 0o600)
	m.ok("compute", "backend-services", "add-signed-url-key", "web", "--global", "--key-name=k1", "--key-file="+key)
	if out := m.ok("compute", "backend-services", "describe", "web", "--global", "--format=value(cdnPolicy.signedUrlKeyNames)"); !strings.Contains(out, "k1") {
		t.Errorf("signed URL key names: %q", out)
	}
	m.ok("compute", "backend-services", "delete-signed-url-key", "web", "--global", "--key-name=k1")
	m.ok("compute", "backend-services", "create", "video", "--global", "--load-balancing-scheme=EXTERNAL_MANAGED")
	m.fails("already exists", "compute", "backend-services", "create", "video", "--global")

	// A URL map, edited every way.
	m.ok("compute", "url-maps", "create", "site", "--default-service=web")
	m.ok("compute", "url-maps", "add-path-matcher", "site", "--path-matcher-name=videos", "--default-service=video",
		"--path-rules=/v/*=video,/static/*=web", "--new-hosts=video.example.com")
	m.ok("compute", "url-maps", "add-host-rule", "site", "--hosts=tv.example.com", "--path-matcher-name=videos")
	m.ok("compute", "url-maps", "remove-host-rule", "site", "--host=tv.example.com")
	m.ok("compute", "url-maps", "set-default-service", "site", "--default-service=video")
	exported := filepath.Join(dir, "site.yaml")
	m.ok("compute", "url-maps", "export", "site", "--destination="+exported)
	m.ok("compute", "url-maps", "import", "copy", "--source="+exported)
	m.ok("compute", "url-maps", "import", "copy", "--source="+exported, "--quiet")
	if out := m.ok("compute", "url-maps", "validate", "--source="+exported, "--format=value(result.loadSucceeded)"); !strings.Contains(strings.ToLower(out), "true") {
		t.Errorf("validate: %q", out)
	}
	m.ok("compute", "url-maps", "invalidate-cdn-cache", "site", "--path=/v/*")
	m.ok("compute", "url-maps", "remove-path-matcher", "site", "--path-matcher-name=videos")
	m.ok("compute", "url-maps", "delete", "copy", "--quiet")

	// Certificates, proxies, an address and forwarding rules.
	m.ok("compute", "ssl-certificates", "create", "cert", "--domains=example.com,www.example.com")
	m.ok("compute", "ssl-certificates", "create", "cert2", "--domains=example.org")
	m.ok("compute", "target-https-proxies", "create", "https", "--ssl-certificates=cert", "--url-map=site", "--quic-override=DISABLE")
	m.ok("compute", "target-https-proxies", "update", "https", "--ssl-certificates=cert,cert2", "--quic-override=ENABLE", "--http-keep-alive-timeout-sec=300")
	if out := m.ok("compute", "target-https-proxies", "describe", "https", "--format=value(quicOverride,httpKeepAliveTimeoutSec)"); strings.Join(strings.Fields(out), " ") != "ENABLE 300" {
		t.Errorf("proxy: %q", out)
	}
	m.ok("compute", "target-http-proxies", "create", "http", "--url-map=site")
	m.ok("compute", "target-http-proxies", "update", "http", "--url-map=site")
	m.ok("compute", "addresses", "create", "ip", "--global")
	m.ok("compute", "forwarding-rules", "create", "fr", "--global", "--address=ip", "--target-http-proxy=http", "--ports=80",
		"--load-balancing-scheme=EXTERNAL_MANAGED")
	m.ok("compute", "forwarding-rules", "set-target", "fr", "--global", "--target-https-proxy=https")
	if out := m.ok("compute", "forwarding-rules", "list", "--format=value(name,target.basename())"); strings.Join(strings.Fields(out), " ") != "fr https" {
		t.Errorf("forwarding rules: %q", out)
	}
	m.fails("is already being used by", "compute", "addresses", "delete", "ip", "--global", "--quiet")

	// Health checks.
	m.ok("compute", "health-checks", "create", "http", "hc", "--port=8080", "--request-path=/healthz", "--check-interval=10s")
	m.ok("compute", "health-checks", "update", "http", "hc", "--healthy-threshold=3")
	if out := m.ok("compute", "health-checks", "describe", "hc", "--format=value(httpHealthCheck.requestPath,healthyThreshold)"); strings.Join(strings.Fields(out), " ") != "/healthz 3" {
		t.Errorf("health check: %q", out)
	}
	m.ok("compute", "health-checks", "create", "tcp", "db", "--port=5432")
	m.ok("compute", "health-checks", "delete", "hc", "db", "--quiet")

	// Operations can be read back.
	opName := strings.TrimSpace(m.ok("compute", "operations", "list", "--global", "--limit=1", "--format=value(name)"))
	if opName == "" {
		t.Fatal("no operations listed")
	}
	m.ok("compute", "operations", "describe", opName, "--global")

	// Cloud Run services.
	svc := filepath.Join(dir, "service.yaml")
	os.WriteFile(svc, []byte(seedService), 0o644)
	m.ok("run", "services", "replace", svc, "--region=europe-west1")
	if out := m.ok("run", "services", "list", "--region=europe-west1", "--format=value(metadata.name)"); out != "my-global-app\n" {
		t.Errorf("services: %q", out)
	}
	m.ok("run", "services", "describe", "my-global-app", "--region=europe-west1")
	m.ok("run", "services", "delete", "my-global-app", "--region=europe-west1", "--quiet")
	m.fails("does not exist", "run", "services", "describe", "my-global-app", "--region=europe-west1")

	// Everything can be deleted in dependency order.
	m.ok("compute", "forwarding-rules", "delete", "fr", "--global", "--quiet")
	m.ok("compute", "addresses", "delete", "ip", "--global", "--quiet")
	m.ok("compute", "target-https-proxies", "delete", "https", "--quiet")
	m.ok("compute", "target-http-proxies", "delete", "http", "--quiet")
	m.ok("compute", "ssl-certificates", "delete", "cert", "cert2", "--quiet")
	m.ok("compute", "url-maps", "delete", "site", "--quiet")
	m.ok("compute", "backend-services", "remove-backend", "web", "--global", "--network-endpoint-group=origin", "--global-network-endpoint-group")
	m.ok("compute", "backend-services", "delete", "web", "video", "--global", "--quiet")
	m.ok("compute", "network-endpoint-groups", "delete", "origin", "--global", "--quiet")
	if out := m.ok("compute", "backend-services", "list", "--uri"); out != "" {
		t.Errorf("backend services left: %q", out)
	}
}

// TestSecurityPolicyCommands runs gcloud's Cloud Armor commands against the API.
func TestSecurityPolicyCommands(t *testing.T) {
	m := newMeridian(t)
	m.ok("compute", "backend-services", "create", "web", "--global", "--load-balancing-scheme=EXTERNAL_MANAGED")

	m.ok("compute", "security-policies", "create", "edge-policy", "--description=refuses bad traffic")
	m.ok("compute", "security-policies", "update", "edge-policy", "--description=refuses bad traffic, kindly")
	m.ok("compute", "security-policies", "rules", "create", "1000", "--security-policy=edge-policy",
		"--expression=request.path.startsWith('/admin/')", "--action=deny-403", "--description=no admin")
	m.ok("compute", "security-policies", "rules", "create", "1100", "--security-policy=edge-policy",
		"--src-ip-ranges=198.51.100.7,203.0.113.0/24", "--action=deny-404", "--preview")
	m.ok("compute", "security-policies", "rules", "create", "1200", "--security-policy=edge-policy",
		"--src-ip-ranges=*", "--action=throttle", "--rate-limit-threshold-count=10", "--rate-limit-threshold-interval-sec=60",
		"--conform-action=allow", "--exceed-action=deny-429", "--enforce-on-key=ip")
	m.fails("Error parsing Cloud Armor rule matcher expression", "compute", "security-policies", "rules", "create", "1300",
		"--security-policy=edge-policy", "--expression=request.path.startsWith(", "--action=deny-403")
	m.fails("Cannot have rules with the same priorities", "compute", "security-policies", "rules", "create", "1000",
		"--security-policy=edge-policy", "--src-ip-ranges=*", "--action=allow")
	m.fails("priority must be a valid non-negative integer", "compute", "security-policies", "rules", "describe", "first", "--security-policy=edge-policy")
	if out := m.ok("compute", "security-policies", "rules", "describe", "1200", "--security-policy=edge-policy", "--format=value(action,rateLimitOptions.enforceOnKey,rateLimitOptions.rateLimitThreshold.count)"); strings.Join(strings.Fields(out), " ") != "throttle IP 10" {
		t.Errorf("throttle rule: %q", out)
	}
	// Changing a throttle to a deny drops its rate limit options (gcloud's updateMask).
	m.ok("compute", "security-policies", "rules", "update", "1200", "--security-policy=edge-policy", "--action=deny-502")
	if out := m.ok("compute", "security-policies", "rules", "describe", "1200", "--security-policy=edge-policy", "--format=json"); strings.Contains(out, "rateLimitOptions") || !strings.Contains(out, `"deny(502)"`) {
		t.Errorf("updated rule:\n%s", out)
	}
	m.ok("compute", "security-policies", "rules", "delete", "1200", "--security-policy=edge-policy", "--quiet")
	if out := m.ok("compute", "security-policies", "describe", "edge-policy", "--format=value(rules[].priority)"); strings.Join(strings.FieldsFunc(out, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '\n' }), " ") != "1000 1100 2147483647" {
		t.Errorf("priorities: %q", out)
	}
	if out := m.ok("compute", "security-policies", "list", "--format=value(name,description)"); !strings.Contains(out, "edge-policy") || !strings.Contains(out, "kindly") {
		t.Errorf("list: %q", out)
	}

	m.ok("compute", "backend-services", "update", "web", "--global", "--security-policy=edge-policy")
	if out := m.ok("compute", "backend-services", "describe", "web", "--global", "--format=value(securityPolicy.basename())"); strings.TrimSpace(out) != "edge-policy" {
		t.Errorf("backend service's policy: %q", out)
	}
	m.fails("is already being used by", "compute", "security-policies", "delete", "edge-policy", "--quiet")
	m.ok("compute", "backend-services", "update", "web", "--global", "--security-policy=")
	m.ok("compute", "security-policies", "delete", "edge-policy", "--quiet")
}
