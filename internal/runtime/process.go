package runtime

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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

// process is one running container: the revision's command, or a built-in image run as
// `meridian builtin NAME`, listening on PORT on loopback.
type process struct {
	stopped atomic.Bool // set before the runtime stops it; an exit without it is a crash
	addr    string      // 127.0.0.1:PORT
	cmd     *exec.Cmd
	exited  chan struct{}
}

// containerSpec is what starting a revision's container needs.
type containerSpec struct {
	service, revision, region string
	container                 api.Container
	executable                string // the meridian binary, for built-in images
	log                       io.Writer
}

// imageError says why a container cannot run at all (an unknown image); retrying does
// not help.
type imageError struct{ msg string }

func (e *imageError) Error() string { return e.msg }

// startProcess runs the container with Cloud Run's environment and returns once the
// process is started (not yet listening).
func startProcess(cs containerSpec) (*process, error) {
	c := cs.container
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	env["PORT"], env["K_SERVICE"], env["K_REVISION"], env["K_CONFIGURATION"] = strconv.Itoa(port), cs.service, cs.revision, cs.service
	env[RegionEnv] = cs.region
	var argv []string
	switch prog, builtin := builtinProgram(c.Image); {
	case len(c.Command) > 0:
		argv = append(expandAll(c.Command, env), expandAll(c.Args, env)...)
	case builtin:
		argv = []string{cs.executable, "builtin", prog}
	default:
		return nil, &imageError{fmt.Sprintf("Image '%s' cannot be run here: it is not built in and the container gives no command.", c.Image)}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.WorkingDir
	// A container sees its own environment, not the runtime's: PATH and HOME to find
	// and run programs, then the container's variables and the contract's.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = cs.log, cs.log
	// Its own process group, so stopping it stops every process it started (a shell
	// that does not exec its server), and output pipes cannot hold Wait forever.
	cmd.SysProcAttr = containerProcAttr()
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, &imageError{fmt.Sprintf("The container command %q cannot be started: %v", argv[0], err)}
	}
	p := &process{addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitListening polls the process's port until the container listens on it, the process
// exits, the startup limit passes, or cancel closes.
func (p *process) waitListening(cancel <-chan struct{}) error {
	deadline := time.NewTimer(startupLimit)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			port, _ := strconv.Atoi(p.port())
			if owned, known := listenerOwner(p.cmd.Process.Pid, port); owned || !known {
				return nil
			}
			// Another program took the port first: the container cannot bind it, and
			// requests sent there would reach that program. Start again elsewhere.
			return fmt.Errorf("port %s was taken by another program before the container could listen on it", p.port())
		}
		select {
		case <-p.exited:
			return fmt.Errorf("The user-provided container failed to start and listen on the port defined provided by the PORT=%s environment variable: it exited (%v).", p.port(), p.cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("The user-provided container failed to start and listen on the port defined provided by the PORT=%s environment variable within %s.", p.port(), startupLimit)
		case <-cancel:
			return fmt.Errorf("the revision is being stopped")
		case <-tick.C:
		}
	}
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
