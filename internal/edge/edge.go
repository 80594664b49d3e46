// Package edge is one point of presence: it watches the store, compiles a snapshot of
// the configuration on every change, swaps it in atomically, and keeps one listener per
// forwarding rule running (HTTP, or HTTPS with SNI certificate selection and HTTP/2).
// Requests are routed with the URL map of the current snapshot, so a change applies to
// the next request without restarting listeners; a listener starts or stops only when a
// forwarding rule appears or goes, and stops gracefully.
package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meridian/api"
	"meridian/internal/armor"
	"meridian/internal/cdn"
	"meridian/internal/cdn/storage"
	"meridian/internal/certs"
	"meridian/internal/cluster"
	"meridian/internal/geo"
	"meridian/internal/health"
	"meridian/internal/lb"
	"meridian/internal/observe"
	"meridian/internal/snapshot"
	"meridian/internal/store"
)

// Config configures an edge.
type Config struct {
	Location string
	// PortMap maps a configured port to the port actually listened on, so that the
	// seed's --ports=443 runs unprivileged (443 → 8443).
	PortMap map[int]int
	// ListenAddress, when set, is where every forwarding rule is served instead of on
	// its own IP address: an edge host with an address of its own, which clients reach
	// by DNS rather than anycast. Two rules on one port then cannot both be served.
	ListenAddress string
	Log           io.Writer
	// RequestLog receives one entry per request; nil discards them.
	RequestLog *observe.RequestLog
	// Locations adds named coordinates to the built-in table of regions and metros,
	// for an edge or region placed somewhere the table does not know.
	Locations map[string]geo.Point
	// ProbeInterval is how often the edge measures the round trip to each region's
	// service (default 2 s).
	ProbeInterval time.Duration
	// ProbeTimeout fails a round-trip probe that takes longer (default 2 s: no region
	// is this far, and a host that died answers nothing).
	ProbeTimeout time.Duration
	// Now is the clock of the balancer and the cache (time.Now when nil).
	Now func() time.Time
	// Metrics counts requests and cache outcomes; nil counts nothing.
	Metrics *observe.Metrics
	// CacheSize is the memory tier's byte budget for CDN-enabled backend services
	// (default 256 MiB).
	CacheSize uint64
	// CacheDir, when set, holds the cache's disk tier of CacheDirSize bytes (default
	// 10 GiB): every stored entry is written there, and it outlives restarts.
	CacheDir     string
	CacheDirSize uint64
	// PeerListen is the address the edge answers other edges' cache fills on
	// (cache-to-cache fill); "" leaves the edge out of the cache group.
	PeerListen string
	// Parent is the peer URL (another edge's --peer-listen) of the parent tier: misses
	// the cache group cannot answer are asked there before the origin.
	Parent string
	// ClientRegions gives client addresses their country, for security policies'
	// origin.region_code and the {client_region} header variable (nil: unknown).
	ClientRegions *geo.ClientRegions
	// RequestHeaderTimeout bounds the arrival of a request's header block: from the
	// connection's accept for its first request (TLS handshake included), from its
	// first byte for later ones (default 10 s, Envoy's edge guidance). Between
	// requests a connection may idle for its target proxy's httpKeepAliveTimeoutSec.
	RequestHeaderTimeout time.Duration
	// MaxConnsPerClient bounds the open connections of one client address across the
	// edge's TCP listeners; more are closed as they are accepted (default 256;
	// negative: no bound).
	MaxConnsPerClient int
}

// Defaults of the edge's protections.
const (
	DefaultRequestHeaderTimeout = 10 * time.Second
	DefaultMaxConnsPerClient    = 256
)

// Edge serves the forwarding rules of the store it watches.
type Edge struct {
	store *store.Store
	cfg   Config
	snap  atomic.Pointer[snapshot.Snapshot]
	proxy *proxy
	lb    *lb.Balancer
	// cache serves CDN-enabled backend services
	cache *cdn.Cache
	// probes measure the round trip to every region's service, for lb, and run health
	// checks, whose verdicts checks keeps
	probes *health.Prober
	checks checkStates

	// where the edge is, for the distance prior of each region
	locations *geo.Table
	where     geo.Point
	located   bool

	// the deployment's edges (internal/cluster): this edge's membership, the cache
	// group's members, its acknowledgements and reports; and where it serves peers
	group   *cluster.Group
	peerURL string

	// limits are the security policies' rate limit counters, kept across
	// configuration changes
	limits *armor.Limits
	// clients counts open connections per client address
	clients *clientConns

	// config is the copy of etcd's resources and endpoints the snapshot is compiled from
	config configCopy
	// challenges are the ACME challenge answers the edge serves
	challenges atomic.Pointer[challengeSet]

	mu        sync.Mutex // guards listeners
	listeners map[string]*listener
	draining  sync.WaitGroup // listeners shutting down
}

// New creates an edge; Run starts it.
func New(st *store.Store, cfg Config) *Edge {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = rttProbeTimeout
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 2 * time.Second
	}
	if cfg.RequestHeaderTimeout <= 0 {
		cfg.RequestHeaderTimeout = DefaultRequestHeaderTimeout
	}
	if cfg.MaxConnsPerClient == 0 {
		cfg.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	e := &Edge{store: st, cfg: cfg, listeners: map[string]*listener{}, lb: lb.New(cfg.Now), locations: geo.NewTable(),
		group: cluster.New(st, cluster.NewID(cfg.Location)), limits: armor.NewLimits(),
		clients: newClientConns(cfg.MaxConnsPerClient, cfg.Metrics)}
	for name, p := range cfg.Locations {
		if err := e.locations.Add(name, p); err != nil {
			fmt.Fprintf(cfg.Log, "edge: location %s: %v\n", name, err)
		}
	}
	e.where, e.located = e.locations.Lookup(cfg.Location)
	e.probes = health.NewProber(e.probed)
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 256 << 20
		e.cfg.CacheSize = cfg.CacheSize
	}
	if e.cfg.CacheDirSize == 0 {
		e.cfg.CacheDirSize = 10 << 30
	}
	e.cache = cdn.New(cacheID(cfg.Location), cfg.CacheSize, cfg.Now)
	e.snap.Store(snapshot.Compile(0, nil, nil))
	e.proxy = newProxy(e)
	return e
}

// Snapshot returns the configuration being served.
func (e *Edge) Snapshot() *snapshot.Snapshot { return e.snap.Load() }

// Run loads the configuration, serves it, and follows changes until ctx is done; then
// it closes every listener gracefully. The last good configuration keeps being served
// while etcd is unreachable.
func (e *Edge) Run(ctx context.Context, ready func()) error {
	if e.cfg.CacheDir != "" {
		d, err := storage.OpenDisk(e.cfg.CacheDir, e.cfg.CacheDirSize)
		if err != nil {
			return fmt.Errorf("edge: %w", err)
		}
		e.cache.Store().UseDisk(d)
		if err := e.resumeDisk(ctx); err != nil {
			return err
		}
	}
	rev, err := e.reload(ctx)
	if err != nil {
		return err
	}
	if e.cfg.PeerListen != "" {
		ln, err := net.Listen("tcp", e.cfg.PeerListen)
		if err != nil {
			return fmt.Errorf("edge: cache peer listener: %w", err)
		}
		e.peerURL = "http://" + ln.Addr().String()
		peers := &http.Server{Handler: e.proxy.peerHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(e.cfg.Log, "edge: peers: ", 0)}
		served := make(chan struct{})
		go func() {
			defer close(served)
			peers.Serve(ln)
		}()
		defer func() { peers.Close(); <-served }()
		fmt.Fprintf(e.cfg.Log, "edge: serving cache peers on %s\n", ln.Addr())
	}
	if err := e.group.Join(ctx, e.cfg.Location, e.peerURL); err != nil {
		return err
	}
	defer e.group.Leave()
	if e.cache.Store().Disk() != nil {
		// What the disk kept gets the rules written since resumeDisk read them.
		if _, err := e.catchUp(ctx); err != nil {
			return err
		}
	}
	// Otherwise the cache starts empty: rules written before now have nothing to remove.
	e.cache.SetGeneration(rev)
	e.ack(ctx, rev)
	e.group.Load(ctx)
	ack := func(rev int64) { e.ack(ctx, rev) }
	reportCtx, stopReports := context.WithCancel(ctx)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		e.reportHealth(reportCtx)
	}()
	defer func() { stopReports(); <-reported }()
	if ready != nil {
		ready()
	}
	defer e.proxy.close()
	defer e.cache.Close()
	defer e.closeAll()
	defer e.probes.Close()
	for {
		e.follow(ctx, rev, ack)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second): // the watch broke (etcd away, history compacted)
		}
		// Start again from a full read, so nothing that happened meanwhile is missed.
		if r, err := e.reload(ctx); err == nil {
			rev = r
			if cr, err := e.catchUp(ctx); err == nil {
				ack(cr)
			}
			e.group.Load(ctx)
		} else {
			fmt.Fprintf(e.cfg.Log, "edge: etcd unreachable, serving the last configuration: %v\n", err)
		}
	}
}

// follow applies every change of resources or service endpoints after rev, and
// applies and acknowledges invalidation rules, until the watch ends.
func (e *Edge) follow(ctx context.Context, rev int64, ack func(int64)) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range e.store.Watch(wctx, "", rev+1) {
		configChanged, challengesChanged := e.config.update(b.Events)
		if challengesChanged {
			e.challenges.Store(challengesOf(e.config.acme))
		}
		// An acknowledgement says the edge applies everything up to the revision: the
		// API waits for it before an invalidation is DONE, and an ACME issuer before it
		// asks for validation.
		if e.invalidations(b.Events) || challengesChanged {
			ack(b.Revision)
		}
		if cluster.Touched(b.Events) {
			e.group.Load(ctx)
		}
		if configChanged {
			e.apply(b.Revision)
		}
	}
}

// reload reads every resource and service endpoint, and applies them. It returns the
// store revision it read.
func (e *Edge) reload(ctx context.Context) (int64, error) {
	lists, rev, err := e.store.ListPrefixes(ctx, api.ResourcesPrefix, api.EndpointsPrefix, certs.ChallengesPrefix)
	if err != nil {
		return 0, err
	}
	e.config.reset(lists)
	e.challenges.Store(challengesOf(e.config.acme))
	e.apply(rev)
	return rev, nil
}

// apply compiles the configuration as of rev into a snapshot, swaps it in and
// reconciles the listeners.
func (e *Edge) apply(rev int64) {
	snap := snapshot.Compile(rev, e.config.res, e.config.endpoints())
	for _, p := range snap.Problems {
		fmt.Fprintf(e.cfg.Log, "edge: %s\n", p)
	}
	e.snap.Store(snap)
	e.limits.Retain(slices.Collect(maps.Values(snap.Policies)))
	e.reconcile(snap)
	e.follows(snap)
}

// configCopy is the edge's copy of the resources and service endpoints in etcd: read
// whole at start and after a broken watch, then kept current by the watch's events, so
// that a change compiles a snapshot without reading etcd again (an edge far from
// etcd serves a change one way's latency after it is written, not a round trip more).
// Only the goroutine that runs the edge touches it.
type configCopy struct {
	res  map[string][]byte // resources, by relative path
	eps  map[string][]byte // service endpoints, by key after api.EndpointsPrefix
	acme map[string][]byte // ACME challenge answers, by key after certs.ChallengesPrefix
}

func (c *configCopy) reset(lists [][]store.KV) {
	c.res, c.eps, c.acme = map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	for i, prefix := range []string{api.ResourcesPrefix, api.EndpointsPrefix, certs.ChallengesPrefix} {
		m := c.maps()[i]
		for _, kv := range lists[i] {
			m[strings.TrimPrefix(kv.Key, prefix)] = kv.Value
		}
	}
}

func (c *configCopy) maps() []map[string][]byte { return []map[string][]byte{c.res, c.eps, c.acme} }

// update applies a watch's events and reports whether any touched a resource or an
// endpoint, and whether any touched a challenge answer.
func (c *configCopy) update(events []store.Event) (config, challenges bool) {
	for _, ev := range events {
		key := ev.Key
		var m map[string][]byte
		switch {
		case strings.HasPrefix(key, api.ResourcesPrefix):
			m, key, config = c.res, strings.TrimPrefix(key, api.ResourcesPrefix), true
		case strings.HasPrefix(key, api.EndpointsPrefix):
			m, key, config = c.eps, strings.TrimPrefix(key, api.EndpointsPrefix), true
		case strings.HasPrefix(key, certs.ChallengesPrefix):
			m, key, challenges = c.acme, strings.TrimPrefix(key, certs.ChallengesPrefix), true
		default:
			continue
		}
		if ev.Deleted {
			delete(m, key)
		} else {
			m[key] = ev.Value
		}
	}
	return config, challenges
}

// endpoints decodes the service endpoints the region runtimes publish.
func (c *configCopy) endpoints() snapshot.ServiceEndpoints {
	out := snapshot.ServiceEndpoints{}
	for k, v := range c.eps {
		region, namespace, name, ok := api.ParseEndpointKey(api.EndpointsPrefix + k)
		if !ok {
			continue
		}
		key := region + "/" + namespace + "/" + name
		var ep struct {
			URL     string            `json:"url"`
			Tags    map[string]string `json:"tags"`
			Healthy bool              `json:"healthy"`
		}
		if json.Unmarshal(v, &ep) == nil {
			out[key] = snapshot.ServiceEndpoint{URL: ep.URL, Tags: ep.Tags, Healthy: ep.Healthy}
		}
	}
	return out
}

// listenAddress applies the listen address and the port map to a configured address.
func (e *Edge) listenAddress(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if e.cfg.ListenAddress != "" {
		host = e.cfg.ListenAddress
	}
	p, _ := strconv.Atoi(port)
	if mapped, ok := e.cfg.PortMap[p]; ok {
		port = strconv.Itoa(mapped)
	}
	return net.JoinHostPort(host, port)
}

// reconcile starts listeners for new forwarding rules, drains those whose rule is gone,
// and replaces those whose protocol or keep-alive changed: the new listener binds the
// same port beside the old one (SO_REUSEPORT) before the old one drains, so the address
// never refuses connections.
func (e *Edge) reconcile(snap *snapshot.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for addr, l := range e.listeners {
		want, ok := snap.Listeners[addr]
		switch {
		case !ok:
			e.retire(l)
			delete(e.listeners, addr)
		case want.HTTPS != l.https || want.KeepAlive != l.keepAlive:
			nl, err := e.startListener(addr, want.HTTPS, want.KeepAlive, l.port())
			if err != nil {
				fmt.Fprintf(e.cfg.Log, "edge: forwarding rule %s: keeping the old listener: %v\n", want.ForwardingRule, err)
				continue
			}
			e.retire(l)
			e.listeners[addr] = nl
		}
	}
	boundBy := map[string]string{} // listened-on address → the rule address it serves
	for addr := range e.listeners {
		boundBy[e.listenAddress(addr)] = addr
	}
	// In address order, so which of two colliding rules is served does not vary.
	for _, addr := range slices.Sorted(maps.Keys(snap.Listeners)) {
		want := snap.Listeners[addr]
		if _, ok := e.listeners[addr]; ok {
			continue
		}
		if other, taken := boundBy[e.listenAddress(addr)]; taken {
			fmt.Fprintf(e.cfg.Log, "edge: forwarding rule %s: not served: %s is already served here for %s (--listen-address puts every rule on one address)\n", want.ForwardingRule, e.listenAddress(addr), other)
			continue
		}
		l, err := e.startListener(addr, want.HTTPS, want.KeepAlive, 0)
		if err != nil {
			fmt.Fprintf(e.cfg.Log, "edge: forwarding rule %s: %v\n", want.ForwardingRule, err)
			continue
		}
		e.listeners[addr] = l
		boundBy[e.listenAddress(addr)] = addr
	}
	for addr, l := range e.listeners {
		if l.https {
			e.syncQUIC(l, quicWanted(snap.Listeners[addr]))
		}
	}
}

// retire drains a listener in the background; closeAll waits for it.
func (e *Edge) retire(l *listener) {
	e.draining.Add(1)
	go func() {
		defer e.draining.Done()
		l.shutdown()
	}()
}

func (e *Edge) closeAll() {
	e.mu.Lock()
	for addr, l := range e.listeners {
		e.retire(l)
		delete(e.listeners, addr)
	}
	e.mu.Unlock()
	e.draining.Wait()
}

// ListenAddresses reports the addresses the edge listens on, by configured address.
func (e *Edge) ListenAddresses() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	for addr, l := range e.listeners {
		out[addr] = l.ln.Addr().String()
	}
	return out
}

// listener is one running server.
type listener struct {
	addr      string // configured address: the key into the snapshot
	https     bool
	keepAlive time.Duration
	ln        net.Listener
	srv       *http.Server
	fast      *h1Server // HTTP/1.1 (plain or over TLS): serves cache hits below net/http
	done      chan struct{}
	// quic serves HTTP/3 beside an HTTPS listener (quic.go); altSvc advertises it.
	// Only reconcile, under Edge.mu, and shutdown touch quic.
	quic   *quicServer
	altSvc atomic.Pointer[string]
}

// port is the port the listener is bound to.
func (l *listener) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// shutdownGrace bounds how long a removed listener waits for in-flight requests.
const shutdownGrace = 10 * time.Second

// startListener listens on addr after the port map, or on port when it is not 0 (the
// port of a listener being replaced).
func (e *Edge) startListener(addr string, https bool, keepAlive time.Duration, port int) (*listener, error) {
	bind := e.listenAddress(addr)
	if port != 0 {
		host, _, _ := net.SplitHostPort(bind)
		bind = net.JoinHostPort(host, strconv.Itoa(port))
	}
	ln, err := (&net.ListenConfig{Control: reusePort}).Listen(context.Background(), "tcp", bind)
	if err != nil {
		return nil, err
	}
	l := &listener{addr: addr, https: https, keepAlive: keepAlive, ln: ln, done: make(chan struct{})}
	handler := e.proxy.handler(addr)
	if https {
		handler = advertiseQUIC(&l.altSvc, handler)
	}
	l.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: e.cfg.RequestHeaderTimeout,
		MaxHeaderBytes:    64 << 10,
		IdleTimeout:       keepAlive,
		// net/http has every connection from the fast path: HTTP/1.1 ones give their
		// place among their client's back when they close (replayConn.Close, also after
		// an upgrade took them over); HTTP/2 ones when net/http is done with them.
		ConnState: func(c net.Conn, st http.ConnState) {
			if _, replayed := c.(*replayConn); !replayed && st == http.StateClosed {
				e.clients.release(c.RemoteAddr())
			}
		},
		ErrorLog: log.New(e.cfg.Log, "edge: "+addr+": ", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if rc, ok := c.(*replayConn); ok {
				c = rc.Conn // handed over by the fast path
				if rc.routed != nil {
					ctx = withRouted(ctx, rc.routed) // for the request it routed
				}
				if rc.tls != nil {
					ctx = context.WithValue(ctx, tlsStateKey{}, rc.tls)
				}
			}
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	if https {
		l.srv.TLSConfig = &tls.Config{
			NextProtos:         []string{"h2", "http/1.1"},
			GetCertificate:     e.certificateFor(addr),
			GetConfigForClient: e.handshakeConfig(addr),
		}
	}
	idle := keepAlive
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	l.fast = &h1Server{addr: addr, ln: ln, handler: l.srv.Handler, idle: idle, readHeader: l.srv.ReadHeaderTimeout, conns: map[*h1Conn]bool{}, errLog: l.srv.ErrorLog,
		clients: e.clients, unrecorded: &e.proxy.unrecorded,
		classify: func(r *http.Request, h2 bool) (fastHit, fastVerdict, *routed) { return e.proxy.classify(r, addr, h2) },
		logHit:   e.proxy.logHit,
		handoff:  newHandoffListener(ln.Addr())}
	if https {
		l.fast.tlsConfig, l.fast.altSvcs = l.srv.TLSConfig, &l.altSvc
	}
	serveLn := l.fast.handoff
	go func() {
		defer close(l.done)
		var fastDone chan error
		if l.fast != nil {
			fastDone = make(chan error, 1)
			go func() { fastDone <- l.fast.serve() }()
		}
		if err := l.srv.Serve(serveLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(e.cfg.Log, "edge: listener %s: %v\n", addr, err)
		}
		if fastDone != nil {
			if err := <-fastDone; err != nil {
				fmt.Fprintf(e.cfg.Log, "edge: listener %s: %v\n", addr, err)
			}
		}
	}()
	fmt.Fprintf(e.cfg.Log, "edge: serving %s on %s\n", map[bool]string{true: "HTTPS", false: "HTTP"}[https], ln.Addr())
	return l, nil
}

func (l *listener) shutdown() {
	if l.quic != nil {
		l.quic.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if l.fast != nil {
		l.fast.shutdown(ctx) // first: it can still hand connections to net/http
	}
	if l.srv.Shutdown(ctx) != nil {
		l.srv.Close()
	}
	<-l.done
}

// certificateFor selects a certificate by SNI among the proxy's certificates of the
// current snapshot; a client without SNI (or with an unknown name) gets the first, as
// GCP does.
func (e *Edge) certificateFor(addr string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		l := e.snap.Load().Listeners[addr]
		if l == nil || len(l.Certificates) == 0 {
			return nil, fmt.Errorf("edge: no certificate for %s", addr)
		}
		name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
		for _, c := range l.Certificates {
			for _, n := range c.Names {
				if matchName(strings.ToLower(n), name) {
					return c.Cert, nil
				}
			}
		}
		return l.Certificates[0].Cert, nil
	}
}

// handshakeConfig gives each handshake the TLS settings of the listener's SSL policy
// in the current snapshot (session tickets stay the listener's: crypto/tls uses the
// base configuration's keys when the returned one sets none).
func (e *Edge) handshakeConfig(addr string) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	type built struct {
		policy *snapshot.Listener
		cfg    *tls.Config
	}
	var last atomic.Pointer[built]
	getCert := e.certificateFor(addr)
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if c := e.challenges.Load().alpnCertificate(hello); c != nil {
			// An ACME server validating the name (TLS-ALPN-01): only the challenge
			// certificate, only its protocol.
			return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{acmeTLSProto}, Certificates: []tls.Certificate{*c}}, nil
		}
		l := e.snap.Load().Listeners[addr]
		if l == nil {
			return nil, nil // the base configuration
		}
		if b := last.Load(); b != nil && b.policy == l {
			return b.cfg, nil
		}
		cfg := &tls.Config{
			MinVersion:     l.TLS.MinVersion,
			CipherSuites:   l.TLS.CipherSuites,
			NextProtos:     []string{"h2", "http/1.1"},
			GetCertificate: getCert,
		}
		last.Store(&built{l, cfg})
		return cfg, nil
	}
}

// matchName matches a certificate name, with a leading "*." wildcard for one label.
func matchName(pattern, name string) bool {
	if pattern == name {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		i := strings.IndexByte(name, '.')
		return i > 0 && name[i+1:] == rest
	}
	return false
}

// cacheID names the edge's cache as Cloud CDN names its caches ("SFO-fbae48ad"): the
// location in capitals and a random suffix.
func cacheID(location string) string {
	var b [4]byte
	rand.Read(b[:])
	return strings.ToUpper(location) + "-" + hex.EncodeToString(b[:])
}
