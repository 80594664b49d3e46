package edge

import (
	"net"
	"net/netip"
	"sync"

	"meridian/internal/observe"
)

// clientConns counts the open connections of each client address, so that one client
// cannot take every connection an edge can hold. A connection is counted from its
// accept (on the fast path's listener) until it is closed, by the fast path or by
// net/http after a hand-off. A nil *clientConns counts nothing.
type clientConns struct {
	max     int // negative: no bound
	metrics *observe.Metrics
	mu      sync.Mutex
	open    map[netip.Addr]int
}

func newClientConns(max int, metrics *observe.Metrics) *clientConns {
	return &clientConns{max: max, metrics: metrics, open: map[netip.Addr]int{}}
}

// acquire counts a new connection from addr, or reports false when its address has
// as many open as allowed (the connection is then closed unserved).
func (c *clientConns) acquire(addr net.Addr) bool {
	if c == nil {
		return true
	}
	ip, ok := addrIP(addr)
	if !ok {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max >= 0 && c.open[ip] >= c.max {
		c.metrics.RefuseConnection("per_client_limit")
		return false
	}
	c.open[ip]++
	return true
}

// release uncounts a connection from addr when it closes.
func (c *clientConns) release(addr net.Addr) {
	if c == nil {
		return
	}
	ip, ok := addrIP(addr)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch n := c.open[ip]; {
	case n > 1:
		c.open[ip] = n - 1
	case n == 1:
		delete(c.open, ip)
	}
}

func addrIP(addr net.Addr) (netip.Addr, bool) {
	if a, ok := addr.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return ap.Addr().Unmap(), err == nil
}
