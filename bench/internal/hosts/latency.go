package hosts

import (
	"fmt"
	"time"
)

// The kernel here has no netem, so latency between hosts is added in user space: on
// one host of the pair, iptables hands every packet to and from the other host to an
// NFQUEUE, which a delayQueue releases half the round trip later. Packets are delayed,
// not connections: a TCP handshake costs a round trip, and a host that is cut off
// answers nothing, as across a real network.

// Delay adds rtt to every packet exchanged with dst (half each way), whichever host
// opens the connection. Calling it for a pair twice (either way round) doubles it.
func (h *Host) Delay(dst *Host, rtt time.Duration) error {
	h.mu.Lock()
	num := uint16(len(h.queues))
	h.mu.Unlock()
	q, err := h.newDelayQueue(num, rtt/2)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.queues = append(h.queues, q)
	h.mu.Unlock()
	for _, rule := range [][]string{{"OUTPUT", "-d", dst.IP.String()}, {"PREROUTING", "-s", dst.IP.String()}} {
		args := append([]string{"-t", "mangle", "-A"}, rule...)
		if out, err := h.run("iptables", append(args, "-j", "NFQUEUE", "--queue-num", fmt.Sprint(num))...); err != nil {
			return fmt.Errorf("iptables on %s: %v: %s", h.Name, err, out)
		}
	}
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

// run runs a command inside the host's namespace and returns its output.
func (h *Host) run(program string, args ...string) ([]byte, error) {
	p, err := h.Start(program, nil, program, args...)
	if err != nil {
		return nil, err
	}
	<-p.Exited()
	return []byte(p.Output()), p.err
}
