package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"meridian/bench/internal/hosts"
)

// The figures about failures: etcd members and quorum, an edge cut off from etcd, a
// region runtime replaced by its standby. Each restores what it broke.

const urlMapPath = "/compute/v1/projects/default/global/urlMaps/cloudrun-url-map"

// measureInvalidation times n cache invalidations through the API, from the call to
// the operation being DONE, which is when every live edge has applied the rule.
func measureInvalidation(d *hosts.Deployment, n int) error {
	c := d.Client.HTTPClient(30 * time.Second)
	api := d.APIs[len(d.APIs)-1]
	var took []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		var op struct{ Name, Status string }
		if err := apiCall(c, "POST", api+urlMapPath+"/invalidateCache", map[string]string{"path": fmt.Sprintf("/inv/%d/*", i)}, &op); err != nil {
			return err
		}
		for op.Status != "DONE" {
			if err := apiCall(c, "POST", api+"/compute/v1/projects/default/global/operations/"+op.Name+"/wait", nil, &op); err != nil {
				return err
			}
		}
		took = append(took, time.Since(start))
	}
	fmt.Printf("\ncache invalidation until every edge applied it (operation DONE), %d invalidations: median %s, p99 %s\n",
		n, quantile(took, 0.5), quantile(took, 0.99))
	return nil
}

// serveThrough sends n requests through every edge, several at a time, and returns how
// many failed.
func serveThrough(d *hosts.Deployment, clients map[string]*http.Client, n int) int {
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for loc, c := range clients {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/4; i++ {
					if _, err := answeringRegion(c, d.EdgeAddress(loc)); err != nil {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	return failed
}

// writeLatency times n small writes (a URL-map change) through the API.
func writeLatency(d *hosts.Deployment, n int) ([]time.Duration, error) {
	c := d.Client.HTTPClient(10 * time.Second)
	api := d.APIs[len(d.APIs)-1]
	var took []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := setProbeRedirect(c, api, fmt.Sprintf("w%d.example.com", i)); err != nil {
			return nil, err
		}
		took = append(took, time.Since(start))
	}
	return took, nil
}

// etcdFaults kills one member (serving and writes go on), then a second (no quorum:
// serving goes on from the edges' last configuration, writes fail), then brings both
// back and times how long until a write is accepted again; n times.
func etcdFaults(ctx context.Context, d *hosts.Deployment, clients map[string]*http.Client, n int) error {
	var before, after, recovery []time.Duration
	failedOne, failedTwo, refused, served := 0, 0, 0, 0
	var accepted error
	for run := 0; run < n; run++ {
		w, err := writeLatency(d, 10)
		if err != nil {
			return err
		}
		before = append(before, w...)
		d.Etcd[2].Kill()
		failedOne += serveThrough(d, clients, 100)
		w, err = writeLatency(d, 10)
		if err != nil {
			return fmt.Errorf("a write with one etcd member down: %w", err)
		}
		after = append(after, w...)

		d.Etcd[1].Kill()
		failedTwo += serveThrough(d, clients, 100)
		served += 100 * len(clients)
		c := d.Client.HTTPClient(3 * time.Second)
		if err := setProbeRedirect(c, d.APIs[0], "noquorum.example.com"); err != nil {
			refused++
		} else {
			accepted = errors.New("a write was accepted without quorum")
		}
		start := time.Now()
		for _, i := range []int{1, 2} {
			if err := d.RestartMember(ctx, i); err != nil {
				return err
			}
		}
		for setProbeRedirect(c, d.APIs[0], "back.example.com") != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
		}
		recovery = append(recovery, time.Since(start))
	}
	fmt.Printf("\none etcd member (of 3) killed, %d times: %d of %d requests through the edges failed; writes %s before, %s after\n",
		n, failedOne, served, spread(before), spread(after))
	fmt.Printf("two killed (no quorum), %d times: %d of %d requests failed; %d of %d writes refused\n", n, failedTwo, served, refused, n)
	fmt.Printf("both restarted: a write accepted %s after the restarts began\n", spread(recovery))
	return accepted
}

// edgePartition cuts the europe-west1 edge off from every etcd member, but not from
// its clients: it serves on its last configuration, misses a change, and catches up
// when the link heals; n times.
func edgePartition(ctx context.Context, d *hosts.Deployment, clients map[string]*http.Client, n int) error {
	const loc = "europe-west1"
	edge := d.EdgeHosts[loc]
	admin := d.Client.HTTPClient(10 * time.Second)
	failed, stale := 0, 0
	var caughtUp []time.Duration
	for run := 0; run < n; run++ {
		host := fmt.Sprintf("partitioned%d.example.com", run)
		for _, cp := range d.CP {
			if err := edge.Block(cp); err != nil {
				return err
			}
		}
		if err := setProbeRedirect(admin, d.APIs[0], host); err != nil {
			return err
		}
		failed += serveThrough(d, map[string]*http.Client{loc: clients[loc]}, 100)
		if !redirectsTo(clients[loc], d.EdgeAddress(loc), host) {
			stale++
		}
		healed := time.Now()
		for _, cp := range d.CP {
			if err := edge.Unblock(cp); err != nil {
				return err
			}
		}
		at, err := waitRedirect(ctx, clients[loc], d.EdgeAddress(loc), host, 60*time.Second)
		if err != nil {
			return fmt.Errorf("the %s edge did not catch up after the partition: %w", loc, err)
		}
		caughtUp = append(caughtUp, at.Sub(healed))
	}
	fmt.Printf("\nthe %s edge cut off from etcd (not from clients), %d times: %d of %d requests failed, on its last configuration %d of %d times; caught up %s after the link healed\n",
		loc, n, failed, 100*n, stale, n, spread(caughtUp))
	return nil
}

// redirectsTo says whether the edge at addr now redirects /probe/x to host.
func redirectsTo(c *http.Client, addr, host string) bool {
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get("https://" + addr + "/probe/x")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return strings.HasPrefix(resp.Header.Get("Location"), "https://"+host+"/")
}

// standbyTakeover cuts the host of a region's active runtime off the network (the host
// dies: no connection is refused, none answers), and times until the region answers
// again through its nearest edge, from the standby (meanwhile the next region
// answers); n times, the runtime cut off each time coming back as the standby.
func standbyTakeover(ctx context.Context, d *hosts.Deployment, c *http.Client, loc, region string, n int) error {
	if d.Standby[region] == nil {
		return fmt.Errorf("%s has no standby", region)
	}
	var took []time.Duration
	failed, requests := 0, 0
	var firstErr error
	for run := 0; run < n; run++ {
		slot := d.Runtimes
		if activeRuntime(region, d.Runtimes[region], d.Standby[region]) == d.Standby[region] {
			slot = d.Standby
		}
		active := slot[region]
		for {
			if r, err := answeringRegion(c, d.EdgeAddress(loc)); err == nil && r == region {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := active.Host.Cut(); err != nil {
			return err
		}
		killed := time.Now()
		if *verbose {
			fmt.Fprintf(os.Stderr, "%s cut %s off\n", killed.Format("15:04:05.000"), active.Name)
		}
		for {
			r, err := answeringRegion(c, d.EdgeAddress(loc))
			requests++
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
			if err == nil && r == region {
				break
			}
			if time.Since(killed) > 2*time.Minute {
				return fmt.Errorf("no standby took %s over within 2 minutes", region)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took = append(took, time.Since(killed))
		// The host comes back with a fresh runtime, which finds the region claimed and
		// stands by.
		active.Kill()
		if err := active.Host.Heal(); err != nil {
			return err
		}
		p, err := d.StartRuntime(active.Host, strings.Split(active.Name, "@")[0], region)
		if err != nil {
			return err
		}
		slot[region] = p
		if _, err := p.WaitLine(ctx, "runtime: region "+region+" is run by another runtime"); err != nil {
			return err
		}
	}
	fmt.Printf("\n%s's active runtime's host cut off, %d times: its standby answered through the %s edge %s later; %d of %d requests failed meanwhile%s\n",
		region, n, loc, spread(took), failed, requests, map[bool]string{true: "", false: fmt.Sprintf(", the first: %.200v", firstErr)}[firstErr == nil])
	return nil
}

// activeRuntime is the one of a region's runtimes that last said it runs the region
// (whichever claimed it first at start).
func activeRuntime(region string, runtimes ...*hosts.Proc) *hosts.Proc {
	for _, p := range runtimes {
		out := p.Output()
		if i := strings.LastIndex(out, "runtime: running region "+region); i >= 0 && !strings.Contains(out[i:], "is run by another runtime") {
			return p
		}
	}
	return runtimes[0]
}

// spread renders durations measured over repetitions as their median and p99.
func spread(ds []time.Duration) string {
	return fmt.Sprintf("median %s, p99 %s", quantile(ds, 0.5), quantile(ds, 0.99))
}

func shortErr(err error) string {
	if err == nil {
		return "accepted"
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return "refused (" + s + ")"
}

// cacheToCacheFill restarts the edges as one cache group, makes the service's answers
// cacheable, fills n URLs through the edge in from, then asks for them through the edge
// in to: how many were answered by a cache (the URL's owner edge, or to's own if it
// owns it) rather than the origin, and how long those took.
func cacheToCacheFill(ctx context.Context, d *hosts.Deployment, clients map[string]*http.Client, from, to string, n int) error {
	if err := d.RestartEdges(ctx, true); err != nil {
		return err
	}
	if _, err := d.CLI(ctx, "$MERIDIAN compute backend-services update cloudrun-backend --global --cache-mode=FORCE_CACHE_ALL --default-ttl=3600 --custom-response-header='X-C2c: on'"); err != nil {
		return err
	}
	// Every edge serves the change before the first fill: an owner still on the old
	// configuration would not store what it fills for another.
	for loc, c := range clients {
		for {
			resp, err := c.Get("https://" + d.EdgeAddress(loc) + "/c2c/ready")
			if err == nil {
				resp.Body.Close()
				if resp.Header.Get("X-C2c") == "on" {
					break
				}
			}
			if ctx.Err() != nil {
				return fmt.Errorf("the %s edge did not apply the cache mode: %w", loc, ctx.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	get := func(loc, path string) (string, time.Duration, error) {
		start := time.Now()
		resp, err := clients[loc].Get("https://" + d.EdgeAddress(loc) + path)
		if err != nil {
			return "", 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", 0, fmt.Errorf("%s %s: %d", loc, path, resp.StatusCode)
		}
		return resp.Header.Get("Cache-Status"), time.Since(start), nil
	}
	for i := 0; i < n; i++ {
		if _, _, err := get(from, fmt.Sprintf("/c2c/%d", i)); err != nil {
			return err
		}
	}
	fromPeer, own := 0, 0
	var peerTook []time.Duration
	for i := 0; i < n; i++ {
		status, took, err := get(to, fmt.Sprintf("/c2c/%d", i))
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(status, ",")
		if *verbose {
			fmt.Fprintf(os.Stderr, "/c2c/%d through %s: %s in %s\n", i, to, status, took.Round(time.Millisecond))
		}
		switch {
		case strings.Contains(status, ",") && strings.Contains(first, "; hit"):
			fromPeer++
			peerTook = append(peerTook, took)
		case strings.Contains(first, "; hit"):
			own++
		}
	}
	fmt.Printf("\ncache-to-cache fill: %d URLs filled through the %s edge, then asked through the %s edge: %d from a peer's cache (median %s), %d from its own, %d from the origin\n",
		n, from, to, fromPeer, quantile(peerTook, 0.5), own, n-fromPeer-own)
	return nil
}
