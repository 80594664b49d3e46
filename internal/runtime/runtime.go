// Package runtime is a region's serverless runtime: it runs the latest revision of every
// Knative service of its region as a local process under Cloud Run's container contract
// (PORT, K_SERVICE, K_REVISION, K_CONFIGURATION), publishes the service's endpoint in
// etcd for serverless NEGs to resolve, and writes the service's Knative status.
//
// This first version runs one instance per service and replaces it when a new revision
// is created; concurrency limits, autoscaling, scale to zero and traffic splits are the
// rest of issue 4.
package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"meridian/api"
	"meridian/internal/store"
)

// Contract limits ([CC]).
const (
	startupLimit = 240 * time.Second
	termGrace    = 10 * time.Second
	endpointTTL  = 10 * time.Second
)

// EndpointsPrefix is where runtimes publish service endpoints:
// endpoints/regions/{region}/namespaces/{namespace}/services/{name}.
const EndpointsPrefix = "endpoints/"

// EndpointKey is the key of a service's endpoint.
func EndpointKey(region, namespace, name string) string {
	return EndpointsPrefix + "regions/" + region + "/namespaces/" + namespace + "/services/" + name
}

// Endpoint is what a runtime publishes for a running service.
type Endpoint struct {
	URL      string `json:"url"`
	Revision string `json:"revision"`
}

// Config configures a runtime.
type Config struct {
	// Region is the region served; empty serves every region (the embedded default).
	Region string
	// Executable is the meridian binary, run as `meridian builtin NAME` for built-in images.
	Executable string
	Log        io.Writer
}

// Runtime runs services. Its goroutines are owned by Run and stop with its context.
type Runtime struct {
	store *store.Store
	cfg   Config

	mu        sync.Mutex           // guards instances
	instances map[string]*instance // by service key
	stopping  sync.WaitGroup       // instances being stopped
	lease     *store.Lease         // endpoints are published under it
	// crashed wakes the reconcile loop when an instance exits on its own, so a crashed
	// container is replaced.
	crashed chan struct{}
}

// New creates a runtime; Run starts it.
func New(st *store.Store, cfg Config) *Runtime {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	return &Runtime{store: st, cfg: cfg, instances: map[string]*instance{}, crashed: make(chan struct{}, 1)}
}

// Run reconciles the services of its region with running instances until ctx is done,
// then stops every instance.
func (rt *Runtime) Run(ctx context.Context) error {
	lease, err := rt.store.KeepLease(ctx, endpointTTL)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	rt.lease = lease
	defer func() {
		rt.stopAll()
		lease.Release() // the endpoints go with the lease
	}()
	for ctx.Err() == nil {
		rev, err := rt.reconcile(ctx)
		if err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: %v\n", err)
		} else {
			rt.waitForServiceChange(ctx, rev)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func (rt *Runtime) waitForServiceChange(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := rt.store.Client().Watch(wctx, rt.store.Prefix()+"res/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for {
		select {
		case <-rt.crashed:
			return
		case resp, ok := <-wch:
			if !ok || resp.Err() != nil {
				return
			}
			for _, ev := range resp.Events {
				if strings.Contains(string(ev.Kv.Key), "/services/") {
					return
				}
			}
		}
	}
}

// serviceRef locates a stored service.
type serviceRef struct {
	key                     string // res/projects/{ns}/regions/{r}/services/{name}
	namespace, region, name string
}

// reconcile starts the latest revision of every service of the region, stops instances
// of services that are gone, and returns the revision it read.
func (rt *Runtime) reconcile(ctx context.Context) (int64, error) {
	kvs, rev, err := rt.store.ListAll(ctx, "res/projects/")
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, kv := range kvs {
		ref, ok := parseServiceKey(kv.Key)
		if !ok || (rt.cfg.Region != "" && ref.region != rt.cfg.Region) {
			continue
		}
		var svc api.KnativeService
		if err := json.Unmarshal(kv.Value, &svc); err != nil || svc.Status == nil {
			continue
		}
		want[ref.key] = true
		rt.ensure(ctx, ref, &svc)
	}
	rt.mu.Lock()
	var gone []*instance
	for key, inst := range rt.instances {
		if !want[key] {
			delete(rt.instances, key)
			gone = append(gone, inst)
		}
	}
	rt.mu.Unlock()
	for _, inst := range gone {
		// Withdraw the endpoint first, so no new request is sent to a stopping instance.
		rt.store.Apply(ctx, store.Change{Deletes: []string{inst.endpointKey}})
		rt.retire(inst)
	}
	return rev, nil
}

func parseServiceKey(key string) (serviceRef, bool) {
	p, err := api.ParseResourcePath(strings.TrimPrefix(key, "res/"), "")
	if err != nil || p.Collection != "services" || p.Region == "" {
		return serviceRef{}, false
	}
	return serviceRef{key: key, namespace: p.Project, region: p.Region, name: p.Name}, true
}

// ensure runs the service's latest created revision, replacing an older one, and
// records the outcome in the service's status.
func (rt *Runtime) ensure(ctx context.Context, ref serviceRef, svc *api.KnativeService) {
	revision := svc.Status.LatestCreatedRevisionName
	rt.mu.Lock()
	cur := rt.instances[ref.key]
	rt.mu.Unlock()
	if cur != nil && cur.revision == revision && cur.alive() {
		return
	}
	inst, err := rt.start(ref, svc, revision)
	if err != nil {
		rt.writeStatus(ctx, ref, revision, "", err)
		return
	}
	rt.mu.Lock()
	rt.instances[ref.key] = inst
	rt.mu.Unlock()
	if cur != nil {
		rt.retire(cur)
	}
	rt.publish(ctx, ref, inst)
	rt.writeStatus(ctx, ref, revision, inst.url, nil)
}

// instance is one running container process.
type instance struct {
	stopped     atomic.Bool // set before the runtime stops it; an exit without it is a crash
	ready       atomic.Bool // it listened once; only a ready instance's crash is replaced
	revision    string
	url         string
	endpointKey string
	cmd         *exec.Cmd
	exited      chan struct{}
}

func (i *instance) alive() bool {
	select {
	case <-i.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after Cloud Run's 10 s grace.
func (i *instance) stop() {
	i.stopped.Store(true)
	i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.exited:
	case <-time.After(termGrace):
		i.cmd.Process.Kill()
		<-i.exited
	}
}

// retire stops an instance in the background; stopAll waits for it.
func (rt *Runtime) retire(inst *instance) {
	rt.stopping.Add(1)
	go func() {
		defer rt.stopping.Done()
		inst.stop()
	}()
}

func (rt *Runtime) stopAll() {
	rt.mu.Lock()
	for key, inst := range rt.instances {
		rt.retire(inst)
		delete(rt.instances, key)
	}
	rt.mu.Unlock()
	rt.stopping.Wait()
}

// start runs the revision's container as a process and waits until it listens.
func (rt *Runtime) start(ref serviceRef, svc *api.KnativeService, revision string) (*instance, error) {
	c := svc.Spec.Template.Spec.Containers[0]
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	env["PORT"], env["K_SERVICE"], env["K_REVISION"], env["K_CONFIGURATION"] = strconv.Itoa(port), ref.name, revision, ref.name
	var argv []string
	switch prog, builtin := builtinProgram(c.Image); {
	case len(c.Command) > 0:
		argv = append(expandAll(c.Command, env), expandAll(c.Args, env)...)
	case builtin:
		argv = []string{rt.cfg.Executable, "builtin", prog}
	default:
		return nil, fmt.Errorf("image %q cannot be run here: it is not built in and the container gives no command", c.Image)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = rt.cfg.Log, rt.cfg.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	inst := &instance{revision: revision, url: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{}),
		endpointKey: EndpointKey(ref.region, ref.namespace, ref.name)}
	go func() {
		cmd.Wait()
		close(inst.exited)
		if inst.ready.Load() && !inst.stopped.Load() {
			fmt.Fprintf(rt.cfg.Log, "runtime: %s/%s revision %s exited; replacing it\n", ref.region, ref.name, revision)
			select {
			case rt.crashed <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}()
	if err := waitListening(inst, port); err != nil {
		inst.stop()
		return nil, err
	}
	inst.ready.Store(true)
	fmt.Fprintf(rt.cfg.Log, "runtime: %s/%s revision %s listening on %s\n", ref.region, ref.name, revision, inst.url)
	return inst, nil
}

// waitListening polls the instance's port until it accepts connections, the process
// exits, or the startup limit passes.
func waitListening(inst *instance, port int) error {
	deadline := time.Now().Add(startupLimit)
	for {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-inst.exited:
			return fmt.Errorf("the container exited before listening on PORT=%d", port)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the container did not listen on PORT=%d within %s", port, startupLimit)
		}
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

// publish writes the service's endpoint under the runtime's lease.
func (rt *Runtime) publish(ctx context.Context, ref serviceRef, inst *instance) {
	data, _ := json.Marshal(Endpoint{URL: inst.url, Revision: inst.revision})
	if err := rt.lease.Put(ctx, inst.endpointKey, data); err != nil {
		fmt.Fprintf(rt.cfg.Log, "runtime: publish %s: %v\n", ref.name, err)
	}
}

// writeStatus records Knative's conditions for the revision, conditioned on the service
// not having changed since it was read (a newer spec is reconciled next).
func (rt *Runtime) writeStatus(ctx context.Context, ref serviceRef, revision, url string, runErr error) {
	kv, err := rt.store.Get(ctx, ref.key)
	if err != nil {
		return
	}
	var svc api.KnativeService
	if json.Unmarshal(kv.Value, &svc) != nil || svc.Status == nil || svc.Status.LatestCreatedRevisionName != revision {
		return
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	st := svc.Status
	if runErr != nil {
		msg := runErr.Error()
		st.Conditions = []api.Condition{
			{Type: "Ready", Status: "False", Reason: "RevisionFailed", Message: msg, LastTransitionTime: now},
			{Type: "ConfigurationsReady", Status: "False", Reason: "RevisionFailed", Message: msg, LastTransitionTime: now},
			{Type: "RoutesReady", Status: "False", Reason: "RevisionFailed", Message: msg, LastTransitionTime: now},
		}
	} else {
		st.LatestReadyRevisionName, st.URL = revision, url
		st.Address = &api.ServiceAddress{URL: url}
		latest := true
		st.Traffic = []api.TrafficTarget{{RevisionName: revision, LatestRevision: &latest, Percent: 100}}
		st.Conditions = []api.Condition{
			{Type: "Ready", Status: "True", LastTransitionTime: now},
			{Type: "ConfigurationsReady", Status: "True", LastTransitionTime: now},
			{Type: "RoutesReady", Status: "True", LastTransitionTime: now},
		}
	}
	data, err := json.Marshal(svc)
	if err != nil {
		return
	}
	rt.store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: ref.key, Want: kv.ModRevision}}, Puts: map[string][]byte{ref.key: data}})
}
