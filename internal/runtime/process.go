package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"meridian/api"
)

// Contract limits ([CC]).
const (
	startupLimit = 240 * time.Second
	termGrace    = 10 * time.Second
)

// instance is one running container of a revision: a process on this host (a built-in
// image, or a command where no container engine runs images) or an engine's container.
type instance interface {
	address() string // host:port that requests go to
	name() string    // the instance's ID in logs
	done() <-chan struct{}
	exitReport() string // how it ended, once done
	// listenerIsOurs reports whether what accepts connections on address is the
	// instance (another program can take a free host port first).
	listenerIsOurs() (owned, known bool)
	stop() // SIGTERM, then SIGKILL after the grace period; returns once it is gone
	halted() bool
}

// process is one running container as a process group on this host, listening on PORT
// on loopback.
type process struct {
	id      string
	stopped atomic.Bool // set before the runtime stops it; an exit without it is a crash
	addr    string      // 127.0.0.1:PORT
	cmd     *exec.Cmd
	exited  chan struct{}
}

// containerSpec is what starting a revision's container needs.
type containerSpec struct {
	id                        string // the instance's
	service, revision, region string
	container                 api.Container
	executable                string  // the meridian binary, for built-in images
	engine                    *Engine // runs images that are not built in; nil: none here
	stdout, stderr            io.Writer
}

// imageError says why a container cannot run at all (an unknown image); retrying does
// not help. Reason is the revision's condition reason.
type imageError struct{ msg, reason string }

func (e *imageError) Error() string { return e.msg }

// startInstance starts the revision's container: built-in images as processes, other
// images with the container engine, or, where there is none, the container's command
// as a process. It returns once the instance runs (not yet listening).
func startInstance(ctx context.Context, cs containerSpec) (instance, error) {
	_, builtin := builtinProgram(cs.container.Image)
	switch {
	case builtin:
	case cs.engine != nil:
		return startContainer(ctx, cs.engine, cs)
	case len(cs.container.Command) == 0:
		return nil, &imageError{fmt.Sprintf("Image '%s' cannot be run here: it is not built in, no container engine (Docker or podman) answers on this host, and the container gives no command to run as a process.", cs.container.Image), "ContainerMissing"}
	}
	return startProcess(cs)
}

// containerPort is the port the container listens on: its declared port, or Cloud
// Run's 8080.
func containerPort(c api.Container) int64 {
	if len(c.Ports) == 1 && c.Ports[0].ContainerPort > 0 {
		return c.Ports[0].ContainerPort
	}
	return api.DefaultContainerPort
}

// contractEnv is the container's environment: its own variables, then Cloud Run's.
func contractEnv(cs containerSpec, port int) map[string]string {
	env := map[string]string{}
	for _, e := range cs.container.Env {
		env[e.Name] = e.Value
	}
	env["PORT"], env["K_SERVICE"], env["K_REVISION"], env["K_CONFIGURATION"] = strconv.Itoa(port), cs.service, cs.revision, cs.service
	env[RegionEnv] = cs.region
	return env
}

// startProcess runs the container as a process group with Cloud Run's environment
// and returns once the process is started (not yet listening).
func startProcess(cs containerSpec) (*process, error) {
	c := cs.container
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := contractEnv(cs, port)
	// startInstance has checked there is a command, or the image is built in.
	prog, _ := builtinProgram(c.Image)
	argv := []string{cs.executable, "builtin", prog}
	if len(c.Command) > 0 {
		argv = append(expandAll(c.Command, env), expandAll(c.Args, env)...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.WorkingDir
	// A container sees its own environment, not the runtime's: PATH and HOME to find
	// and run programs, then the container's variables and the contract's.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = cs.stdout, cs.stderr
	// Its own process group, so stopping it stops every process it started (a shell
	// that does not exec its server), and output pipes cannot hold Wait forever.
	cmd.SysProcAttr = containerProcAttr()
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, &imageError{fmt.Sprintf("The container command %q cannot be started: %v", argv[0], err), "ContainerMissing"}
	}
	p := &process{id: cs.id, addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) address() string       { return p.addr }
func (p *process) name() string          { return p.id }
func (p *process) done() <-chan struct{} { return p.exited }
func (p *process) exitReport() string    { return fmt.Sprint(p.cmd.ProcessState) }
func (p *process) halted() bool          { return p.stopped.Load() }

func (p *process) listenerIsOurs() (owned, known bool) {
	port, _ := strconv.Atoi(p.port())
	return listenerOwner(p.cmd.Process.Pid, port)
}

func (p *process) port() string {
	_, port, _ := net.SplitHostPort(p.addr)
	return port
}

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the container's process group, then SIGKILL after Cloud Run's
// 10 s grace.
func (p *process) stop() {
	p.stopped.Store(true)
	pgid := -p.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	t := time.NewTimer(termGrace)
	defer t.Stop()
	select {
	case <-p.exited:
		syscall.Kill(pgid, syscall.SIGKILL) // anything it left behind
	case <-t.C:
		syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// expandAll applies Kubernetes' $(VAR) expansion from the container's environment.
func expandAll(args []string, env map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, env)
	}
	return out
}

func expand(s string, env map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "$(")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '$' { // $$(VAR) escapes to a literal $(VAR)
			b.WriteString(s[:i-1] + "$(")
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := s[i+2 : i+end]
		b.WriteString(s[:i])
		if v, ok := env[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+end+1])
		}
		s = s[i+end+1:]
	}
}

// instanceTransport speaks the container's protocol: HTTP/1.1, or HTTP/2 without TLS
// when its port is named h2c.
func instanceTransport(h2c bool) *http.Transport {
	t := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// newInstanceID is an instance's ID: 12 random hex digits.
func newInstanceID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
