package hosts

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"meridian/internal/testutil"
)

// The kernel here has no netem, so latency between hosts is added in user space: in
// the sending host's namespace, iptables redirects its connections to a destination
// host into a relay (listening in that namespace), which reads the original
// destination (SO_ORIGINAL_DST), dials it with a mark the redirect skips, and forwards
// each direction after half the round trip. Connections are delayed, not packets: a
// TCP handshake costs one round trip more than here, and every exchange on an open
// connection the round trip.

// relayMark marks the relay's own connections, which must not be redirected again.
const relayMark = 0x4d52

// Delay adds rtt to every TCP connection this host opens to dst (a round trip: half
// each way). Calling it again for the same pair is an error.
func (h *Host) Delay(dst *Host, rtt time.Duration) error {
	ln, err := h.listen("tcp", "0.0.0.0:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	rule := []string{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", dst.IP.String(), "-m", "mark", "!", "--mark", fmt.Sprint(relayMark),
		"-j", "REDIRECT", "--to-ports", fmt.Sprint(port)}
	if out, err := h.run("iptables", rule...); err != nil {
		ln.Close()
		return fmt.Errorf("iptables on %s: %v: %s", h.Name, err, out)
	}
	r := &relay{host: h, ln: ln, oneWay: rtt / 2}
	h.mu.Lock()
	h.relays = append(h.relays, r)
	h.mu.Unlock()
	go r.serve()
	return nil
}

// Block drops every packet between this host and dst, leaving its other links alone
// (an edge cut off from etcd but not from its clients).
func (h *Host) Block(dst *Host) error { return h.filter("-A", dst) }

// Unblock undoes Block.
func (h *Host) Unblock(dst *Host) error { return h.filter("-D", dst) }

func (h *Host) filter(op string, dst *Host) error {
	for _, rule := range [][]string{{op, "OUTPUT", "-d", dst.IP.String(), "-j", "DROP"}, {op, "INPUT", "-s", dst.IP.String(), "-j", "DROP"}} {
		if out, err := h.run("iptables", rule...); err != nil {
			return fmt.Errorf("iptables on %s: %v: %s", h.Name, err, out)
		}
	}
	return nil
}

// listen opens a listener inside the host's namespace.
func (h *Host) listen(network, addr string) (net.Listener, error) {
	return inNamespace(h.ns, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// run runs a command inside the host's namespace and returns its output.
func (h *Host) run(program string, args ...string) ([]byte, error) {
	p, err := h.Start(program, nil, program, args...)
	if err != nil {
		return nil, err
	}
	<-p.Exited()
	return []byte(p.Output()), p.err
}

// relay forwards redirected connections to their original destination, late.
type relay struct {
	host   *Host
	ln     net.Listener
	oneWay time.Duration
	wg     sync.WaitGroup // connections being relayed
}

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.forward(c.(*net.TCPConn))
		}()
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.wg.Wait()
}

func (r *relay) forward(c *net.TCPConn) {
	defer c.Close()
	dst, err := originalDestination(c)
	if err != nil {
		return
	}
	time.Sleep(r.oneWay) // the SYN's way there; the dial below adds the way back
	up, err := r.host.dialMarked(dst)
	if err != nil {
		return
	}
	defer up.Close()
	time.Sleep(r.oneWay)
	done := make(chan struct{}, 2)
	go func() { testutil.DelayedCopy(up, c, r.oneWay); up.CloseWrite(); done <- struct{}{} }()
	go func() { testutil.DelayedCopy(c, up, r.oneWay); c.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// dialMarked connects from inside the host's namespace with the relay's mark.
func (h *Host) dialMarked(dst netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, relayMark) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := inNamespace(h.ns, func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp", dst.String()) })
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// originalDestination reads where a redirected connection was going (SO_ORIGINAL_DST,
// a sockaddr_in).
func originalDestination(c *net.TCPConn) (netip.AddrPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var addr netip.AddrPort
	var serr error
	err = raw.Control(func(fd uintptr) {
		const soOriginalDst = 80
		mreq, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, soOriginalDst)
		if err != nil {
			serr = err
			return
		}
		// struct sockaddr_in: family (2 bytes), port (2, big endian), address (4).
		b := mreq.Multiaddr
		addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), binary.BigEndian.Uint16(b[2:4]))
	})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return addr, serr
}
