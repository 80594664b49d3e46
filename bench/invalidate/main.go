// Command invalidate measures how long a cache invalidation takes to reach every edge:
// it runs an API and several edges in-process on an embedded etcd, fills each edge's
// cache with many objects through a CDN-enabled backend service, then issues
// invalidations of one prefix at a time through the API and prints the time from the
// API call to the Operation being DONE, which it is once the last edge has applied the
// rule (scanned its cache) and acknowledged it. It also checks that an invalidated
// object is a miss, and one outside the prefix a hit, on every edge. It is a benchmark:
// it prints numbers and asserts nothing beyond that check.
//
//	go run ./bench/invalidate [-edges 3] [-objects 20000] [-rounds 20]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"time"

	"meridian/bench/internal/harness"
	"meridian/internal/edge"
)

func main() {
	edges := flag.Int("edges", 3, "edges sharing the store")
	objects := flag.Int("objects", 20000, "objects cached on each edge")
	rounds := flag.Int("rounds", 20, "invalidations, one prefix each")
	flag.Parse()
	if err := run(*edges, *objects, *rounds); err != nil {
		log.Fatal(err)
	}
}

func run(nEdges, objects, rounds int) error {
	dir, err := os.MkdirTemp("", "meridian-bench-invalidate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl, err := harness.StartControl(ctx, dir)
	if err != nil {
		return err
	}
	defer ctl.Close()

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		io.WriteString(w, "object "+r.URL.Path)
	}))
	defer origin.Close()
	if err := ctl.Create(harness.CDNOrigin(origin.Listener.Addr().String(), map[string]any{"customResponseHeaders": []string{"X-Cache-Status: {cdn_cache_status}"}})...); err != nil {
		return err
	}

	var clients []*http.Client
	for i := range nEdges {
		e, stop := ctl.RunEdge(ctx, edge.Config{Location: fmt.Sprintf("edge-%d", i), PortMap: map[int]int{80: 0}, ProbeInterval: time.Hour, CacheSize: 1 << 30})
		defer stop()
		addr := e.ListenAddresses()["127.0.0.1:80"]
		if addr == "" {
			return fmt.Errorf("edge %d does not serve the forwarding rule", i)
		}
		clients = append(clients, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			}}})
	}
	get := func(c *http.Client, path string) (string, error) {
		resp, err := c.Get("http://lb.example.com" + path)
		if err != nil {
			return "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Cache-Status"), nil
	}
	// Objects /obj/{round}/{i}: each round's invalidation removes one prefix's share.
	perPrefix := max(objects/max(rounds, 1), 1)
	object := func(n int) string { return fmt.Sprintf("/obj/%d/%d", n/perPrefix, n%perPrefix) }
	fillStart := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, nEdges*8)
	for _, c := range clients {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := w; n < objects; n += 8 {
					if _, err := get(c, object(n)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("filled %d objects on each of %d edges in %v\n", objects, nEdges, time.Since(fillStart).Round(time.Millisecond))

	var took []time.Duration
	for r := range rounds {
		start := time.Now()
		op, err := ctl.Call("POST", "global/urlMaps/map/invalidateCache", map[string]any{"path": fmt.Sprintf("/obj/%d/*", r)})
		if err != nil {
			return err
		}
		for op["status"] != "DONE" {
			if op, err = ctl.Call("POST", "global/operations/"+op["name"].(string)+"/wait", nil); err != nil {
				return err
			}
		}
		took = append(took, time.Since(start))
		for i, c := range clients {
			if s, err := get(c, object(r*perPrefix)); err != nil || s != "miss" {
				return fmt.Errorf("edge %d: an invalidated object is a %q (%v)", i, s, err)
			}
			if r+1 < rounds {
				if s, err := get(c, object((r+1)*perPrefix)); err != nil || s != "hit" {
					return fmt.Errorf("edge %d: an object outside the prefix is a %q (%v)", i, s, err)
				}
			}
		}
	}
	slices.Sort(took)
	q := func(p float64) time.Duration {
		return took[min(int(p*float64(len(took))), len(took)-1)].Round(10 * time.Microsecond)
	}
	fmt.Printf("invalidation of one prefix (%d of %d objects per edge), API call to Operation DONE (every edge applied it), %d rounds:\n", perPrefix, objects, rounds)
	fmt.Printf("| edges | objects per edge | median | p90 | max |\n|---|---|---|---|---|\n| %d | %d | %v | %v | %v |\n", nEdges, objects, q(0.5), q(0.9), took[len(took)-1].Round(10*time.Microsecond))
	return nil
}
