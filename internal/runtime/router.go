package runtime

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// A serviceRouter is a service's front door, standing in for its run.app URLs: one
// loopback listener splits traffic over revisions by percent, and one listener per tag
// reaches only its tag's revision.
type serviceRouter struct {
	main *frontDoor
	tags map[string]*frontDoor
}

// frontDoor is one listener and what it routes to.
type frontDoor struct {
	url   string
	srv   *http.Server
	route atomic.Pointer[route]
}

// route splits requests over pools by weight.
type route struct {
	mu    sync.Mutex
	pools []*pool
	w     *wrr
}

func newRoute(pools []*pool, weights []int64) *route {
	return &route{pools: pools, w: newWRR(weights)}
}

func (r *route) next() *pool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.w.next(); i >= 0 {
		return r.pools[i]
	}
	return nil
}

// sameAs reports whether r routes to the same pools with the same weights, so a
// reconcile that changes nothing keeps the round robin's position.
func (r *route) sameAs(pools []*pool, weights []int64) bool {
	if r == nil || len(r.pools) != len(pools) {
		return false
	}
	for i := range pools {
		if r.pools[i] != pools[i] || r.w.weights[i] != weights[i] {
			return false
		}
	}
	return true
}

func (d *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p *pool
	if rt := d.route.Load(); rt != nil {
		p = rt.next()
	}
	if p != nil && p.closing.Load() {
		// The pool is retiring: the route was swapped just before; take the new one.
		if rt := d.route.Load(); rt != nil {
			p = rt.next()
		}
	}
	if p == nil {
		http.Error(w, "The service has no revision ready to serve traffic.", http.StatusServiceUnavailable)
		return
	}
	p.serve(w, r)
}

// openDoor listens on addr (an IP address edges reach this host at), on the port of
// preferred (the URL it had before a restart) when that is free, so URLs outlive the
// runtime.
func openDoor(wg *sync.WaitGroup, addr, preferred string) (*frontDoor, error) {
	var ln net.Listener
	if u, err := url.Parse(preferred); err == nil && u.Scheme == "http" && u.Hostname() == addr {
		ln, _ = net.Listen("tcp", u.Host)
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", net.JoinHostPort(addr, "0")); err != nil {
			return nil, err
		}
	}
	d := &frontDoor{url: "http://" + ln.Addr().String()}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: time.Minute, Protocols: new(http.Protocols)}
	d.srv.Protocols.SetHTTP1(true)
	d.srv.Protocols.SetUnencryptedHTTP2(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.srv.Serve(ln)
	}()
	return d, nil
}

// close stops accepting and lets requests in flight finish (bounded by Cloud Run's
// grace period), in the background; wg waits for it.
func (d *frontDoor) close(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), termGrace)
		defer cancel()
		if d.srv.Shutdown(ctx) != nil {
			d.srv.Close()
		}
	}()
}

func (s *serviceRouter) close(wg *sync.WaitGroup) {
	s.main.close(wg)
	for _, d := range s.tags {
		d.close(wg)
	}
}
