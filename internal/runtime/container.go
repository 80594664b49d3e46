package runtime

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"meridian/api"
)

// container is one instance run by a container engine: created from the revision's
// image with Cloud Run's environment and limits, then run by `ENGINE start --attach`,
// whose output is the container's and whose exit is the container's.
type container struct {
	engine  *Engine
	id      string
	cname   string // the engine's name for it
	addr    string // the container's address on the engine's network, and its port
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped atomic.Bool
}

// containerName is the engine's name for an instance: meridian-REVISION-ID.
func containerName(revision, id string) string { return "meridian-" + revision + "-" + id }

// startContainer creates and starts the instance's container and returns once the
// engine reports it running with an address (not yet listening). An image that cannot
// be had is an imageError.
func startContainer(ctx context.Context, e *Engine, cs containerSpec) (*container, error) {
	c := cs.container
	port := int(containerPort(c))
	env := contractEnv(cs, port)
	name := containerName(cs.revision, cs.id)
	args := []string{"create", "--pull", "missing", "--rm", "--name", name,
		"--label", labelManaged + "=true", "--label", labelOwner + "=" + ownerID(),
		"--label", labelService + "=" + cs.region + "/" + cs.service,
		"--stop-timeout", strconv.Itoa(int(termGrace / time.Second))}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		args = append(args, "--env", k+"="+env[k])
	}
	if c.WorkingDir != "" {
		args = append(args, "--workdir", c.WorkingDir)
	}
	limits, unenforced := containerLimits(e, c.Resources)
	args = append(args, limits...)
	for _, what := range unenforced {
		fmt.Fprintf(cs.stderr, "runtime: the %s limit is not applied: %s's cgroups cannot enforce it here\n", what, e.Program)
	}
	var positional []string
	if len(c.Command) > 0 {
		// Knative's command replaces the image's entrypoint (and its default arguments).
		cmd := expandAll(c.Command, env)
		args = append(args, "--entrypoint", cmd[0])
		positional = cmd[1:]
	}
	positional = append(positional, expandAll(c.Args, env)...)
	args = append(append(args, "--", c.Image), positional...)
	if _, err := e.run(ctx, args...); err != nil {
		if ctx.Err() != nil {
			// Halted while the engine created it: it may exist, never started.
			e.run(context.Background(), "rm", "-f", name)
		}
		if imageMissing(err) {
			return nil, &imageError{fmt.Sprintf("Image '%s' not found: %v", c.Image, err), "ImagePullBackOff"}
		}
		return nil, err
	}
	ct := &container{engine: e, id: cs.id, cname: name, exited: make(chan struct{})}
	ct.cmd = exec.Command(e.Program, "start", "--attach", name)
	ct.cmd.Stdout, ct.cmd.Stderr = cs.stdout, cs.stderr
	ct.cmd.WaitDelay = time.Second
	if err := ct.cmd.Start(); err != nil {
		e.run(context.Background(), "rm", "-f", name)
		return nil, err
	}
	go func() {
		ct.cmd.Wait()
		close(ct.exited)
	}()
	// The engine gives the container its address once it runs.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := e.run(ctx, "inspect", "--format", "{{.State.Status}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name)
		if f := strings.Fields(out); err == nil && len(f) >= 2 && f[0] == "running" {
			ct.addr = net.JoinHostPort(f[1], strconv.Itoa(port))
			return ct, nil
		}
		select {
		case <-ct.exited:
			return nil, fmt.Errorf("The user-provided container exited before it started: %v", ct.cmd.ProcessState)
		case <-ctx.Done():
			ct.stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// imageMissing reports whether the engine refused to create a container for want of
// its image.
func imageMissing(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"no such image", "unable to find image", "pull access denied", "manifest unknown", "not found", "repository does not exist", "invalid reference format", "registry", "image not known"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// containerLimits are the engine's flags for the container's resources.limits, and the
// limits its cgroups cannot enforce.
func containerLimits(e *Engine, r *api.ResourceRequirements) (flags, unenforced []string) {
	if r == nil {
		return nil, nil
	}
	if q, ok := r.Limits["memory"]; ok {
		if b, err := api.MemoryBytes(q); err == nil {
			if e.MemoryLimit {
				flags = append(flags, "--memory", strconv.FormatInt(b, 10))
			} else {
				unenforced = append(unenforced, "memory")
			}
		}
	}
	if q, ok := r.Limits["cpu"]; ok {
		if c, err := api.CPUCores(q); err == nil {
			if e.CPULimit {
				flags = append(flags, "--cpus", strconv.FormatFloat(c, 'f', -1, 64))
			} else {
				unenforced = append(unenforced, "cpu")
			}
		}
	}
	return flags, unenforced
}

func (c *container) address() string { return c.addr }
func (c *container) name() string    { return c.id }
func (c *container) done() <-chan struct{} {
	return c.exited
}
func (c *container) exitReport() string { return fmt.Sprint(c.cmd.ProcessState) }

// listenerIsOurs: the address is the container's own, on the engine's network.
func (c *container) listenerIsOurs() (owned, known bool) { return true, true }

func (c *container) halted() bool { return c.stopped.Load() }

// stop asks the engine to stop the container (SIGTERM, then SIGKILL after the grace
// period) and makes sure it is removed.
func (c *container) stop() {
	c.stopped.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), termGrace+engineTimeout)
	defer cancel()
	c.engine.run(ctx, "stop", "--time", strconv.Itoa(int(termGrace/time.Second)), c.cname)
	// The engine has stopped it: the attached client ends with it, or is ended (it can
	// miss the end of a container the engine removes at once).
	select {
	case <-c.exited:
	case <-time.After(2 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	// --rm removes it once stopped; this removes one the engine could not stop (an
	// error here is most often that it is gone already).
	c.engine.run(ctx, "rm", "-f", c.cname)
}
