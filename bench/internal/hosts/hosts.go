// Package hosts runs a deployment across several hosts on one Linux machine, for
// bench/hosts and the tests built on it. Each host is a network namespace with its own
// address on a switch (a bridge inside a namespace of its own, so nothing touches the
// machine's own network); its processes run inside it; its link to the switch can be
// cut and healed; the calling process reaches a host's addresses through a dialer that
// opens its sockets inside another host's namespace.
//
// It needs root and iproute2's `ip`. Addresses come from 198.18.0.0/15, the range set
// aside for network benchmarks (RFC 2544), and exist only inside the namespaces.
package hosts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Subnet is where hosts get their addresses.
var Subnet = netip.MustParsePrefix("198.18.0.0/24")

// Net is a set of hosts on one switch.
type Net struct {
	prefix string // of every namespace and link of this Net
	sw     string // the switch's namespace

	mu    sync.Mutex // guards hosts and next
	hosts []*Host
	next  netip.Addr
}

// Supported says why hosts cannot run here, or nil.
func Supported() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("iproute2's ip is not installed")
	}
	return nil
}

// New makes an empty network. prefix (a few letters) names its namespaces; namespaces
// left with that prefix by a run that died are removed first.
func New(prefix string) (*Net, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	removeNamespaces(prefix)
	n := &Net{prefix: prefix, sw: prefix + "-sw", next: Subnet.Addr().Next()}
	if err := ip("netns", "add", n.sw); err != nil {
		return nil, err
	}
	if err := ipIn(n.sw, "link", "add", "br0", "type", "bridge"); err != nil {
		n.Close()
		return nil, err
	}
	if err := ipIn(n.sw, "link", "set", "br0", "up"); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Host is one namespace on the switch.
type Host struct {
	Name string
	IP   netip.Addr
	ns   string
	port string // the switch's end of its link
	net  *Net

	mu     sync.Mutex // guards procs and queues
	procs  []*Proc
	queues []*delayQueue
}

// AddHost makes a host with the next address of the subnet.
func (n *Net) AddHost(name string) (*Host, error) {
	n.mu.Lock()
	addr := n.next
	n.next = n.next.Next()
	idx := len(n.hosts)
	h := &Host{Name: name, IP: addr, ns: fmt.Sprintf("%s-%s", n.prefix, name), port: fmt.Sprintf("%s%d", n.prefix, idx), net: n}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	steps := [][]string{
		{"netns", "add", h.ns},
		{"link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", h.port, "netns", n.sw},
		{"-n", n.sw, "link", "set", h.port, "master", "br0", "up"},
		{"-n", h.ns, "addr", "add", fmt.Sprintf("%s/%d", addr, Subnet.Bits()), "dev", "eth0"},
		{"-n", h.ns, "link", "set", "eth0", "up"},
		{"-n", h.ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, fmt.Errorf("host %s: %w", name, err)
		}
	}
	return h, nil
}

// AnyIP lets processes on the host listen on every address of prefix, as edges of an
// anycast address do (Linux's local route for a prefix).
func (h *Host) AnyIP(prefix netip.Prefix) error {
	return ipIn(h.ns, "route", "add", "local", prefix.String(), "dev", "lo")
}

// Route sends traffic for prefix to another host (a client reaching an anycast
// address through the edge nearest to it).
func (h *Host) Route(prefix netip.Prefix, via *Host) error {
	return ipIn(h.ns, "route", "replace", prefix.String(), "via", via.IP.String())
}

// Cut takes the host's link to the switch down: it is partitioned from every host.
func (h *Host) Cut() error { return ipIn(h.net.sw, "link", "set", h.port, "down") }

// Heal brings the host's link back up.
func (h *Host) Heal() error { return ipIn(h.net.sw, "link", "set", h.port, "up") }

// DialContext opens a connection from inside the host's namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return inNamespace(h.ns, func() (net.Conn, error) {
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	})
}

// inNamespace runs f on a thread that has entered the namespace ns: sockets f makes
// belong to it. The thread then ends with its goroutine, never to run anything else.
func inNamespace[T any](ns string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := enterNamespace(ns); err != nil {
			var zero T
			done <- result{zero, err}
			return
		}
		v, err := f()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

func enterNamespace(ns string) error {
	fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	return nil
}

// HTTPClient is a client whose connections start on this host.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: h.DialContext, MaxIdleConnsPerHost: 16}}
}

// Proc is a process running on a host.
type Proc struct {
	Name string
	Host *Host // where it runs
	cmd  *exec.Cmd
	done chan struct{}
	err  error // after done

	mu    sync.Mutex // guards lines and waits
	lines []string
	waits []lineWait
	log   io.Writer
}

type lineWait struct {
	prefix string
	found  chan string
}

// Start runs a program on the host. Its output goes to log (if not nil) and is kept,
// line by line, for WaitLine.
func (h *Host) Start(name string, log io.Writer, program string, args ...string) (*Proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns, program}, args...)...)
	// No Pdeathsig: it fires when the forking thread ends, and DialContext ends threads.
	// Close kills the processes; New kills those a dead run left in its namespaces.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Name: name, Host: h, cmd: cmd, done: make(chan struct{}), log: log}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", name, h.Name, err)
	}
	go p.read(pr)
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p, nil
}

func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p.log != nil {
			fmt.Fprintf(p.log, "%s [%s] %s\n", time.Now().Format("15:04:05.000"), p.Name, line)
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		kept := p.waits[:0]
		for _, w := range p.waits {
			if strings.HasPrefix(line, w.prefix) {
				w.found <- line
			} else {
				kept = append(kept, w)
			}
		}
		p.waits = kept
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

// WaitLine returns the first line of output starting with prefix, waiting for it
// until ctx is done or the process exits.
func (p *Proc) WaitLine(ctx context.Context, prefix string) (string, error) {
	found := make(chan string, 1)
	p.mu.Lock()
	for _, l := range p.lines {
		if strings.HasPrefix(l, prefix) {
			p.mu.Unlock()
			return l, nil
		}
	}
	p.waits = append(p.waits, lineWait{prefix, found})
	p.mu.Unlock()
	select {
	case l := <-found:
		return l, nil
	case <-p.done:
		return "", fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, prefix, p.Output())
	case <-ctx.Done():
		return "", fmt.Errorf("%s did not print %q: %w\n%s", p.Name, prefix, ctx.Err(), p.Output())
	}
}

// Output is what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Kill ends the process and everything it started at once, as a host dying would.
func (p *Proc) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to stop (SIGTERM) and waits for it, killing it after grace.
func (p *Proc) Stop(grace time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.Name, grace)
	}
}

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Close kills every process and removes every namespace of the network.
func (n *Net) Close() error {
	n.mu.Lock()
	hosts := n.hosts
	n.mu.Unlock()
	for _, h := range hosts {
		h.mu.Lock()
		procs, queues := h.procs, h.queues
		h.mu.Unlock()
		for _, p := range procs {
			p.Kill()
		}
		for _, q := range queues {
			q.close()
		}
	}
	return removeNamespaces(n.prefix)
}

// removeNamespaces deletes every namespace whose name starts with prefix-, killing
// what still runs in it.
func removeNamespaces(prefix string) error {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, prefix+"-") {
			continue
		}
		if pids, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, pid := range strings.Fields(string(pids)) {
				// This process is listed when the thread the kernel reports for it (its
				// first) once dialed from inside a host.
				if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
		errs = append(errs, ip("netns", "del", name))
	}
	return errors.Join(errs...)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ipIn(ns string, args ...string) error { return ip(append([]string{"-n", ns}, args...)...) }
