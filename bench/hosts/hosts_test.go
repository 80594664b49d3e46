package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"meridian/bench/internal/hosts"
)

// TestGlobalDeploymentAcrossHosts runs the seed's system on hosts of their own (network
// namespaces): a three-member etcd cluster over TLS, two APIs, edges in three places and
// runtimes in two regions. It deploys through the API on one host and changes through
// the other; every edge serves HTTPS from a region on another host (two on the anycast
// address, the one in asia-east1 on its own, --listen-address); a region host's
// death (cut off the network) costs no request; edges keep serving while etcd loses
// members and quorum.
func TestGlobalDeploymentAcrossHosts(t *testing.T) {
	if err := hosts.Supported(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the many-hosts test: %v", err)
		}
		t.Skipf("many hosts: %v", err)
	}
	dir := t.TempDir()
	bin, err := hosts.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var log io.Writer
	if testing.Verbose() {
		log = os.Stderr
	}
	// Round trips between edges and regions at a tenth of the real ones (Iowa–Belgium
	// about 11 ms), enough to tell regions apart.
	layout := hosts.DefaultLayout
	layout.LatencyScale = 0.1
	d, err := hosts.Deploy(ctx, "mrdt", bin, dir, layout, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// The seed's script against the API on cp1, and the second region beside it.
	if out, err := d.CLI(ctx, hosts.SeedScript()); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(out, "Created") {
		t.Fatalf("seed script said:\n%s", out)
	}
	clients, err := d.HTTPSClients(ctx) // the root from the API
	if err != nil {
		t.Fatal(err)
	}
	// get asks the anycast address from the client host beside the edge in loc.
	get := func(loc string) (int, string, http.Header, error) {
		resp, err := clients[loc].Get("https://" + d.EdgeAddress(loc) + "/")
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header, err
	}
	if err := d.WaitServiceReady(ctx); err != nil {
		t.Fatal(err)
	}

	// Every edge serves the seed's service from a region runtime on another host.
	for _, loc := range hosts.DefaultLayout.Edges {
		waitFor(t, 60*time.Second, "the "+loc+" edge serves the service", func() error {
			code, body, _, err := get(loc)
			if err != nil || code != 200 || !strings.Contains(body, "Service: <strong>my-global-app</strong>") {
				return fmt.Errorf("%d %v %.200s", code, err, body)
			}
			return nil
		})
	}

	// Each edge sends requests to the region closest to it.
	for loc, region := range map[string]string{"us-central1": "us-central1", "europe-west1": "europe-west1"} {
		waitFor(t, 20*time.Second, "the "+loc+" edge picks "+region, func() error {
			if _, body, _, err := get(loc); err != nil || !strings.Contains(body, "Region: <strong>"+region+"</strong>") {
				health, _ := d.CLI(ctx, "$MERIDIAN compute backend-services get-health cloudrun-backend --global --format='value(backend.basename(),status.healthStatus[].annotations)'")
				return fmt.Errorf("%v %.300s\n%s", err, body, health)
			}
			return nil
		})
	}

	// A change written through the API on cp2 reaches every edge.
	if _, err := d.CLI(ctx, "$MERIDIAN compute backend-services update cloudrun-backend --global --custom-response-header='X-Changed: yes' --api-endpoint=http://"+d.CP[1].IP.String()+":9610"); err != nil {
		t.Fatal(err)
	}
	for _, loc := range hosts.DefaultLayout.Edges {
		waitFor(t, 10*time.Second, "the "+loc+" edge applies the change", func() error {
			if _, _, h, err := get(loc); err != nil || h.Get("X-Changed") != "yes" {
				return fmt.Errorf("X-Changed %q, %v", h.Get("X-Changed"), err)
			}
			return nil
		})
	}

	// The region host that answers the us-central1 edge dies (cut off the network:
	// nothing is refused, nothing answers): the next closest answers, and no request
	// fails. A request already sent to the dead host waits for the edge to find it gone
	// (a failed round-trip probe, within 4 s), not for the backend timeout (30 s): the
	// client here waits 15 s.
	const loc, dead, alive = "us-central1", "us-central1", "europe-west1"
	patient := *clients[loc]
	patient.Timeout = 15 * time.Second
	clients[loc] = &patient
	if err := d.Regions[dead].Cut(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		code, body, _, err := get(loc)
		if err != nil || code != 200 || !strings.Contains(body, "Region: <strong>"+alive+"</strong>") {
			t.Fatalf("request %d after %s's runtime died: %d %v %.200s", i, dead, code, err, body)
		}
	}

	// One etcd member dies: serving goes on and the other API still writes.
	d.Etcd[2].Kill()
	api2 := d.CP[1].IP.String()
	if _, err := d.CLI(ctx, "$MERIDIAN compute addresses create after-member-loss --global --api-endpoint=http://"+api2+":9610"); err != nil {
		t.Errorf("a write with one member of three down: %v", err)
	}
	// Quorum lost: every request is still served from the edges' last configuration.
	d.Etcd[1].Kill()
	for _, loc := range hosts.DefaultLayout.Edges {
		for i := 0; i < 20; i++ {
			if code, _, _, err := get(loc); err != nil || code != 200 {
				t.Fatalf("request %d through %s without etcd quorum: %d %v", i, loc, code, err)
			}
		}
	}
	// Quorum back: writes are accepted again.
	for _, i := range []int{1, 2} {
		if err := d.RestartMember(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "a write after quorum is back", func() error {
		_, err := d.CLI(ctx, "$MERIDIAN compute addresses create after-quorum --global")
		return err
	})
}

// waitFor polls check until it succeeds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
