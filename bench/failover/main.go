// Command failover measures how Meridian's load balancer leaves a region that dies: it
// runs an API and an edge in-process on an embedded etcd, three regions behind relays
// that add real latency (1, 10 and 20 ms one way), sends a steady load through the
// forwarding rule, kills the closest region partway, and prints the time from the death
// to the last request that touched the dead region, how many touched it, and how many
// requests failed. It is a benchmark: it prints numbers, it asserts nothing.
//
//	go run ./bench/failover [-rate 200] [-duration 20s] [-kill-at 5s]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"meridian/bench/internal/harness"
	"meridian/internal/edge"
	"meridian/internal/testutil"
)

func main() {
	rate := flag.Int("rate", 200, "requests per second")
	duration := flag.Duration("duration", 20*time.Second, "how long the load runs")
	killAt := flag.Duration("kill-at", 5*time.Second, "when the closest region dies")
	flag.Parse()
	if err := run(*rate, *duration, *killAt); err != nil {
		log.Fatal(err)
	}
}

func run(rate int, duration, killAt time.Duration) error {
	dir, err := os.MkdirTemp("", "meridian-bench-failover-")
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
	st := ctl.Store
	// Round-trip probes run once at the start (the interval is longer than the run), so
	// every later connection to the dead region is a client request's attempt.
	e, stopEdge := ctl.RunEdge(ctx, edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0}, ProbeInterval: time.Hour})
	defer stopEdge()

	regions := []struct {
		name  string
		delay time.Duration
	}{{"europe-west1", time.Millisecond}, {"asia-east1", 10 * time.Millisecond}, {"us-central1", 20 * time.Millisecond}}
	relays := map[string]*testutil.Relay{}
	var backends []any
	for _, r := range regions {
		name := r.name
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		defer origin.Close()
		relay, err := testutil.NewRelay(origin.Listener.Addr().String(), r.delay)
		if err != nil {
			return err
		}
		defer relay.Stop()
		relays[name] = relay
		ep, _ := json.Marshal(map[string]any{"url": "http://" + relay.Addr, "healthy": true})
		if _, err := st.Client().Put(ctx, st.Prefix()+"endpoints/regions/"+name+"/namespaces/p/services/app", string(ep)); err != nil {
			return err
		}
		if err := ctl.Create(harness.Resource{Path: "regions/" + name + "/networkEndpointGroups", Body: map[string]any{"name": "app", "networkEndpointType": "SERVERLESS", "cloudRun": map[string]any{"service": "app"}}}); err != nil {
			return err
		}
		backends = append(backends, map[string]any{"group": "regions/" + name + "/networkEndpointGroups/app"})
	}
	resources := append([]harness.Resource{{Path: "global/backendServices", Body: map[string]any{"name": "app", "loadBalancingScheme": "EXTERNAL_MANAGED", "backends": backends}}}, harness.Frontend("app")...)
	if err := ctl.Create(resources...); err != nil {
		return err
	}
	addr, err := harness.Listening(e)
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // let the round-trip probes measure every region
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}}}

	// Open-loop load: one request every 1/rate s, each on its own goroutine.
	var failed atomic.Int64
	var mu sync.Mutex
	served := map[string]int{}
	start := time.Now()
	var killed time.Time
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for n := 0; n < int(duration.Seconds()*float64(rate)); n++ {
		<-tick.C
		if killed.IsZero() && time.Since(start) >= killAt {
			relays["europe-west1"].Refuse(true)
			killed = time.Now()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://app.example.com/")
			if err != nil {
				failed.Add(1)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			mu.Lock()
			served[string(body)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	touches, last := relays["europe-west1"].Refused()
	fmt.Printf("load: %d requests at %d/s over %s; europe-west1 (closest) killed at %s\n", int(duration.Seconds()*float64(rate)), rate, duration, killAt)
	if touches > 0 {
		fmt.Printf("time from death to the last request that touched it: %s (%d connection attempts after death)\n", last.Sub(killed).Round(time.Microsecond), touches)
	} else {
		fmt.Printf("no request touched the dead region after its death\n")
	}
	fmt.Printf("failed requests: %d\n", failed.Load())
	names := make([]string, 0, len(served))
	for n := range served {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  answered by %-13s %d\n", n, served[n])
	}
	return nil
}
