// Command hosts runs Meridian across hosts of their own on this machine (network
// namespaces, as root): a three-member etcd cluster over TLS, two APIs, edges in three
// places and region runtimes in two regions, and measures what a global deployment
// depends on.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"meridian/bench/internal/hosts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hosts:", err)
		os.Exit(1)
	}
}

var verbose = flag.Bool("v", false, "print every process's output")

var scale = flag.Float64("latency-scale", 1, "round trips between edges and regions, as a fraction of geo.EstimatedRTT between their places (Iowa–Belgium about 110 ms)")

var repeat = flag.Int("repeat", 5, "how many times each fault is brought about, for the medians and p99 of its figures")

var keep = flag.Bool("keep", false, "keep the data directory (request logs, etcd data, certificates) after the run")

var figureList = flag.String("figures", "", "comma-separated figures to measure, in their fixed order (config, region, invalidation, standby, etcd, partition, region-death, c2c); all when empty")

func run() error {
	flag.Parse()
	dir, err := os.MkdirTemp("", "meridian-hosts-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Println("keeping logs and data in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin, err := hosts.Build(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	layout := hosts.DefaultLayout
	layout.LatencyScale = *scale
	layout.Standbys = []string{"us-central1"}
	var log io.Writer
	if *verbose {
		log = os.Stderr
	}
	d, err := hosts.Deploy(ctx, "mrdb", bin, dir, layout, log)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Printf("deployment up in %s: %d control-plane hosts, %d APIs, edges in %v, regions %v\n",
		time.Since(start).Round(time.Millisecond), len(d.CP), len(d.APIs), hosts.DefaultLayout.Edges, hosts.DefaultLayout.Regions)
	if *verbose {
		for _, loc := range layout.Edges {
			start := time.Now()
			if c, err := d.EdgeHosts[loc].DialContext(ctx, "tcp", d.CP[0].IP.String()+":2379"); err == nil {
				c.Close()
			}
			fmt.Fprintf(os.Stderr, "TCP handshake from the %s edge to %s: %s\n", loc, d.CP[0].Name, time.Since(start))
		}
	}
	if _, err := d.CLI(ctx, hosts.SeedScript()); err != nil {
		return err
	}
	fmt.Println("the seed's system deployed through the API on", d.CP[0].Name)
	clients, err := d.HTTPSClients(ctx)
	if err != nil {
		return err
	}
	if err := d.WaitServiceReady(ctx); err != nil {
		return err
	}
	for loc, c := range clients {
		if err := waitServes(ctx, c, d.EdgeAddress(loc), 60*time.Second); err != nil {
			return fmt.Errorf("the %s edge does not serve: %w", loc, err)
		}
	}
	figures := []struct {
		name string
		run  func() error
	}{
		{"config", func() error { return measureConfigChange(ctx, d, clients, 20) }},
		{"region", func() error { return regionChoice(d, layout, clients, 20) }},
		{"invalidation", func() error { return measureInvalidation(d, 10) }},
		// Before the etcd faults: a new etcd leader extends every lease, the claim a
		// standby waits on included.
		{"standby", func() error {
			return standbyTakeover(ctx, d, clients["us-central1"], "us-central1", "us-central1", *repeat)
		}},
		{"etcd", func() error { return etcdFaults(ctx, d, clients, *repeat) }},
		{"partition", func() error { return edgePartition(ctx, d, clients, *repeat) }},
		{"region-death", func() error {
			return regionDeath(ctx, d, clients["europe-west1"], "europe-west1", *repeat, 200, 10*time.Millisecond)
		}},
		{"c2c", func() error { return cacheToCacheFill(ctx, d, clients, "us-central1", "europe-west1", 30) }},
	}
	only := map[string]bool{}
	for _, name := range strings.Split(*figureList, ",") {
		only[strings.TrimSpace(name)] = true
	}
	for _, f := range figures {
		if *figureList != "" && !only[f.name] {
			continue
		}
		if err := f.run(); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// regionChoice prints, for each edge, which region answered n requests, beside the
// round trips added to each region.
func regionChoice(d *hosts.Deployment, l hosts.Layout, clients map[string]*http.Client, n int) error {
	fmt.Printf("\nclosest region from each edge (%d requests each; round trips added):\n", n)
	for _, loc := range l.Edges {
		counts := map[string]int{}
		var lat []time.Duration
		for i := 0; i < n; i++ {
			start := time.Now()
			region, err := answeringRegion(clients[loc], d.EdgeAddress(loc))
			if err != nil {
				return fmt.Errorf("%s: %w", loc, err)
			}
			lat = append(lat, time.Since(start))
			counts[region]++
		}
		var rtts []string
		for _, region := range l.Regions {
			rtts = append(rtts, fmt.Sprintf("%s %s", region, d.RTT(l, loc, region).Round(time.Millisecond)))
		}
		fmt.Printf("  %-14s answered by %v, median request %s  (%s)\n", loc, counts, quantile(lat, 0.5), strings.Join(rtts, ", "))
	}
	return nil
}

var regionLine = regexp.MustCompile(`Region: <strong>([a-z0-9-]+)</strong>`)

// answeringRegion asks the edge at addr once and returns the region that answered.
func answeringRegion(c *http.Client, addr string) (string, error) {
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	m := regionLine.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no region in %.200s", body)
	}
	return string(m[1]), nil
}

// regionDeath sends a request every interval through the edge in loc (perRun in all)
// and kills the runtime of the region answering them a third of the way in: failed
// requests, and the time from the kill to the last answer from the dead region and
// the first from another; n times, the runtime restarted between runs. The restarted
// runtime comes back on its old address, which the edge ejected for the backend
// service's baseEjectionTime (30 s, longer with each ejection): 1 s for this figure.
func regionDeath(ctx context.Context, d *hosts.Deployment, c *http.Client, loc string, n, perRun int, interval time.Duration) error {
	admin := d.Client.HTTPClient(10 * time.Second)
	if err := setBaseEjection(admin, d.APIs[0], 1); err != nil {
		return err
	}
	defer setBaseEjection(admin, d.APIs[0], 30)
	dead, err := answeringRegion(c, d.EdgeAddress(loc))
	if err != nil {
		return err
	}
	type result struct {
		at     time.Time
		region string
		err    error
	}
	failed := 0
	var firstErr error
	var lastDeads, firstOthers []time.Duration
	for run := 0; run < n; run++ {
		results := make(chan result, perRun)
		var killedAt time.Time
		tick := time.NewTicker(interval)
		for i := 0; i < perRun; i++ {
			<-tick.C
			if i == perRun/3 {
				d.Runtimes[dead].Kill()
				killedAt = time.Now()
			}
			go func() {
				region, err := answeringRegion(c, d.EdgeAddress(loc))
				results <- result{time.Now(), region, err}
			}()
		}
		tick.Stop()
		lastDead, firstOther := time.Duration(0), time.Duration(-1)
		for i := 0; i < perRun; i++ {
			r := <-results
			switch {
			case r.err != nil:
				failed++
				if firstErr == nil {
					firstErr = r.err
				}
			case r.region == dead && r.at.After(killedAt):
				lastDead = max(lastDead, r.at.Sub(killedAt))
			case r.region != dead && r.at.After(killedAt) && (firstOther < 0 || r.at.Sub(killedAt) < firstOther):
				firstOther = r.at.Sub(killedAt)
			}
		}
		lastDeads, firstOthers = append(lastDeads, lastDead), append(firstOthers, firstOther)
		p, err := d.StartRuntime(d.Regions[dead], "region", dead)
		if err != nil {
			return err
		}
		d.Runtimes[dead] = p
		for {
			if r, err := answeringRegion(c, d.EdgeAddress(loc)); err == nil && r == dead {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s did not answer again after its runtime restarted: %w", dead, ctx.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Printf("\n%s's region runtime killed under %d requests/s through the %s edge, %d times:\n", dead, int(time.Second/interval), loc, n)
	if firstErr != nil {
		fmt.Printf("  first failure: %.300v\n", firstErr)
	}
	fmt.Printf("  failed requests: %d of %d\n  last answer from %s after the kill: %s\n  first from another region: %s\n",
		failed, n*perRun, dead, spread(lastDeads), spread(firstOthers))
	return nil
}

// setBaseEjection sets the seed's backend service's outlierDetection.baseEjectionTime.
func setBaseEjection(c *http.Client, api string, seconds int) error {
	const path = "/compute/v1/projects/default/global/backendServices/cloudrun-backend"
	var bs struct{ Fingerprint string }
	if err := apiCall(c, "GET", api+path, nil, &bs); err != nil {
		return err
	}
	return apiCall(c, "PATCH", api+path, map[string]any{"fingerprint": bs.Fingerprint,
		"outlierDetection": map[string]any{"baseEjectionTime": map[string]any{"seconds": fmt.Sprint(seconds)}}}, nil)
}

// waitServes polls the edge at addr until it answers 200.
func waitServes(ctx context.Context, c *http.Client, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := c.Get("https://" + addr + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not within %s (last: %v)", limit, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// measureConfigChange changes a redirect in the URL map through the API on the last
// control-plane host running one, n times, and times how long each change takes to be
// served by every edge after the API answered. Edges answer redirects themselves, so
// nothing but the configuration's way to them is measured; each edge is polled from
// the client beside it, every millisecond.
func measureConfigChange(ctx context.Context, d *hosts.Deployment, clients map[string]*http.Client, n int) error {
	api := d.APIs[len(d.APIs)-1]
	admin := d.Client.HTTPClient(10 * time.Second)
	var all []time.Duration
	perEdge := map[string][]time.Duration{}
	// A first change, not counted: before it /probe/x goes to the origin.
	for i := -1; i < n; i++ {
		host := fmt.Sprintf("v%d.example.com", i+1)
		if err := setProbeRedirect(admin, api, host); err != nil {
			return err
		}
		done := time.Now()
		type seen struct {
			loc string
			d   time.Duration
			err error
		}
		results := make(chan seen, len(clients))
		for loc, c := range clients {
			go func() {
				at, err := waitRedirect(ctx, c, d.EdgeAddress(loc), host, 30*time.Second)
				results <- seen{loc, at.Sub(done), err}
			}()
		}
		var slowest time.Duration
		for range clients {
			r := <-results
			if r.err != nil {
				return fmt.Errorf("change %d at the %s edge: %w", i, r.loc, r.err)
			}
			if i >= 0 {
				perEdge[r.loc] = append(perEdge[r.loc], r.d)
			}
			slowest = max(slowest, r.d)
		}
		if i >= 0 {
			all = append(all, slowest)
		}
	}
	fmt.Printf("\nconfiguration change (URL map, through the API on %s) until every edge serves it, %d changes:\n", api, n)
	fmt.Printf("  %-14s median %8s  p99 %8s\n", "all edges", quantile(all, 0.5), quantile(all, 0.99))
	for _, loc := range hosts.DefaultLayout.Edges {
		fmt.Printf("  %-14s median %8s  p99 %8s\n", loc, quantile(perEdge[loc], 0.5), quantile(perEdge[loc], 0.99))
	}
	return nil
}

// setProbeRedirect makes /probe/* of the seed's URL map redirect to host (a PATCH with
// the map's fingerprint, as any client of the API does).
func setProbeRedirect(c *http.Client, api, host string) error {
	const path = "/compute/v1/projects/default/global/urlMaps/cloudrun-url-map"
	var um struct{ Fingerprint string }
	if err := apiCall(c, "GET", api+path, nil, &um); err != nil {
		return err
	}
	patch := map[string]any{
		"fingerprint": um.Fingerprint,
		"hostRules":   []any{map[string]any{"hosts": []string{"*"}, "pathMatcher": "probe"}},
		"pathMatchers": []any{map[string]any{"name": "probe", "defaultService": "global/backendServices/cloudrun-backend",
			"pathRules": []any{map[string]any{"paths": []string{"/probe/*"}, "urlRedirect": map[string]any{"hostRedirect": host}}}}},
	}
	return apiCall(c, "PATCH", api+path, patch, nil)
}

func apiCall(c *http.Client, method, url string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+hosts.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// waitRedirect polls /probe/x at the edge until it redirects to host.
func waitRedirect(ctx context.Context, c *http.Client, addr, host string, limit time.Duration) (time.Time, error) {
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	deadline := time.Now().Add(limit)
	for {
		resp, err := noFollow.Get("https://" + addr + "/probe/x")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(resp.Header.Get("Location"), "https://"+host+"/") {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("not within %s (last: %v)", limit, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
}
