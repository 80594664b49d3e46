package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"meridian/api"
)

// A pool runs one revision's instances and is the revision's activator: a request takes
// a free slot on a ready instance (at most containerConcurrency per instance), or waits
// in line while the pool starts instances for it, up to maxScale. Idle instances are
// stopped down to minScale (zero scales the revision to zero; the next request waits for
// a cold start). The pool is an http.RoundTripper, so a ReverseProxy in front of it
// streams, upgrades and flushes as it does for any backend.
type pool struct {
	cfg         poolConfig
	concurrency int
	minScale    int
	maxScale    int
	timeout     time.Duration
	transport   *http.Transport
	proxy       *httputil.ReverseProxy

	mu        sync.Mutex
	members   []*member // starting and ready instances
	loads     []load    // loads[i] is members[i]'s, for the pure policy in scale.go
	waiters   []*waiter // requests waiting for a slot, first come first served
	state     poolState
	failure   string        // why the revision cannot run (state == poolFailed)
	reason    string        // the failure's condition reason
	waiting   string        // while starting: what the first instance waits for
	startTime time.Duration // mean time to listen, for the pending limit
	starts    int
	// failedStarts counts first starts that failed, retried before the revision fails.
	failedStarts int
	closed       bool

	stopping chan struct{} // closed by close
	wg       sync.WaitGroup
	reaps    atomic.Int64 // reaper passes, for tests to wait on
	// closing is closed without the lock, for front doors to skip a retiring pool
	closing atomic.Bool
	// drained is closed when the last in-flight request of a closed pool ends
	drained chan struct{}
}

type poolConfig struct {
	region, namespace, service, revision string
	spec                                 api.RevisionSpec
	annotations                          map[string]string
	executable                           string
	engine                               *Engine // nil: no container engine
	log                                  io.Writer
	// output is where an instance's output goes, by stream (stdout, stderr; "" for
	// the runtime's lines about the revision); default: log.
	output  func(instance, stream string) io.Writer
	idle    time.Duration
	now     func() time.Time
	changed func() // readiness or instance count changed
}

type poolState int

const (
	poolStarting poolState = iota // the first instance is starting
	poolReady                     // an instance has listened: the revision can serve
	poolFailed                    // the first instance could not start: the revision cannot run
)

// member is one instance: its ID, the instance once started, and a channel that stops
// it.
type member struct {
	id       string
	inst     instance
	stop     chan struct{}
	stopOnce sync.Once
}

func (m *member) halt() { m.stopOnce.Do(func() { close(m.stop) }) }

// stopContext is a context that ends when the member is halted, and a function to
// release it.
func (m *member) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-m.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

type waiter struct{ ch chan grant }

type grant struct {
	m   *member
	err error
}

// Errors a request can meet before reaching an instance; errorHandler maps them to the
// statuses Cloud Run answers with.
var (
	errNoInstance = errors.New("The request was aborted because there was no available instance.")
	errPoolClosed = errors.New("The revision is being stopped.")
)

type revisionFailedError struct{ msg string }

func (e *revisionFailedError) Error() string { return e.msg }

func newPool(cfg poolConfig) *pool {
	rs := cfg.spec
	p := &pool{cfg: cfg, concurrency: api.DefaultContainerConcurrency, timeout: api.DefaultTimeoutSeconds * time.Second, stopping: make(chan struct{})}
	if rs.ContainerConcurrency != nil && *rs.ContainerConcurrency > 0 {
		p.concurrency = int(*rs.ContainerConcurrency)
	} else if rs.ContainerConcurrency != nil {
		p.concurrency = 1000 // 0 is Knative's "no limit"; Cloud Run's largest is 1000
	}
	if rs.TimeoutSeconds != nil && *rs.TimeoutSeconds > 0 {
		p.timeout = time.Duration(*rs.TimeoutSeconds) * time.Second
	}
	p.minScale, p.maxScale = api.Scale(cfg.annotations)
	h2c := false
	if c := rs.Containers; len(c) == 1 && len(c[0].Ports) == 1 && c[0].Ports[0].Name == "h2c" {
		h2c = true
	}
	p.transport = instanceTransport(h2c)
	p.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      p,
		ModifyResponse: privateWhenSettingCookies,
		ErrorHandler:   errorHandler,
		ErrorLog:       nil,
	}
	p.mu.Lock()
	// Start minScale instances, and at least one to learn whether the revision runs.
	for range max(p.minScale, 1) {
		p.startLocked()
	}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.reap()
	return p
}

// serve proxies one request to an instance under the revision's request timeout.
func (p *pool) serve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	p.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite keeps what the load balancer set: Host and the X-Forwarded-* headers pass to
// the container unchanged, as Cloud Run passes them.
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "instance" // RoundTrip sets the instance
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// privateWhenSettingCookies does what Cloud Run does: a response that sets a cookie is
// marked private, so no shared cache stores it.
func privateWhenSettingCookies(resp *http.Response) error {
	if len(resp.Header["Set-Cookie"]) > 0 {
		resp.Header.Set("Cache-Control", "private")
	}
	return nil
}

func errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var failed *revisionFailedError
	switch {
	case errors.As(err, &failed):
		http.Error(w, failed.msg, http.StatusServiceUnavailable)
	case errors.Is(err, errNoInstance):
		http.Error(w, err.Error(), http.StatusTooManyRequests)
	case errors.Is(err, errPoolClosed):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case errors.Is(r.Context().Err(), context.DeadlineExceeded):
		http.Error(w, "upstream request timeout", http.StatusGatewayTimeout)
	case r.Context().Err() != nil:
		// The client went away; nobody reads this.
		w.WriteHeader(499)
	default:
		http.Error(w, "upstream connect error or disconnect/reset before headers: "+err.Error(), http.StatusBadGateway)
	}
}

// RoundTrip sends the request to an instance with a free slot, holding it while the pool
// scales up. A connection refused by an instance (it died) evicts the instance and
// tries another, as long as nothing of the body was sent.
func (p *pool) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *trackedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &trackedBody{rc: req.Body}
	}
	for attempt := 0; ; attempt++ {
		m, err := p.acquire(req.Context())
		if err != nil {
			return nil, err
		}
		out, u := *req, *req.URL
		u.Host = m.inst.address()
		out.URL = &u
		if body != nil {
			out.Body = body
		}
		resp, err := p.transport.RoundTrip(&out)
		if err != nil {
			p.release(m)
			// A refused connection means the instance is gone: evict it and try another.
			if errors.Is(err, syscall.ECONNREFUSED) && (body == nil || !body.read) && attempt < 3 {
				p.evict(m)
				continue
			}
			return nil, err
		}
		if resp.StatusCode == http.StatusSwitchingProtocols && !upgradeMatches(req, resp) {
			// ReverseProxy would refuse it without closing the body; refuse it here so
			// the slot comes back.
			resp.Body.Close()
			p.release(m)
			return nil, fmt.Errorf("the container switched protocols to %q, which the request did not ask for", resp.Header.Get("Upgrade"))
		}
		resp.Body = releaseOnClose(resp.Body, func() { p.release(m) })
		return resp, nil
	}
}

// upgradeMatches reports whether a 101 response switches to the protocol the request
// asked for.
func upgradeMatches(req *http.Request, resp *http.Response) bool {
	want := req.Header.Get("Upgrade")
	return want != "" && strings.EqualFold(want, resp.Header.Get("Upgrade"))
}

// acquire returns an instance with a slot reserved for the caller, who must release it.
func (p *pool) acquire(ctx context.Context) (*member, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	if p.state == poolFailed {
		p.mu.Unlock()
		return nil, &revisionFailedError{p.failure}
	}
	if i := pick(p.loads, p.concurrency); i >= 0 {
		p.loads[i].inflight++
		m := p.members[i]
		p.mu.Unlock()
		return m, nil
	}
	w := &waiter{ch: make(chan grant, 1)}
	p.waiters = append(p.waiters, w)
	p.scaleUpLocked()
	limit := p.pendingLimitLocked()
	p.mu.Unlock()

	timer := time.NewTimer(limit)
	defer timer.Stop()
	var err error
	select {
	case g := <-w.ch:
		return g.m, g.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = errNoInstance
	}
	p.mu.Lock()
	for i, o := range p.waiters {
		if o == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return nil, err
		}
	}
	p.mu.Unlock()
	// A grant raced the give-up: hand its slot back.
	if g := <-w.ch; g.m != nil {
		p.release(g.m)
	}
	return nil, err
}

// pendingLimitLocked is how long a request waits for an instance: Cloud Run's
// max(3.5 × mean startup time, 10 s).
func (p *pool) pendingLimitLocked() time.Duration {
	limit := 10 * time.Second
	if p.starts > 0 {
		limit = max(limit, p.startTime*7/2)
	}
	return limit
}

func (p *pool) release(m *member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.indexLocked(m); i >= 0 {
		p.loads[i].inflight--
		p.loads[i].lastActive = p.cfg.now()
		p.dispatchLocked()
	}
	if p.drained != nil && p.inflightLocked() == 0 {
		close(p.drained)
		p.drained = nil
	}
}

// dispatchLocked hands free slots to waiting requests in arrival order.
func (p *pool) dispatchLocked() {
	for len(p.waiters) > 0 {
		i := pick(p.loads, p.concurrency)
		if i < 0 {
			return
		}
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.loads[i].inflight++
		w.ch <- grant{m: p.members[i]}
	}
}

// failWaitersLocked answers every waiting request with err.
func (p *pool) failWaitersLocked(err error) {
	for _, w := range p.waiters {
		w.ch <- grant{err: err}
	}
	p.waiters = nil
}

func (p *pool) scaleUpLocked() {
	for range toStart(p.loads, len(p.waiters), p.concurrency, p.minScale, p.maxScale) {
		p.startLocked()
	}
}

func (p *pool) indexLocked(m *member) int {
	for i, o := range p.members {
		if o == m {
			return i
		}
	}
	return -1
}

func (p *pool) removeLocked(m *member) bool {
	i := p.indexLocked(m)
	if i < 0 {
		return false
	}
	p.members = append(p.members[:i], p.members[i+1:]...)
	p.loads = append(p.loads[:i], p.loads[i+1:]...)
	m.halt()
	return true
}

// evict removes an instance that refused a connection.
func (p *pool) evict(m *member) {
	p.mu.Lock()
	removed := p.removeLocked(m)
	if removed && len(p.waiters) > 0 {
		p.scaleUpLocked()
	}
	p.mu.Unlock()
	if removed {
		p.cfg.changed()
	}
}

// startLocked adds a starting instance; its goroutine starts the process and owns it.
func (p *pool) startLocked() {
	if p.closed {
		return
	}
	m := &member{id: newInstanceID(), stop: make(chan struct{})}
	p.members = append(p.members, m)
	p.loads = append(p.loads, load{})
	p.wg.Add(1)
	go p.run(m)
}

// run starts one instance, makes it available once it passes its startup and
// readiness probes, probes it while it runs, and stops it when it is halted; an instance
// that exits on its own, or fails its liveness probe, is replaced as demand needs.
func (p *pool) run(m *member) {
	defer p.wg.Done()
	began := time.Now()
	c := p.cfg.spec.Containers[0]
	port := containerPort(c)
	ctx, cancel := m.stopContext()
	inst, err := startInstance(ctx, containerSpec{
		id: m.id, service: p.cfg.service, revision: p.cfg.revision, region: p.cfg.region, container: c,
		executable: p.cfg.executable, engine: p.cfg.engine, stdout: p.output(m.id, "stdout"), stderr: p.output(m.id, "stderr"),
	})
	cancel()
	if err == nil {
		p.mu.Lock()
		m.inst = inst
		p.mu.Unlock()
		if err = waitStarted(inst, c.StartupProbe, port, m.stop); err == nil && c.ReadinessProbe != nil {
			err = p.waitReady(m, inst, c.ReadinessProbe, port)
		}
		if err != nil {
			inst.stop()
		}
	}
	if err != nil {
		p.startFailed(m, err)
		return
	}
	p.mu.Lock()
	select {
	case <-m.stop: // halted while it started (the pool closed or the revision failed)
		p.removeLocked(m)
		p.mu.Unlock()
		inst.stop()
		return
	default:
	}
	if i := p.indexLocked(m); i >= 0 {
		p.loads[i].ready, p.loads[i].lastActive = true, p.cfg.now()
		p.startTime = (p.startTime*time.Duration(p.starts) + time.Since(began)) / time.Duration(p.starts+1)
		p.starts++
		p.state, p.waiting = poolReady, ""
		p.dispatchLocked()
	}
	p.mu.Unlock()
	p.logf("instance %s listening on %s", m.id, inst.address())
	p.cfg.changed()
	p.watch(m, inst, c, port)
}

// watch runs the instance's readiness and liveness probes until it is halted or exits.
func (p *pool) watch(m *member, inst instance, c api.Container, port int64) {
	var readiness, liveness *api.Probe
	var readyTick, liveTick <-chan time.Time
	var ready, alive probeCounter
	if c.ReadinessProbe != nil {
		pr := c.ReadinessProbe.WithDefaults()
		readiness, ready = &pr, probeCounter{success: pr.SuccessThreshold, failure: pr.FailureThreshold, passing: true}
		t := time.NewTicker(time.Duration(pr.PeriodSeconds) * time.Second)
		defer t.Stop()
		readyTick = t.C
	}
	if c.LivenessProbe != nil {
		pr := c.LivenessProbe.WithDefaults()
		liveness, alive = &pr, probeCounter{success: 1, failure: pr.FailureThreshold, passing: true}
		t := time.NewTicker(time.Duration(pr.PeriodSeconds) * time.Second)
		defer t.Stop()
		liveTick = t.C
	}
	ctx, cancel := m.stopContext()
	defer cancel()
	for {
		select {
		case <-m.stop:
			p.mu.Lock()
			p.removeLocked(m)
			p.mu.Unlock()
			inst.stop()
			return
		case <-inst.done():
			p.logf("instance %s exited (%s); replacing it as needed", m.id, inst.exitReport())
			p.drop(m)
			return
		case <-readyTick:
			err := check(ctx, probeTarget(inst, readiness, port), readiness)
			if ready.observe(err == nil) {
				if err != nil {
					p.logf("instance %s is not ready: the readiness probe failed %d times (%v)", m.id, readiness.FailureThreshold, err)
				} else {
					p.logf("instance %s is ready again", m.id)
				}
				p.setReady(m, ready.passing)
			}
		case <-liveTick:
			err := check(ctx, probeTarget(inst, liveness, port), liveness)
			if alive.observe(err == nil) && !alive.passing {
				p.logf("instance %s failed its liveness probe %d times (%v); restarting it", m.id, liveness.FailureThreshold, err)
				p.drop(m)
				inst.stop()
				return
			}
		}
	}
}

// waitReady probes a started instance's readiness until it passes (successThreshold
// successes in a row), noting for the revision's status why it is not ready yet. It
// fails when the instance exits, is halted, or does not pass within the startup limit.
func (p *pool) waitReady(m *member, inst instance, probe *api.Probe, port int64) error {
	pr := probe.WithDefaults()
	counter := probeCounter{success: pr.SuccessThreshold, failure: 1}
	ctx, cancel := m.stopContext()
	defer cancel()
	deadline := time.NewTimer(startupLimit)
	defer deadline.Stop()
	wait := time.Duration(pr.InitialDelaySeconds) * time.Second
	var last error
	for {
		t := time.NewTimer(wait)
		select {
		case <-inst.done():
			t.Stop()
			return fmt.Errorf("The user-provided container exited before it passed its readiness probe (%s).", inst.exitReport())
		case <-m.stop:
			t.Stop()
			return fmt.Errorf("the revision is being stopped")
		case <-deadline.C:
			t.Stop()
			return fmt.Errorf("The user-provided container did not pass its readiness probe within %s (last: %v).", startupLimit, last)
		case <-t.C:
		}
		wait = time.Duration(pr.PeriodSeconds) * time.Second
		last = check(ctx, probeTarget(inst, &pr, port), &pr)
		if counter.observe(last == nil) && counter.passing {
			return nil
		}
		if last != nil {
			p.mu.Lock()
			if p.state == poolStarting {
				p.waiting = "Waiting for the readiness probe: " + last.Error()
			}
			p.mu.Unlock()
			p.cfg.changed()
		}
	}
}

// setReady takes an instance out of the routable ones, or puts it back.
func (p *pool) setReady(m *member, ready bool) {
	p.mu.Lock()
	if i := p.indexLocked(m); i >= 0 {
		p.loads[i].ready = ready
		if ready {
			p.dispatchLocked()
		}
	}
	p.mu.Unlock()
	p.cfg.changed()
}

// drop removes an instance that ended (it exited, or failed its liveness probe) and
// starts another if requests wait; minScale is restored by the reaper.
func (p *pool) drop(m *member) {
	p.mu.Lock()
	p.removeLocked(m)
	if len(p.waiters) > 0 {
		p.scaleUpLocked()
	}
	p.mu.Unlock()
	p.cfg.changed()
}

// output is where an instance's output goes.
func (p *pool) output(id, stream string) io.Writer {
	if p.cfg.output != nil {
		return p.cfg.output(id, stream)
	}
	return p.cfg.log
}

// logf writes a line about the revision to the service's log, which the runtime's log
// mirrors (or, without one, to the runtime's log).
func (p *pool) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.cfg.output != nil {
		io.WriteString(p.cfg.output("", ""), msg+"\n")
		return
	}
	fmt.Fprintf(p.cfg.log, "runtime: %s/%s revision %s: %s\n", p.cfg.region, p.cfg.service, p.cfg.revision, msg)
}

func (p *pool) startFailed(m *member, err error) {
	p.mu.Lock()
	p.removeLocked(m)
	closed := p.closed
	var permanent *imageError
	var probe *startupProbeError
	reason := "ContainerMissing"
	switch {
	case errors.As(err, &permanent):
		reason = permanent.reason
	case errors.As(err, &probe):
		reason = "HealthCheckContainerError"
	}
	if p.state == poolStarting && !p.closed && permanent == nil && p.failedStarts < 2 {
		// A first start can fail for a passing reason (its port taken between choosing
		// and listening); try twice more before declaring the revision failed.
		p.failedStarts++
		p.startLocked()
	} else if p.state == poolStarting && !p.closed {
		// The revision never ran: it cannot serve until a new revision replaces it.
		p.state, p.failure, p.reason = poolFailed, err.Error(), reason
		for _, o := range p.members {
			o.halt()
		}
		p.failWaitersLocked(&revisionFailedError{p.failure})
	}
	// A revision that ran before is started again by the reaper (at most a second
	// later) while requests wait, up to their pending limit.
	p.mu.Unlock()
	if !closed {
		p.logf("%v", err)
	}
	p.cfg.changed()
}

// reap stops instances idle for the idle period, down to minScale, and restores
// minScale after crashes.
func (p *pool) reap() {
	defer p.wg.Done()
	tick := time.NewTicker(min(max(p.cfg.idle/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.stopping:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		var victims []*member
		for _, i := range idleVictims(p.loads, p.cfg.now(), p.cfg.idle, p.minScale) {
			victims = append(victims, p.members[i])
		}
		for _, m := range victims {
			p.removeLocked(m)
		}
		if p.state == poolReady && !p.closed {
			p.scaleUpLocked()
		}
		p.mu.Unlock()
		if len(victims) > 0 {
			p.cfg.changed()
		}
		p.reaps.Add(1)
	}
}

// poolStatus is what the runtime reports of a pool.
type poolStatus struct {
	state                    poolState
	failure, reason, waiting string
	ready, instances         int
}

func (p *pool) status() poolStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := poolStatus{state: p.state, failure: p.failure, reason: p.reason, waiting: p.waiting, instances: len(p.members)}
	for _, l := range p.loads {
		if l.ready {
			s.ready++
		}
	}
	return s
}

// close retires the pool: it takes no new requests, lets those in flight finish (up to
// drainFor: the request timeout when a revision stops taking traffic, as Cloud Run
// does, the shutdown grace when the runtime stops), then stops every instance (SIGTERM,
// then SIGKILL after the grace period). It returns when all are gone.
func (p *pool) close(drainFor time.Duration) {
	p.mu.Lock()
	p.closed = true
	p.closing.Store(true)
	p.failWaitersLocked(errPoolClosed)
	var drained chan struct{}
	if p.inflightLocked() > 0 {
		drained = make(chan struct{})
		p.drained = drained
	}
	p.mu.Unlock()
	if drained != nil {
		t := time.NewTimer(drainFor)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
	}
	p.mu.Lock()
	for _, m := range p.members {
		m.halt()
	}
	p.mu.Unlock()
	close(p.stopping)
	p.wg.Wait()
	p.transport.CloseIdleConnections()
}

func (p *pool) inflightLocked() int {
	n := 0
	for _, l := range p.loads {
		n += l.inflight
	}
	return n
}

// trackedBody passes a request body to an instance and remembers whether any of it was
// read, which decides whether the request can go to another instance. Closing is left
// to the server that owns the body.
type trackedBody struct {
	rc   io.ReadCloser
	read bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	b.read = true
	return b.rc.Read(p)
}

func (b *trackedBody) Close() error { return nil }

// releaseOnClose calls release once when the response body is closed. A 101 Switching
// Protocols body is also writable, and stays so (ReverseProxy needs that to tunnel).
func releaseOnClose(body io.ReadCloser, release func()) io.ReadCloser {
	rb := releasingBody{ReadCloser: body, once: new(sync.Once), release: release}
	if rw, ok := body.(io.ReadWriteCloser); ok {
		return releasingRWBody{releasingBody: rb, w: rw}
	}
	return rb
}

type releasingBody struct {
	io.ReadCloser
	once    *sync.Once
	release func()
}

func (b releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

type releasingRWBody struct {
	releasingBody
	w io.Writer
}

func (b releasingRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }
