package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoogleGcloud drives `meridian serve` with Google's own gcloud, configured by
// `meridian gcloud-config` and nothing else: the seed's script verbatim (Cloud Run
// included), then the commands users run next, then HTTPS through the load balancer it
// built.
func TestGoogleGcloud(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Google's gcloud is not installed, and CI must run this test with it")
		}
		t.Skip("Google's gcloud is not installed: this test drives Meridian with it")
	}
	bin := buildMeridian(t)
	work := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLOUDSDK_") { // the machine's gcloud settings stay out
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "MERIDIAN_CONFIG="+filepath.Join(work, "config.json"),
		"MERIDIAN_API_ENDPOINT=", "MERIDIAN_PROJECT=", "MERIDIAN_API_TOKEN=", "HOME="+work,
		"CLOUDSDK_CONFIG="+filepath.Join(work, "gcloud"), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	httpsPort := freePort(t, "127.0.10.1")
	startServe(t, bin, filepath.Join(work, "data"), env, fmt.Sprintf("--port-map=443:%d", httpsPort))
	sh := func(line string) string { t.Helper(); return runCombined(t, env, work, line) }
	gjson := func(line string, v any) {
		t.Helper()
		out := sh(line + " --format=json 2>/dev/null")
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}

	// One command configures gcloud; nothing else is set up.
	if out := sh("meridian gcloud-config --activate"); !strings.Contains(out, "Activated [meridian]") {
		t.Fatalf("gcloud-config said:\n%s", out)
	}

	// The seed's script, verbatim.
	doc, err := os.ReadFile(filepath.Join("testdata", "global-lb-cloud-run.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := seedCommands(t, string(doc), "gcloud")
	sh("set -euo pipefail\ncp " + filepath.Join(mustAbs(t, "testdata"), "service.yaml") + " service.yaml\n" +
		"gcloud run services replace service.yaml --region=us-central1\n" + strings.Join(cmds, "\n"))

	// HTTPS reaches the seed's service through what gcloud built.
	var addr map[string]any
	gjson("gcloud compute addresses describe global-ip --global", &addr)
	client := lbClient(t, sh("meridian ca-cert"), addr["address"].(string), httpsPort) // the root, from the API
	fetchUntil(t, client, "https://your-domain.com/", "Service: <strong>my-global-app</strong>")

	t.Run("run", func(t *testing.T) {
		// A second region, deployed with gcloud's own deploy, joins the backend service.
		sh(`set -e
gcloud run deploy my-global-app --image=us-docker.pkg.dev/cloudrun/container/hello --region=europe-west1
gcloud compute network-endpoint-groups create cloudrun-neg-eu --region=europe-west1 --network-endpoint-type=SERVERLESS --cloud-run-service=my-global-app
gcloud compute backend-services add-backend cloudrun-backend --global --network-endpoint-group=cloudrun-neg-eu --network-endpoint-group-region=europe-west1`)
		var services []map[string]any
		gjson("gcloud run services list", &services) // no region: every region
		regions := map[string]bool{}
		for _, s := range services {
			regions[s["metadata"].(map[string]any)["labels"].(map[string]any)["cloud.googleapis.com/location"].(string)] = true
		}
		if len(services) != 2 || !regions["us-central1"] || !regions["europe-west1"] {
			t.Errorf("run services list: %d services in %v", len(services), regions)
		}
		if out := sh("gcloud run services describe my-global-app --region=us-central1 2>&1"); !strings.Contains(out, "Service my-global-app in region us-central1") {
			t.Errorf("run services describe:\n%s", out)
		}

		// A revision without traffic, then all traffic to the latest.
		sh("gcloud run deploy my-global-app --image=us-docker.pkg.dev/cloudrun/container/hello --region=europe-west1 --update-env-vars=COLOR=green --no-traffic")
		var revisions []map[string]any
		gjson("gcloud run revisions list --region=europe-west1", &revisions)
		if len(revisions) != 2 {
			t.Fatalf("run revisions list: %v", revisions)
		}
		if out := sh("gcloud run services update-traffic my-global-app --to-latest --region=europe-west1 2>&1"); !strings.Contains(out, "100%") || !strings.Contains(out, "LATEST (currently my-global-app-00002-") {
			t.Errorf("update-traffic said:\n%s", out)
		}
		var svc map[string]any
		gjson("gcloud run services describe my-global-app --region=europe-west1", &svc)
		traffic := svc["spec"].(map[string]any)["traffic"].([]any)
		if len(traffic) != 1 || traffic[0].(map[string]any)["latestRevision"] != true || traffic[0].(map[string]any)["percent"] != float64(100) {
			t.Errorf("traffic after --to-latest: %v", traffic)
		}

		sh("gcloud run services delete my-global-app --region=europe-west1 --quiet")
		gjson("gcloud run services list", &services)
		if len(services) != 1 {
			t.Errorf("after delete, run services list: %v", services)
		}
	})

	t.Run("backend service", func(t *testing.T) {
		describe := func() map[string]any {
			var bs map[string]any
			gjson("gcloud compute backend-services describe cloudrun-backend --global", &bs)
			return bs
		}
		// gcloud sends the fingerprint in base64url and nulls for the TTLs the mode forbids.
		sh("gcloud compute backend-services update cloudrun-backend --global --cache-mode=USE_ORIGIN_HEADERS")
		cdn := describe()["cdnPolicy"].(map[string]any)
		if cdn["cacheMode"] != "USE_ORIGIN_HEADERS" || cdn["defaultTtl"] != nil || cdn["maxTtl"] != nil {
			t.Errorf("after --cache-mode=USE_ORIGIN_HEADERS: %v", cdn)
		}
		sh("gcloud compute backend-services update cloudrun-backend --global --no-enable-cdn")
		if describe()["enableCDN"] == true {
			t.Errorf("--no-enable-cdn left CDN on")
		}
		sh("gcloud compute backend-services update cloudrun-backend --global --enable-cdn")
		if describe()["enableCDN"] != true {
			t.Errorf("--enable-cdn left CDN off")
		}
		os.WriteFile(filepath.Join(work, "key"), []byte("nZtRohdNF9m3cKM24IcK4w==\n"), 0o600)
		sh("gcloud compute backend-services add-signed-url-key cloudrun-backend --key-name=k1 --key-file=key")
		if keys := describe()["cdnPolicy"].(map[string]any)["signedUrlKeyNames"]; fmt.Sprint(keys) != "[k1]" {
			t.Errorf("signed URL keys after add: %v", keys)
		}
		sh("gcloud compute backend-services delete-signed-url-key cloudrun-backend --key-name=k1")
		if keys := describe()["cdnPolicy"].(map[string]any)["signedUrlKeyNames"]; keys != nil {
			t.Errorf("signed URL keys after delete: %v", keys)
		}
		var health []map[string]any
		gjson("gcloud compute backend-services get-health cloudrun-backend --global", &health)
		if len(health) == 0 || !strings.Contains(fmt.Sprint(health), "healthState") {
			t.Errorf("get-health: %v", health)
		}
	})

	t.Run("url map", func(t *testing.T) {
		sh(`set -e
gcloud compute url-maps add-path-matcher cloudrun-url-map --default-service=cloudrun-backend --path-matcher-name=static --new-hosts=static.example.com --path-rules='/static/*=cloudrun-backend'
gcloud compute url-maps export cloudrun-url-map --destination=url-map.yaml
gcloud compute url-maps import cloudrun-url-map --source=url-map.yaml --quiet`)
		exported, _ := os.ReadFile(filepath.Join(work, "url-map.yaml"))
		if !strings.Contains(string(exported), "/static/*") || !strings.Contains(string(exported), "static.example.com") {
			t.Errorf("exported URL map:\n%s", exported)
		}
		if out := sh("gcloud compute url-maps invalidate-cdn-cache cloudrun-url-map --path='/images/*' 2>&1"); !strings.Contains(out, "Completed invalidation") {
			t.Errorf("invalidate-cdn-cache said:\n%s", out)
		}
		// Deleting what something uses fails with GCP's message.
		out, err := runFails(t, env, work, "gcloud compute url-maps delete cloudrun-url-map --quiet")
		if err == nil || !strings.Contains(out, "The url_map resource 'projects/default/global/urlMaps/cloudrun-url-map' is already being used by 'projects/default/global/targetHttpsProxies/https-proxy'") {
			t.Errorf("deleting an in-use URL map: err=%v\n%s", err, out)
		}
		fetchUntil(t, client, "https://your-domain.com/", "Service: <strong>my-global-app</strong>")
	})

	t.Run("ssl policy", func(t *testing.T) {
		sh(`set -e
gcloud compute ssl-policies create strict --profile=RESTRICTED --min-tls-version=1.2
gcloud compute target-https-proxies update https-proxy --ssl-policy=strict`)
		var features []string
		gjson("gcloud compute ssl-policies list-available-features", &features)
		if len(features) != 15 || features[0] != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" {
			t.Errorf("list-available-features: %v", features)
		}
		handshake := func(max uint16) error {
			c, err := tls.Dial("tcp", fmt.Sprintf("127.0.10.1:%d", httpsPort), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: max})
			if err == nil {
				c.Close()
			}
			return err
		}
		waitTrue(t, "TLS 1.1 refused under the RESTRICTED policy", func() bool { return handshake(tls.VersionTLS11) != nil })
		if err := handshake(tls.VersionTLS12); err != nil {
			t.Errorf("TLS 1.2 under the RESTRICTED policy: %v", err)
		}
		sh(`set -e
gcloud compute ssl-policies update strict --profile=COMPATIBLE --min-tls-version=1.0`)
		var sp map[string]any
		gjson("gcloud compute ssl-policies describe strict", &sp)
		if sp["profile"] != "COMPATIBLE" || sp["minTlsVersion"] != "TLS_1_0" || len(sp["enabledFeatures"].([]any)) != 15 {
			t.Errorf("after update: %v", sp)
		}
		waitTrue(t, "TLS 1.1 accepted again", func() bool { return handshake(tls.VersionTLS11) == nil })
		sh(`set -e
gcloud compute target-https-proxies update https-proxy --clear-ssl-policy
gcloud compute ssl-policies delete strict --quiet`)
	})

	t.Run("security policy", func(t *testing.T) {
		status := func(path string) int {
			resp, err := client.Get("https://your-domain.com" + path)
			if err != nil {
				return 0
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		sh(`set -e
gcloud compute security-policies create edge-policy --description="refuses bad traffic"
gcloud compute security-policies rules create 1000 --security-policy=edge-policy --expression="request.path.startsWith('/admin/')" --action=deny-403
gcloud compute backend-services update cloudrun-backend --global --security-policy=edge-policy`)
		waitTrue(t, "/admin/ refused by the policy gcloud made", func() bool { return status("/admin/x") == 403 })
		if code := status("/"); code != 200 {
			t.Errorf("/ under the policy: %d", code)
		}
		out, err := runFails(t, env, work, `gcloud compute security-policies rules create 1100 --security-policy=edge-policy --expression="request.path.startsWith(" --action=deny-404`)
		if err == nil || !strings.Contains(out, "Invalid value for field 'resource.match.expr'") || !strings.Contains(out, "Error parsing Cloud Armor rule matcher expression: Syntax error") {
			t.Errorf("a malformed expression: err=%v\n%s", err, out)
		}
		sh("gcloud compute security-policies rules update 1000 --security-policy=edge-policy --action=deny-404")
		waitTrue(t, "the rule's new action", func() bool { return status("/admin/x") == 404 })
		var rule []map[string]any // gcloud prints the rule in a list
		gjson("gcloud compute security-policies rules describe 1000 --security-policy=edge-policy", &rule)
		if len(rule) != 1 || rule[0]["action"] != "deny(404)" {
			t.Errorf("rules describe: %v", rule)
		}
		var policies []map[string]any
		gjson("gcloud compute security-policies list", &policies)
		if len(policies) != 1 || policies[0]["name"] != "edge-policy" || len(policies[0]["rules"].([]any)) != 2 {
			t.Errorf("security-policies list: %v", policies)
		}
		out, err = runFails(t, env, work, "gcloud compute security-policies delete edge-policy --quiet")
		if err == nil || !strings.Contains(out, "is already being used by 'projects/default/global/backendServices/cloudrun-backend'") {
			t.Errorf("deleting a policy in use: err=%v\n%s", err, out)
		}
		sh(`set -e
gcloud compute security-policies rules delete 1000 --security-policy=edge-policy --quiet
gcloud compute backend-services update cloudrun-backend --global --security-policy=""
gcloud compute security-policies delete edge-policy --quiet`)
		waitTrue(t, "/admin/ reaches the service again", func() bool { return status("/admin/x") == 200 })
	})

	t.Run("lists", func(t *testing.T) {
		var ops, rules, certs []map[string]any
		gjson("gcloud compute operations list", &ops)
		if !strings.Contains(fmt.Sprint(ops), "forwardingRules/https-forwarding-rule") || !strings.Contains(fmt.Sprint(ops), "networkEndpointGroups/cloudrun-neg") {
			t.Errorf("operations list lacks the seed's inserts: %d operations", len(ops))
		}
		gjson("gcloud compute forwarding-rules list", &rules)
		if len(rules) != 1 || rules[0]["name"] != "https-forwarding-rule" {
			t.Errorf("forwarding-rules list: %v", rules)
		}
		gjson("gcloud compute ssl-certificates list", &certs)
		if len(certs) != 1 || certs[0]["managed"].(map[string]any)["status"] != "ACTIVE" {
			t.Errorf("ssl-certificates list: %v", certs)
		}
		// Several resources in one command: gcloud batches them (/batch/compute/v1).
		sh(`set -e
gcloud compute ssl-certificates create c1 --domains=one.example.com
gcloud compute ssl-certificates create c2 --domains=two.example.com
gcloud compute ssl-certificates delete c1 c2 --quiet`)
		gjson("gcloud compute ssl-certificates list", &certs)
		if len(certs) != 1 {
			t.Errorf("after the batch delete: %d certificates", len(certs))
		}
	})
}

// waitTrue polls cond until it holds, failing the test after 20 s.
func waitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
