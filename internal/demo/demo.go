// Package demo brings up the seed's whole system on one machine with one command: the
// embedded default (`meridian serve`) plus, through Meridian's own CLI run in-process,
// the seed's service in two regions, a serverless NEG in each, one CDN-enabled backend
// service holding both, the URL map, the managed certificate, the target HTTPS proxy,
// the global address and the forwarding rule. It waits until HTTPS answers through the
// forwarding rule and prints how to try it.
//
// Running it again on the same data directory reuses what exists.
package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"meridian/internal/certs"
	"meridian/internal/cli"
	"meridian/internal/roles"
)

// ServiceYAML is the seed's service.yaml (kept equal to shared/seeds/ by a test).
//
//go:embed service.yaml
var ServiceYAML []byte

// regions the demo deploys the seed's service to: the seed's, and the second region its
// text adds by adding a NEG to the same backend service.
var regions = []string{"us-central1", "europe-west1"}

// Domain is the seed's certificate domain.
const Domain = "your-domain.com"

// Config configures the demo.
type Config struct {
	Serve roles.ServeConfig
	// HTTPSPort is the port the edge listens on for the forwarding rule's 443 (from
	// Serve.Edge.PortMap).
	HTTPSPort int
	Out       io.Writer
}

// Run starts Meridian, deploys the demo, prints how to reach it, and serves until ctx
// is done.
func Run(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	apiReady := make(chan string, 1)
	prev := cfg.Serve.API.Ready
	cfg.Serve.API.Ready = func(url string) {
		if prev != nil {
			prev(url)
		}
		apiReady <- url
	}
	served := make(chan error, 1)
	go func() { served <- roles.Serve(ctx, cfg.Serve) }()
	var api string
	select {
	case api = <-apiReady:
	case err := <-served:
		return err
	}
	url, curl, err := deploy(ctx, cfg, api)
	if err != nil {
		cancel()
		return errors.Join(err, <-served)
	}
	fmt.Fprintf(cfg.Out, `
The seed's global load balancer is up: my-global-app runs in %s, each region
behind a serverless NEG of the CDN-enabled backend service cloudrun-backend.

  %s

Try it (the page names the region that answered; the closest healthy one does):

  %s

See each region's health as this edge sees it (round trip, ejections):

  meridian compute backend-services get-health cloudrun-backend --global

Take the closest region away and the next one answers, with no failed request:

  meridian run services delete my-global-app --region=%s --quiet

Meridian keeps running until you stop it (Ctrl-C).
`, strings.Join(regions, " and "), url, curl, regions[0])
	return <-served
}

// deploy applies the demo through the CLI, idempotently, and waits until HTTPS answers.
func deploy(ctx context.Context, cfg Config, api string) (url, curl string, err error) {
	dir := cfg.Serve.DataDir
	conf := filepath.Join(dir, "demo-cli.json")
	if err := cli.WriteConfig(conf, cli.Config{Endpoint: api, Project: cli.DefaultProject}); err != nil {
		return "", "", err
	}
	yamlPath := filepath.Join(dir, "demo-service.yaml")
	if err := os.WriteFile(yamlPath, ServiceYAML, 0o644); err != nil {
		return "", "", err
	}
	run := func(line string) (string, error) {
		var stdout, stderr bytes.Buffer
		root := &cobra.Command{Use: "meridian", SilenceUsage: true, SilenceErrors: true}
		root.AddCommand(cli.NewCommands(cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, ConfigPath: conf,
			Getenv: func(string) string { return "" }})...)
		root.SetArgs(splitArgs(line))
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		err := root.ExecuteContext(ctx)
		if err != nil && strings.Contains(err.Error()+stderr.String(), "already exists") {
			err = nil // from an earlier run
		}
		if err != nil {
			return "", fmt.Errorf("meridian %s: %v\n%s", line, err, stderr.String())
		}
		fmt.Fprintf(cfg.Out, "meridian %s\n", line)
		return stdout.String(), nil
	}
	steps := []string{}
	for _, r := range regions {
		steps = append(steps, "run services replace "+yamlPath+" --region="+r)
	}
	for _, r := range regions {
		steps = append(steps, "compute network-endpoint-groups create cloudrun-neg --region="+r+" --network-endpoint-type=serverless --cloud-run-service=my-global-app")
	}
	steps = append(steps, "compute backend-services create cloudrun-backend --load-balancing-scheme=EXTERNAL_MANAGED --global --enable-cdn")
	for _, r := range regions {
		steps = append(steps, "compute backend-services add-backend cloudrun-backend --global --network-endpoint-group=cloudrun-neg --network-endpoint-group-region="+r)
	}
	steps = append(steps,
		"compute url-maps create cloudrun-url-map --default-service=cloudrun-backend",
		"compute ssl-certificates create my-ssl-cert --domains="+Domain,
		"compute target-https-proxies create https-proxy --ssl-certificates=my-ssl-cert --url-map=cloudrun-url-map",
		"compute addresses create global-ip --global",
	)
	for _, s := range steps {
		if _, err := run(s); err != nil {
			return "", "", err
		}
	}
	out, err := run("compute addresses describe global-ip --global --format=value(address)")
	if err != nil {
		return "", "", err
	}
	ip := strings.TrimSpace(out)
	if _, err := run("compute forwarding-rules create https-forwarding-rule --address=" + ip + " --global --target-https-proxy=https-proxy --ports=443"); err != nil {
		return "", "", err
	}
	url = fmt.Sprintf("https://%s:%d/", Domain, cfg.HTTPSPort)
	ca := certs.CAPath(dir)
	curl = fmt.Sprintf("curl --cacert %s --resolve %s:%d:%s %s", ca, Domain, cfg.HTTPSPort, ip, url)
	return url, curl, waitHTTPS(ctx, ca, net.JoinHostPort(ip, strconv.Itoa(cfg.HTTPSPort)), url)
}

// waitHTTPS polls the URL through addr, trusting the development CA, until it answers
// 200 from the closest region (the certificate is issued, the edge listens and the
// region runs the service): the other region may be ready first, and the demo says
// the page names the closest. An answer from another region only is enough at the
// deadline.
func waitHTTPS(ctx context.Context, caPath, addr, url string) error {
	deadline := time.Now().Add(2 * time.Minute)
	closest := []byte("Region: <strong>" + regions[0] + "</strong>")
	var lastErr error
	answered := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pem, err := os.ReadFile(caPath)
		if err != nil {
			lastErr = err
		} else {
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pem)
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				},
			}}
			resp, err := client.Get(url)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && bytes.Contains(body, closest) {
					return nil
				}
				answered = answered || resp.StatusCode == http.StatusOK
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			lastErr = err
			client.CloseIdleConnections()
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if answered {
		return nil
	}
	return fmt.Errorf("the load balancer did not answer over HTTPS at %s within 2 minutes: %v", url, lastErr)
}

// splitArgs splits a command line on spaces (the demo's lines quote nothing).
func splitArgs(line string) []string { return strings.Fields(line) }
