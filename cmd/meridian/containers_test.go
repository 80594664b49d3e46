package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"meridian/internal/testutil"
)

// TestContainerServiceThroughTheLoadBalancer deploys a user's image (a FROM scratch
// image built here) with `run deploy --image`, puts the seed's load balancer in front
// of it, reaches it over HTTPS, reads its logs with `run services logs read`, and
// checks that no container outlives the service's delete or serve's stop.
func TestContainerServiceThroughTheLoadBalancer(t *testing.T) {
	image := testutil.ContainerImage(t, filepath.Join("..", "..", "internal", "runtime", "testdata", "containerapp"), "containerapp")
	bin := buildMeridian(t)
	work := t.TempDir()
	env := cliEnv(bin, work)
	dataDir := filepath.Join(work, "data")
	httpsPort := freePort(t, "127.0.10.1")
	srv := startServe(t, bin, dataDir, env, fmt.Sprintf("--port-map=443:%d", httpsPort), "--container-engine=docker")
	containersOf := func(service string) []string {
		t.Helper()
		out, err := exec.Command("docker", "ps", "-a", "--filter", "label=dev.meridian.service=us-central1/"+service, "--format", "{{.Names}}").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))
	}

	runCombined(t, env, work, `set -e
meridian run deploy ctr --image=`+image+` --region=us-central1 --set-env-vars=GREETING=hi --memory=256Mi --cpu=1
meridian compute network-endpoint-groups create ctr-neg --region=us-central1 --network-endpoint-type=SERVERLESS --cloud-run-service=ctr
meridian compute backend-services create ctr-backend --global --load-balancing-scheme=EXTERNAL_MANAGED
meridian compute backend-services add-backend ctr-backend --global --network-endpoint-group=ctr-neg --network-endpoint-group-region=us-central1
meridian compute url-maps create ctr-map --default-service=ctr-backend
meridian compute ssl-certificates create ctr-cert --domains=ctr.example.com
meridian compute target-https-proxies create ctr-proxy --ssl-certificates=ctr-cert --url-map=ctr-map
meridian compute addresses create ctr-ip --global
meridian compute forwarding-rules create ctr-rule --address=$(meridian compute addresses describe ctr-ip --global --format='value(address)') --global --target-https-proxy=ctr-proxy --ports=443
`)
	ip := strings.TrimSpace(runCombined(t, env, work, "meridian compute addresses describe ctr-ip --global --format='value(address)'"))
	client := lbClient(t, runCombined(t, env, work, "meridian ca-cert --data-dir="+dataDir), ip, httpsPort)
	_, body := fetchUntil(t, client, "https://ctr.example.com/", "greeting=hi")
	if !strings.Contains(body, "service=ctr configuration=ctr port=8080 greeting=hi") || !strings.Contains(body, "revision=ctr-00001-") {
		t.Errorf("the container's answer through the load balancer: %q", body)
	}
	if n := len(containersOf("ctr")); n != 1 {
		t.Errorf("%d containers for one instance", n)
	}
	// Its memory limit reached the engine.
	if out, err := exec.Command("docker", "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", containersOf("ctr")[0]).Output(); err != nil || strings.TrimSpace(string(out)) != "268435456 1000000000" {
		t.Errorf("the container's limits: %q %v", out, err)
	}

	// Its output, with time and instance, in gcloud's grammar.
	var logs string
	waitTrue(t, "the request in the service's logs", func() bool {
		logs = runCombined(t, env, work, "meridian run services logs read ctr --region=us-central1 --limit=50")
		return strings.Contains(logs, "served /")
	})
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) < 4 || len(f[2]) != 12 || !strings.Contains(logs, "listening on :8080") {
		t.Errorf("logs read:\n%s", logs)
	}

	// Delete removes its container; a missing image is a clear failure, not a hang.
	runCombined(t, env, work, "meridian run services delete ctr --region=us-central1 --quiet")
	waitTrue(t, "the deleted service's container to go", func() bool { return len(containersOf("ctr")) == 0 })
	out, err := runFails(t, env, work, "meridian run deploy gone --image=meridian-test/no-such-image:1 --region=us-central1")
	if err == nil || !strings.Contains(out, "Image 'meridian-test/no-such-image:1' not found") {
		t.Errorf("deploying a missing image: %v\n%s", err, out)
	}

	// A serve killed outright leaves its container; the next serve removes it (and
	// runs the service in a container of its own). Stopping serve leaves none.
	runCombined(t, env, work, "meridian run deploy last --image="+image+" --region=us-central1")
	before := containersOf("last")
	if len(before) != 1 {
		t.Fatalf("containers of last: %v", before)
	}
	srv.cmd.Process.Kill()
	<-srv.done
	if left := containersOf("last"); len(left) != 1 || left[0] != before[0] {
		t.Fatalf("after serve was killed: %v", left)
	}
	srv = startServe(t, bin, dataDir, env, fmt.Sprintf("--port-map=443:%d", httpsPort), "--container-engine=docker")
	waitTrue(t, "the killed serve's container to be replaced", func() bool {
		now := containersOf("last")
		return len(now) == 1 && now[0] != before[0]
	})
	if !strings.Contains(srv.stderr.String(), "removed 1 containers left by an earlier runtime: "+before[0]) {
		t.Errorf("serve did not say it removed the orphan:\n%s", srv.stderr.String())
	}
	srv.stop(t)
	if left := containersOf("last"); len(left) != 0 {
		t.Errorf("containers left after serve stopped: %v", left)
	}
}
