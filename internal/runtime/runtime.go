// Package runtime is a region's serverless runtime: it runs the revisions of every
// Knative service of its region as local processes under Cloud Run's container contract
// (PORT, K_SERVICE, K_REVISION, K_CONFIGURATION, containerConcurrency, min and max
// instances, scale to zero, request timeout), splits each service's traffic over its
// revisions by percent and by tag, publishes the service's endpoint in etcd for
// serverless NEGs to resolve, and writes Knative status on services and revisions.
//
// Layout: runtime.go reconciles stored services with what runs; router.go is each
// service's front door (traffic split, tag URLs); pool.go runs one revision's instances
// and queues requests for them; scale.go is the pure autoscaling policy; process.go
// starts and stops container processes.
package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

const endpointTTL = 10 * time.Second

// DefaultIdleTimeout is how long an idle instance is kept before it is stopped (Cloud
// Run keeps idle instances up to 15 minutes).
const DefaultIdleTimeout = 15 * time.Minute

// ClaimsPrefix is where runtimes claim regions: runtimes/regions/{region} is held under
// the lease of the one runtime that runs the region's services.
const ClaimsPrefix = "runtimes/"

// EndpointKey is the key of a service's endpoint (api.EndpointKey).
func EndpointKey(region, namespace, name string) string {
	return api.EndpointKey(region, namespace, name)
}

// Endpoint is what a runtime publishes for a service it serves.
type Endpoint struct {
	// URL splits traffic over the service's revisions as spec.traffic says.
	URL string `json:"url"`
	// Revision is the latest ready revision.
	Revision string `json:"revision"`
	// Tags are the URLs of tagged revisions, by tag.
	Tags map[string]string `json:"tags,omitempty"`
	// Healthy is false when a revision taking traffic keeps minimum instances but has
	// none ready (the region should not get traffic); a revision scaled to zero is healthy.
	Healthy bool `json:"healthy"`
}

// Config configures a runtime.
type Config struct {
	// Region is the region served; empty serves every region (the embedded default).
	Region string
	// Executable is the meridian binary, run as `meridian builtin NAME` for built-in images.
	Executable string
	// IdleTimeout is how long an idle instance lives (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Address is the IP address services' front doors listen on and publish: where
	// edges on other hosts reach this one (default 127.0.0.1, for one machine).
	// Instances themselves listen on loopback behind them.
	Address string
	// Engine runs images that are not built in (FindEngine); nil runs a container's
	// command as a process on this host instead.
	Engine *Engine
	Log    io.Writer
}

// Runtime runs services. Its goroutines are owned by Run and stop with its context.
type Runtime struct {
	store *store.Store
	cfg   Config

	mu       sync.Mutex                // guards the maps
	routers  map[string]*serviceRouter // by service key
	pools    map[string]*pool          // by region/namespace/revision
	last     map[string]Endpoint       // published, by endpoint key
	lease    *store.Lease              // endpoints are published under it
	wg       sync.WaitGroup            // listeners and retiring pools
	changed  chan struct{}             // a pool's readiness or size changed
	stopping bool
	id       string          // this runtime, in its claims
	claimed  map[string]bool // regions this runtime runs, as last claimed
	logs     *logbook        // what instances write, kept per service
}

// New creates a runtime; Run starts it.
func New(st *store.Store, cfg Config) *Runtime {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	return &Runtime{store: st, cfg: cfg, routers: map[string]*serviceRouter{}, pools: map[string]*pool{},
		last: map[string]Endpoint{}, changed: make(chan struct{}, 1), claimed: map[string]bool{},
		id:   fmt.Sprintf("%s/%d/%d", hostname(), os.Getpid(), time.Now().UnixNano()),
		logs: newLogbook(st, cfg.Log, fmt.Sprintf("%s.%d", hostname(), os.Getpid()))}
}

// Run reconciles the services of its region with running instances until ctx is done,
// then stops every instance.
func (rt *Runtime) Run(ctx context.Context) error {
	lease, err := rt.store.KeepLease(ctx, endpointTTL)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	rt.lease = lease
	logCtx, stopLogs := context.WithCancel(context.Background())
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		rt.logs.run(logCtx)
	}()
	defer func() {
		// After every instance stopped: what they wrote last is kept.
		stopLogs()
		<-logsDone
	}()
	if e := rt.cfg.Engine; e != nil {
		// Containers a runtime on this host left behind when it died.
		orphans, err := e.RemoveOrphans(ctx)
		if err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: looking for containers left by an earlier runtime: %v\n", err)
		} else if len(orphans) > 0 {
			fmt.Fprintf(rt.cfg.Log, "runtime: removed %d containers left by an earlier runtime: %s\n", len(orphans), strings.Join(orphans, ", "))
		}
	}
	defer func() {
		// Withdraw the endpoints and the claims first (they go with the lease), so edges
		// and a standby runtime move on while in-flight requests drain.
		rt.lease.Release()
		rt.stopAll()
	}()
	for ctx.Err() == nil {
		// Coalesce bursts of changes (a scale-up starts several instances at once); when
		// etcd cannot be read, keep serving what runs and retry after a second.
		pause := 50 * time.Millisecond
		if err := rt.renewLeaseIfLost(ctx); err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: %v\n", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		rev, err := rt.reconcile(ctx)
		if err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: %v\n", err)
			pause = time.Second
		} else {
			rt.waitForChange(ctx, rev)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	return nil
}

// renewLeaseIfLost takes a new lease when the last one expired (etcd was unreachable for
// longer than its TTL): the endpoints and claims it held are gone and are published
// again by the next reconcile.
func (rt *Runtime) renewLeaseIfLost(ctx context.Context) error {
	select {
	case <-rt.lease.Lost():
	default:
		return nil
	}
	if ctx.Err() != nil {
		return nil
	}
	lease, err := rt.store.KeepLease(ctx, endpointTTL)
	if err != nil {
		return fmt.Errorf("the lease expired and a new one cannot be had yet: %w", err)
	}
	rt.mu.Lock()
	rt.lease = lease
	rt.last = map[string]Endpoint{}
	rt.mu.Unlock()
	fmt.Fprintf(rt.cfg.Log, "runtime: lease renewed after it expired\n")
	return nil
}

// resyncInterval bounds how long the runtime goes without re-reading everything, as a
// safety net under the watch.
const resyncInterval = 30 * time.Second

// notify wakes the reconcile loop; it never blocks.
func (rt *Runtime) notify() {
	select {
	case rt.changed <- struct{}{}:
	default:
	}
}

// waitForChange returns when a service or revision changes after rev, or a pool
// reports a change.
func (rt *Runtime) waitForChange(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := rt.store.Watch(wctx, api.ResourcesPrefix+"projects/", rev+1)
	// A claim that ends (its runtime stopped) lets this runtime take the region.
	claims := rt.store.Watch(wctx, ClaimsPrefix, rev+1)
	resync := time.NewTimer(resyncInterval)
	defer resync.Stop()
	for {
		select {
		case <-rt.changed:
			return
		case <-rt.lease.Lost():
			return
		case <-resync.C:
			return
		case b, ok := <-claims:
			if !ok {
				return
			}
			for _, ev := range b.Events {
				if ev.Deleted {
					return
				}
			}
		case b, ok := <-wch:
			if !ok {
				return
			}
			for _, ev := range b.Events {
				if strings.Contains(ev.Key, "/services/") || strings.Contains(ev.Key, "/revisions/") {
					return
				}
			}
		}
	}
}

// stored is a service or revision as read, with its key and revision for conditional
// status writes.
type stored[T any] struct {
	key, region, namespace, name string
	modRev                       int64
	obj                          T
}

// reconcile makes what runs match the stored services of the region, publishes
// endpoints, writes status, and returns the etcd revision it read.
func (rt *Runtime) reconcile(ctx context.Context) (int64, error) {
	kvs, rev, err := rt.store.ListAll(ctx, api.ResourcesPrefix+"projects/")
	if err != nil {
		return 0, err
	}
	var services []stored[*api.KnativeService]
	revisions := map[string]stored[*api.KnativeRevision]{} // by region/namespace/name
	for _, kv := range kvs {
		p, err := api.ParseResourcePath(strings.TrimPrefix(kv.Key, api.ResourcesPrefix), "")
		if err != nil || p.Region == "" || (rt.cfg.Region != "" && p.Region != rt.cfg.Region) {
			continue
		}
		switch p.Collection {
		case "services":
			var svc api.KnativeService
			if json.Unmarshal(kv.Value, &svc) == nil && svc.Status != nil && len(svc.Spec.Template.Spec.Containers) == 1 {
				services = append(services, stored[*api.KnativeService]{kv.Key, p.Region, p.Project, p.Name, kv.ModRevision, &svc})
			}
		case "revisions":
			var r api.KnativeRevision
			if json.Unmarshal(kv.Value, &r) == nil && len(r.Spec.Containers) == 1 {
				revisions[p.Region+"/"+p.Project+"/"+p.Name] = stored[*api.KnativeRevision]{kv.Key, p.Region, p.Project, p.Name, kv.ModRevision, &r}
			}
		}
	}

	neededPools := map[string]bool{}
	neededRouters := map[string]bool{}
	claims := map[string]bool{}
	for _, s := range services {
		held, seen := claims[s.region]
		if !seen {
			// An error is not a lost claim: keep everything as it runs and retry.
			if held, err = rt.claim(ctx, s.region); err != nil {
				return 0, err
			}
			claims[s.region] = held
		}
		if !held {
			continue
		}
		neededRouters[s.key] = true
		rt.reconcileService(ctx, s, revisions, neededPools)
	}

	// Retire what is no longer needed: endpoints first, so nothing new is sent there.
	rt.mu.Lock()
	var goneRouters []*serviceRouter
	var goneEndpoints []string
	for key, r := range rt.routers {
		if !neededRouters[key] {
			goneRouters = append(goneRouters, r)
			delete(rt.routers, key)
		}
	}
	for key := range rt.last {
		if ref, ok := endpointService(key); !ok || !neededRouters[ref] {
			// Withdraw it, unless the region now belongs to another runtime, whose
			// endpoint has the same key.
			if held, seen := claims[strings.Split(key, "/")[2]]; held || !seen {
				goneEndpoints = append(goneEndpoints, key)
			} else {
				delete(rt.last, key)
			}
		}
	}
	var gonePools []*pool
	for key, p := range rt.pools {
		if !neededPools[key] {
			gonePools = append(gonePools, p)
			delete(rt.pools, key)
		}
	}
	rt.mu.Unlock()
	var withdrawErr error
	if len(goneEndpoints) > 0 {
		if _, withdrawErr = rt.store.Apply(ctx, store.Change{Deletes: goneEndpoints}); withdrawErr == nil {
			rt.mu.Lock()
			for _, key := range goneEndpoints {
				delete(rt.last, key)
			}
			rt.mu.Unlock()
		}
	}
	for _, r := range goneRouters {
		r.close(&rt.wg)
	}
	for _, p := range gonePools {
		rt.retire(p, p.timeout)
	}
	if withdrawErr != nil {
		return 0, fmt.Errorf("withdraw endpoints: %w", withdrawErr) // retried
	}
	return rev, nil
}

// claim makes this runtime the one that runs region, unless another runtime does.
func (rt *Runtime) claim(ctx context.Context, region string) (bool, error) {
	data, _ := json.Marshal(map[string]string{"runtime": rt.id})
	held, err := rt.lease.Claim(ctx, ClaimsPrefix+"regions/"+region, data)
	if err != nil {
		return false, err
	}
	rt.mu.Lock()
	was, known := rt.claimed[region]
	rt.claimed[region] = held
	rt.mu.Unlock()
	if !known || was != held {
		if held {
			fmt.Fprintf(rt.cfg.Log, "runtime: running region %s\n", region)
		} else {
			fmt.Fprintf(rt.cfg.Log, "runtime: region %s is run by another runtime\n", region)
		}
	}
	return held, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// endpointService maps an endpoint key back to its service's resource key.
func endpointService(key string) (string, bool) {
	region, namespace, name, ok := api.ParseEndpointKey(key)
	if !ok {
		return "", false
	}
	return api.ResourceKey(api.ResourcePath{Project: namespace, Region: region, Collection: "services", Name: name}.String()), true
}

// reconcileService runs the pools a service needs, routes its traffic, publishes its
// endpoint and writes its status and its revisions' status.
func (rt *Runtime) reconcileService(ctx context.Context, s stored[*api.KnativeService], revisions map[string]stored[*api.KnativeRevision], needed map[string]bool) {
	svc := s.obj
	scope := s.region + "/" + s.namespace + "/"
	poolFor := func(name string) (*pool, poolStatus, bool) {
		r, ok := revisions[scope+name]
		if name == "" || !ok || r.obj.Metadata.Labels[api.ServiceLabel] != s.name {
			return nil, poolStatus{}, false
		}
		needed[scope+name] = true
		p := rt.ensurePool(s, r)
		return p, p.status(), true
	}

	latestCreated := svc.Status.LatestCreatedRevisionName
	_, created, createdExists := poolFor(latestCreated)
	// The latest ready revision stays what it was until the latest created one is ready,
	// also across a restart of the runtime, while its pool starts again.
	latestReady := ""
	if createdExists && created.state == poolReady {
		latestReady = latestCreated
	} else if _, st, ok := poolFor(svc.Status.LatestReadyRevisionName); ok && st.state != poolFailed {
		latestReady = svc.Status.LatestReadyRevisionName
	}

	traffic := api.ResolveTraffic(svc.Spec.Traffic, latestReady)
	var pools []*pool
	var weights []int64
	tagPools := map[string]*pool{}
	healthy, routable := true, true
	for _, t := range traffic {
		// A starting pool takes requests: they wait for its first instance.
		p, st, ok := poolFor(t.Revision)
		if !ok || st.state == poolFailed {
			if t.Percent > 0 {
				routable = false
			}
			continue
		}
		if t.Percent > 0 {
			pools, weights = append(pools, p), append(weights, t.Percent)
			if p.minScale > 0 && st.ready == 0 {
				healthy = false
			}
		}
		if t.Tag != "" {
			tagPools[t.Tag] = p
		}
	}

	router := rt.ensureRouter(s, tagPools)
	if router == nil {
		return
	}
	if cur := router.main.route.Load(); !cur.sameAs(pools, weights) {
		router.main.route.Store(newRoute(pools, weights))
	}
	ep := Endpoint{URL: router.main.url, Revision: latestReady, Healthy: healthy && len(pools) > 0}
	for tag, p := range tagPools {
		d := router.tags[tag]
		if d == nil {
			continue // its listener could not open; retried on the next reconcile
		}
		if cur := d.route.Load(); !cur.sameAs([]*pool{p}, []int64{1}) {
			d.route.Store(newRoute([]*pool{p}, []int64{1}))
		}
		if ep.Tags == nil {
			ep.Tags = map[string]string{}
		}
		ep.Tags[tag] = d.url
	}
	// Published whatever the state: a service with nothing routable is there but
	// unhealthy, so edges go elsewhere.
	rt.publish(ctx, api.EndpointKey(s.region, s.namespace, s.name), ep)

	// Status: the service's, then each revision's.
	status := *svc.Status
	status.LatestReadyRevisionName = latestReady
	status.URL = router.main.url
	status.Address = &api.ServiceAddress{URL: router.main.url}
	status.Traffic = nil
	for _, t := range traffic {
		tt := api.TrafficTarget{RevisionName: t.Revision, Percent: t.Percent, Tag: t.Tag}
		if t.Latest {
			latest := true
			tt.LatestRevision = &latest
		}
		if t.Tag != "" && router.tags[t.Tag] != nil {
			tt.URL = router.tags[t.Tag].url
		}
		status.Traffic = append(status.Traffic, tt)
	}
	status.Conditions = serviceConditions(latestCreated, created, createdExists, routable && len(pools) > 0)
	rt.writeServiceStatus(ctx, s, &status)
	serving := map[string]bool{} // revisions that take traffic: a share or a tag
	for _, t := range traffic {
		if t.Percent > 0 || t.Tag != "" {
			serving[scope+t.Revision] = true
		}
	}
	for key, r := range revisions {
		if !strings.HasPrefix(key, scope) || r.obj.Metadata.Labels[api.ServiceLabel] != s.name {
			continue
		}
		var conds []api.Condition
		if needed[key] {
			rt.mu.Lock()
			p := rt.pools[key]
			rt.mu.Unlock()
			conds = revisionConditions(p.status())
		} else if r.obj.Status != nil {
			// A revision without traffic keeps what it was, and is not active.
			for _, c := range r.obj.Status.Conditions {
				if c.Type != "Active" {
					conds = append(conds, c)
				}
			}
		}
		rt.writeRevisionStatus(ctx, r, append(conds, activeCondition(serving[key])))
	}
}

// activeCondition is Knative's Active condition of a revision: whether traffic is
// routed to it (gcloud's `revisions list` shows it as ACTIVE).
func activeCondition(serving bool) api.Condition {
	if serving {
		return api.Condition{Type: "Active", Status: "True"}
	}
	return api.Condition{Type: "Active", Status: "False", Reason: "NoTraffic", Message: "The target is not receiving traffic."}
}

// serviceConditions are Knative's Ready, ConfigurationsReady and RoutesReady.
func serviceConditions(latest string, st poolStatus, exists, routed bool) []api.Condition {
	cond := func(typ, status, reason, msg string) api.Condition {
		return api.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	var config api.Condition
	switch {
	case !exists:
		config = cond("ConfigurationsReady", "Unknown", "RevisionMissing", fmt.Sprintf("Revision '%s' is not stored yet.", latest))
	case st.state == poolFailed:
		config = cond("ConfigurationsReady", "False", "RevisionFailed", fmt.Sprintf("Revision '%s' is not ready and cannot serve traffic. %s", latest, st.failure))
	case st.state == poolStarting && st.waiting != "":
		config = cond("ConfigurationsReady", "Unknown", "Deploying", fmt.Sprintf("Revision '%s' is starting. %s", latest, st.waiting))
	case st.state == poolStarting:
		config = cond("ConfigurationsReady", "Unknown", "Deploying", fmt.Sprintf("Revision '%s' is starting.", latest))
	default:
		config = cond("ConfigurationsReady", "True", "", "")
	}
	routes := cond("RoutesReady", "True", "", "")
	if !routed {
		routes = cond("RoutesReady", "Unknown", "TrafficNotMigrated", "Traffic is not yet migrated to the latest revision.")
		if config.Status == "False" {
			routes = cond("RoutesReady", "False", config.Reason, config.Message)
		}
	}
	ready := cond("Ready", "True", "", "")
	switch {
	case config.Status != "True":
		ready = cond("Ready", config.Status, config.Reason, config.Message)
	case routes.Status != "True":
		ready = cond("Ready", routes.Status, routes.Reason, routes.Message)
	}
	return []api.Condition{ready, config, routes}
}

func revisionConditions(st poolStatus) []api.Condition {
	switch st.state {
	case poolFailed:
		return []api.Condition{
			{Type: "Ready", Status: "False", Reason: st.reason, Message: st.failure},
			{Type: "ContainerHealthy", Status: "False", Reason: st.reason, Message: st.failure},
			{Type: "ResourcesAvailable", Status: "True"},
		}
	case poolReady:
		return []api.Condition{{Type: "Ready", Status: "True"}, {Type: "ContainerHealthy", Status: "True"}, {Type: "ResourcesAvailable", Status: "True"}}
	}
	return []api.Condition{
		{Type: "Ready", Status: "Unknown", Reason: "Deploying", Message: st.waiting},
		{Type: "ContainerHealthy", Status: "Unknown", Reason: "Deploying", Message: st.waiting},
		{Type: "ResourcesAvailable", Status: "Unknown", Reason: "Deploying"},
	}
}

// ensurePool returns the revision's pool, starting it on first sight.
func (rt *Runtime) ensurePool(s stored[*api.KnativeService], r stored[*api.KnativeRevision]) *pool {
	key := r.region + "/" + r.namespace + "/" + r.name
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if p := rt.pools[key]; p != nil {
		return p
	}
	p := newPool(poolConfig{
		region: r.region, namespace: r.namespace, service: s.name, revision: r.name,
		spec: r.obj.Spec, annotations: r.obj.Metadata.Annotations,
		executable: rt.cfg.Executable, engine: rt.cfg.Engine, log: rt.cfg.Log, idle: rt.cfg.IdleTimeout,
		output: func(instance, stream string) io.Writer {
			return rt.logs.output(r.namespace, r.region, s.name, r.name, instance, stream)
		},
		now: time.Now, changed: rt.notify,
	})
	rt.pools[key] = p
	return p
}

// ensureRouter returns the service's front doors, with one door per tag in tags.
func (rt *Runtime) ensureRouter(s stored[*api.KnativeService], tags map[string]*pool) *serviceRouter {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopping {
		return nil
	}
	r := rt.routers[s.key]
	if r == nil {
		main, err := openDoor(&rt.wg, rt.cfg.Address, s.obj.Status.URL)
		if err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: %s: %v\n", s.name, err)
			return nil
		}
		r = &serviceRouter{main: main, tags: map[string]*frontDoor{}}
		rt.routers[s.key] = r
	}
	for tag, d := range r.tags {
		if tags[tag] == nil {
			d.close(&rt.wg)
			delete(r.tags, tag)
		}
	}
	for tag := range tags {
		if r.tags[tag] != nil {
			continue
		}
		preferred := ""
		for _, t := range s.obj.Status.Traffic {
			if t.Tag == tag {
				preferred = t.URL
			}
		}
		d, err := openDoor(&rt.wg, rt.cfg.Address, preferred)
		if err != nil {
			fmt.Fprintf(rt.cfg.Log, "runtime: %s tag %s: %v\n", s.name, tag, err)
			continue
		}
		r.tags[tag] = d
	}
	return r
}

// retire stops a pool in the background after its requests in flight, bounded by
// drainFor; stopAll waits for it.
func (rt *Runtime) retire(p *pool, drainFor time.Duration) {
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		p.close(drainFor)
	}()
}

func (rt *Runtime) stopAll() {
	rt.mu.Lock()
	rt.stopping = true
	for key, r := range rt.routers {
		r.close(&rt.wg)
		delete(rt.routers, key)
	}
	for key, p := range rt.pools {
		rt.retire(p, termGrace)
		delete(rt.pools, key)
	}
	rt.mu.Unlock()
	rt.wg.Wait()
	if e := rt.cfg.Engine; e != nil {
		// Every instance was stopped and removed; any container of this process the
		// engine still lists (a removal that failed) goes now.
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		defer cancel()
		if names, err := e.ownedContainers(ctx); err == nil && len(names) > 0 {
			e.run(ctx, append([]string{"rm", "-f"}, names...)...)
		}
	}
}

// publish writes a service's endpoint under the runtime's lease when it changed.
func (rt *Runtime) publish(ctx context.Context, key string, ep Endpoint) {
	rt.mu.Lock()
	same := reflect.DeepEqual(rt.last[key], ep)
	rt.mu.Unlock()
	if same {
		return
	}
	data, _ := json.Marshal(ep)
	rt.mu.Lock()
	lease := rt.lease
	rt.mu.Unlock()
	if err := lease.Put(ctx, key, data); err != nil {
		fmt.Fprintf(rt.cfg.Log, "runtime: publish %s: %v\n", key, err)
		return
	}
	rt.mu.Lock()
	rt.last[key] = ep
	rt.mu.Unlock()
}

// writeServiceStatus stores the service's new status if it differs from the stored one,
// conditioned on the service not having changed since it was read (a newer spec is
// reconciled next).
func (rt *Runtime) writeServiceStatus(ctx context.Context, s stored[*api.KnativeService], status *api.ServiceStatus) {
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	status.Conditions = carryTransitionTimes(s.obj.Status.Conditions, status.Conditions, now)
	if reflect.DeepEqual(s.obj.Status, status) {
		return
	}
	svc := *s.obj
	svc.Status = status
	rt.writeIfUnchanged(ctx, s.key, s.modRev, &svc)
}

func (rt *Runtime) writeRevisionStatus(ctx context.Context, r stored[*api.KnativeRevision], conds []api.Condition) {
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	status := api.RevisionStatus{ObservedGeneration: r.obj.Metadata.Generation}
	if r.obj.Status != nil {
		status = *r.obj.Status
	}
	status.Conditions = carryTransitionTimes(status.Conditions, conds, now)
	if r.obj.Status != nil && reflect.DeepEqual(*r.obj.Status, status) {
		return
	}
	rev := *r.obj
	rev.Status = &status
	rt.writeIfUnchanged(ctx, r.key, r.modRev, &rev)
}

func (rt *Runtime) writeIfUnchanged(ctx context.Context, key string, modRev int64, obj any) {
	data, err := json.Marshal(obj)
	if err != nil {
		return
	}
	rt.store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: key, Want: modRev}}, Puts: map[string][]byte{key: data}})
}

// carryTransitionTimes keeps a condition's lastTransitionTime while its status, reason
// and message stay the same, and stamps now on those that changed.
func carryTransitionTimes(old, cur []api.Condition, now string) []api.Condition {
	for i := range cur {
		cur[i].LastTransitionTime = now
		for _, o := range old {
			if o.Type == cur[i].Type && o.Status == cur[i].Status && o.Reason == cur[i].Reason && o.Message == cur[i].Message {
				cur[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return cur
}
