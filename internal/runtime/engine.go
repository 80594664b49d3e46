package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Engine is a container engine driven through its command line: Docker, or podman,
// whose commands used here take the same arguments.
type Engine struct {
	// Program is the engine's command: "docker" or "podman".
	Program string
	// Version is what the engine's server reported.
	Version string
	// MemoryLimit and CPULimit say whether the engine's cgroups can enforce
	// resources.limits.
	MemoryLimit, CPULimit bool
}

// Engine choices for Config.Engine and --container-engine.
const (
	EngineAuto = "auto" // Docker if it answers, else podman, else none
	EngineNone = "none" // images run only as built-in programs or a command on the host
)

// engineTimeout bounds a command the runtime gives the engine (not a container's run).
const engineTimeout = 30 * time.Second

// FindEngine returns the engine named by choice ("docker", "podman", "auto" or
// "none"): nil for none, and for auto when no engine answers. A named engine that does
// not answer is an error.
func FindEngine(ctx context.Context, choice string) (*Engine, error) {
	switch choice {
	case EngineNone:
		return nil, nil
	case "", EngineAuto:
		for _, prog := range []string{"docker", "podman"} {
			if e, err := probeEngine(ctx, prog); err == nil {
				return e, nil
			}
		}
		return nil, nil
	case "docker", "podman":
		e, err := probeEngine(ctx, choice)
		if err != nil {
			return nil, fmt.Errorf("--container-engine=%s: %w", choice, err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("--container-engine must be auto, docker, podman or none (got %q)", choice)
}

// probeEngine asks prog for its server's version and cgroup capabilities.
func probeEngine(ctx context.Context, prog string) (*Engine, error) {
	if _, err := exec.LookPath(prog); err != nil {
		return nil, fmt.Errorf("%s is not installed", prog)
	}
	e := &Engine{Program: prog}
	out, err := e.run(ctx, "info", "--format", "{{json .ServerVersion}} {{json .MemoryLimit}} {{json .CPUCfsQuota}}")
	if err != nil {
		return nil, fmt.Errorf("%s does not answer: %w", prog, err)
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		return nil, fmt.Errorf("%s info printed %q", prog, out)
	}
	e.Version, _ = strconv.Unquote(f[0])
	e.MemoryLimit, e.CPULimit = f[1] == "true", f[2] == "true"
	return e, nil
}

// run runs one engine command and returns its standard output; its error carries what
// the engine printed on standard error.
func (e *Engine) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Program, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s %s: %s", e.Program, args[0], msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Labels on every container the runtime starts: they find its own containers again.
const (
	labelManaged = "dev.meridian.managed"
	labelOwner   = "dev.meridian.owner" // host/pid/start of the runtime's process
	labelService = "dev.meridian.service"
)

// ownerID names this process for its containers' owner label: the host, the pid and
// the process's start time (so a reused pid is not taken for it).
func ownerID() string {
	return hostname() + "/" + strconv.Itoa(os.Getpid()) + "/" + processStart(os.Getpid())
}

// ownerAlive reports whether the process an owner label names still runs on this host
// (a label from another host counts as alive: that host's runtime owns it).
func ownerAlive(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return false
	}
	if parts[0] != hostname() {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return false
	}
	start := processStart(pid)
	return start != "" && start == parts[2]
}

// processStart is a process's start time in clock ticks since boot (/proc/PID/stat's
// 22nd field), or "" when it is not running (or not on Linux).
func processStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// RemoveOrphans removes the containers a runtime on this host started and left behind
// when it died without stopping them (killed, or its host rebooted under it), and
// returns their names.
func (e *Engine) RemoveOrphans(ctx context.Context) ([]string, error) {
	out, err := e.run(ctx, "ps", "-a", "--filter", "label="+labelManaged+"=true",
		"--format", "{{.Names}}\t{{.Label \""+labelOwner+"\"}}")
	if err != nil {
		return nil, err
	}
	var orphans []string
	for _, line := range strings.Split(out, "\n") {
		name, owner, ok := strings.Cut(line, "\t")
		if ok && !ownerAlive(owner) {
			orphans = append(orphans, name)
		}
	}
	if len(orphans) == 0 {
		return nil, nil
	}
	_, err = e.run(ctx, append([]string{"rm", "-f"}, orphans...)...)
	return orphans, err
}

// ownedContainers lists the containers this process started and has not removed.
func (e *Engine) ownedContainers(ctx context.Context) ([]string, error) {
	out, err := e.run(ctx, "ps", "-a", "--filter", "label="+labelOwner+"="+ownerID(), "--format", "{{.Names}}")
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}
