// Command hosts runs Meridian across hosts of their own on this machine (network
// namespaces, as root): a three-member etcd cluster over TLS, two APIs, edges in three
// places and region runtimes in two regions, and measures what a global deployment
// depends on.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"meridian/bench/internal/hosts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hosts:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "meridian-hosts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "meridian")
	if out, err := exec.Command("go", "build", "-o", bin, "meridian/cmd/meridian").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	d, err := hosts.Deploy(ctx, "mrdb", bin, dir, hosts.DefaultLayout, nil)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("deployment up in %s: %d control-plane hosts, %d APIs, edges in %v, regions %v\n",
		time.Since(start).Round(time.Millisecond), len(d.CP), len(d.APIs), hosts.DefaultLayout.Edges, hosts.DefaultLayout.Regions)
	if _, err := d.CLI(ctx, hosts.SeedScript()); err != nil {
		return err
	}
	fmt.Println("the seed's system deployed through the API on", d.CP[0].Name)
	clients, err := httpsClients(ctx, d)
	if err != nil {
		return err
	}
	for loc, c := range clients {
		if _, err := waitHeader(ctx, c, d.EdgeAddress(loc), "", "", 60*time.Second); err != nil {
			return fmt.Errorf("the %s edge does not serve: %w", loc, err)
		}
	}
	return measureConfigChange(ctx, d, clients, 20)
}

// httpsClients makes an HTTPS client on the client host beside each edge, trusting the
// development CA the API hands out.
func httpsClients(ctx context.Context, d *hosts.Deployment) (map[string]*http.Client, error) {
	caPEM, err := d.CLI(ctx, "$MERIDIAN ca-cert")
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, fmt.Errorf("ca-cert printed %q", caPEM)
	}
	out := map[string]*http.Client{}
	for loc, h := range d.Clients {
		c := h.HTTPClient(5 * time.Second)
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: "your-domain.com"}
		out[loc] = c
	}
	return out, nil
}

// waitHeader polls the anycast address until the response has header = value (any
// 200 when header is empty) and returns when it first did.
func waitHeader(ctx context.Context, c *http.Client, addr, header, value string, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	url := "https://" + addr + "/"
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && (header == "" || resp.Header.Get(header) == value) {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("not within %s (last: %v)", limit, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// measureConfigChange writes a response header through the API on the second
// control-plane host, n times, and times how long each takes to reach every edge after
// the API's operation is DONE.
func measureConfigChange(ctx context.Context, d *hosts.Deployment, clients map[string]*http.Client, n int) error {
	api := d.APIs[len(d.APIs)-1]
	var all []time.Duration
	perEdge := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		value := fmt.Sprintf("v%d", i)
		if _, err := d.CLI(ctx, fmt.Sprintf("$MERIDIAN compute backend-services update cloudrun-backend --global --custom-response-header='X-Rev: %s' --api-endpoint=%s", value, api)); err != nil {
			return err
		}
		done := time.Now()
		var slowest time.Duration
		for loc, c := range clients {
			at, err := waitHeader(ctx, c, d.EdgeAddress(loc), "X-Rev", value, 30*time.Second)
			if err != nil {
				return fmt.Errorf("change %d at the %s edge: %w", i, loc, err)
			}
			perEdge[loc] = append(perEdge[loc], at.Sub(done))
			slowest = max(slowest, at.Sub(done))
		}
		all = append(all, slowest)
	}
	fmt.Printf("\nconfiguration change (API on %s done) to every edge, %d changes:\n", d.CP[len(d.APIs)-1].Name, n)
	fmt.Printf("  %-14s median %8s  p99 %8s\n", "all edges", quantile(all, 0.5), quantile(all, 0.99))
	for _, loc := range hosts.DefaultLayout.Edges {
		fmt.Printf("  %-14s median %8s  p99 %8s\n", loc, quantile(perEdge[loc], 0.5), quantile(perEdge[loc], 0.99))
	}
	fmt.Println("  (an upper bound: each edge is polled in turn after the operation returns, every 2 ms)")
	return nil
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
}
