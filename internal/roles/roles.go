// Package roles runs Meridian's processes: `serve` (embedded etcd, the API, an edge and
// a runtime for every region on one machine), `api` (the API on an external etcd
// cluster), `edge` (one point of presence on an external etcd cluster) and `region` (one
// region's runtime on an external etcd cluster). Each role runs until its
// context is cancelled and then shuts down cleanly; cmd/meridian only parses flags and
// calls these.
package roles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"meridian/api"
	"meridian/internal/certs"
	"meridian/internal/controlplane"
	"meridian/internal/edge"
	"meridian/internal/geo"
	"meridian/internal/observe"
	"meridian/internal/runtime"
	"meridian/internal/store"
)

// storePrefix keeps Meridian's keys apart in a shared etcd cluster.
const storePrefix = "/meridian/"

// shutdownGrace bounds how long in-flight API requests may take after a stop signal.
const shutdownGrace = 5 * time.Second

// APIConfig configures the API server of both roles.
type APIConfig struct {
	Listen      string // host:port
	TokenFile   string // bearer token file; required off loopback
	AddressPool string // CIDR; empty for the default
	PublicURL   string // base of rendered links; empty: the address clients use
	// Ready is called once the API accepts connections, with its URL.
	Ready func(url string)
	Log   io.Writer
	// ACME, when its Directory is set, has MANAGED certificates ordered from that ACME
	// server instead of signed by the development CA.
	ACME certs.ACMEConfig
}

// issuer is the MANAGED certificate issuer the API runs beside it.
func (c APIConfig) issuer(st *store.Store) (*certs.Issuer, error) {
	is := &certs.Issuer{Store: st, Log: c.Log}
	if c.ACME.Directory != "" {
		if err := c.ACME.Validate(); err != nil {
			return nil, err
		}
		acme := c.ACME
		is.ACME = &acme
	}
	return is, nil
}

// ServeConfig configures `meridian serve`.
type ServeConfig struct {
	API        APIConfig
	Edge       EdgeConfig
	DataDir    string
	EtcdListen string // client address of the embedded etcd; port 0 picks one
	// IdleTimeout is how long the runtime keeps an idle instance (0: Cloud Run's 15 min).
	IdleTimeout time.Duration
	// ContainerEngine runs images that are not built in: auto, docker, podman or none.
	ContainerEngine string
}

// RegionConfig configures a standalone region runtime.
type RegionConfig struct {
	Region          string
	IdleTimeout     time.Duration
	ContainerEngine string // auto, docker, podman or none
	// Address is the IP address edges reach this host's services at (default
	// 127.0.0.1: edges on the same machine only).
	Address string
	Log     io.Writer
}

// EdgeConfig configures an edge.
type EdgeConfig struct {
	Location string
	// AdminListen, when set, serves Prometheus metrics at /metrics (host:port).
	AdminListen string
	// CacheSize is the CDN cache's byte budget (0: the default).
	CacheSize uint64
	// CacheDir and CacheDirSize configure the cache's disk tier (off without a dir).
	CacheDir     string
	CacheDirSize uint64
	// PeerListen is where the edge serves other edges' cache fills ("": it takes no
	// part in cache-to-cache fill).
	PeerListen string
	// Parent is the parent tier's peer URL ("": none).
	Parent string
	// ClientRegions is a file of "CIDR,COUNTRY" lines giving client addresses their
	// country (security policies' origin.region_code, {client_region}); "": none.
	ClientRegions string
	// RequestHeaderTimeout and MaxConnsPerClient are the edge's protections (0: the
	// defaults, 10 s and 256).
	RequestHeaderTimeout time.Duration
	MaxConnsPerClient    int
	// Locations adds named coordinates ("home-lab=52.37,4.90;office=40.71,-74.0") to the
	// built-in table of GCP regions and metros, for edges and regions placed elsewhere.
	Locations string
	// PortMap is the --port-map flag: "443:8443,80:8080".
	PortMap string
	// ListenAddress serves every forwarding rule on this address instead of its own
	// (an edge reached by DNS at an address of its own, rather than by anycast).
	ListenAddress string
	Log           io.Writer
	// RequestLog receives one JSON line per request that a backend service's logConfig
	// logs; nil discards them.
	RequestLog io.Writer
}

// Serve runs the embedded default: a single-node etcd in DataDir and the API.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if cfg.DataDir == "" {
		return errors.New("serve: --data-dir is required")
	}
	etcdListen := cfg.EtcdListen
	if etcdListen == "" {
		etcdListen = "127.0.0.1:0"
	}
	e, err := store.StartEmbedded(ctx, cfg.DataDir, etcdListen)
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Fprintf(logOf(cfg.API), "embedded etcd at %s (data in %s)\n", e.Endpoint, cfg.DataDir)
	st, err := store.Dial(store.Etcd{Endpoints: []string{e.Endpoint}}, storePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	edgeCfg, err := cfg.Edge.compile()
	if err != nil {
		return err
	}
	// The development CA's root goes beside the data, for curl --cacert (the demo
	// prints that line).
	issuer, err := cfg.API.issuer(st)
	if err != nil {
		return err
	}
	issuer.LegacyDir, issuer.RootFile = cfg.DataDir, certs.CAPath(cfg.DataDir)
	// The API, the edge and the certificate issuer run side by side; when one fails, the
	// others are stopped.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	background := func(run func(context.Context) error) chan error {
		done := make(chan error, 1)
		go func() {
			err := run(ctx)
			if err != nil {
				cancel()
			}
			done <- err
		}()
		return done
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("serve: locate the meridian binary for built-in images: %w", err)
	}
	edgeDone := background(func(ctx context.Context) error { return runEdge(ctx, st, edgeCfg, cfg.Edge) })
	// One runtime serves every region on this machine that no standalone region runtime
	// has claimed.
	engine, err := runtime.FindEngine(ctx, cfg.ContainerEngine)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	runtimeDone := background(runtime.New(st, runtime.Config{Executable: exe, IdleTimeout: cfg.IdleTimeout, Engine: engine, Log: cfg.API.Log}).Run)
	apiErr := runAPI(ctx, st, issuer, cfg.API)
	cancel()
	return errors.Join(apiErr, <-edgeDone, <-runtimeDone)
}

// Edge runs a standalone edge against an external etcd cluster.
func Edge(ctx context.Context, etcd store.Etcd, cfg EdgeConfig) error {
	edgeCfg, err := cfg.compile()
	if err != nil {
		return err
	}
	st, err := store.Dial(etcd, storePrefix)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	defer st.Close()
	return runEdge(ctx, st, edgeCfg, cfg)
}

// runEdge runs an edge, its request log and its admin listener when one is configured.
func runEdge(ctx context.Context, st *store.Store, edgeCfg edge.Config, cfg EdgeConfig) error {
	limitMemory(edgeCfg.CacheSize)
	if cfg.RequestLog != nil {
		edgeCfg.RequestLog = observe.NewRequestLog(cfg.RequestLog)
		defer edgeCfg.RequestLog.Close() // after the edge: what it logged last is written
		edgeCfg.Metrics.CountRequestLog(edgeCfg.RequestLog)
	}
	if cfg.AdminListen == "" {
		return edge.New(st, edgeCfg).Run(ctx, nil)
	}
	ln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("--admin-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", edgeCfg.Metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(logOf(APIConfig{Log: cfg.Log}), "admin listening on http://%s (/metrics)\n", ln.Addr())
	err = edge.New(st, edgeCfg).Run(ctx, nil)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Shutdown(sctx)
	<-served
	return err
}

// Region runs a standalone region runtime against an external etcd cluster: it runs the
// region's Cloud Run services once no other runtime does.
func Region(ctx context.Context, etcd store.Etcd, cfg RegionConfig) error {
	if err := etcd.Check(); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if err := api.ValidateName("--region", cfg.Region); err != nil || cfg.Region == "" {
		return fmt.Errorf("region: --region must name a region, such as us-central1 (got %q)", cfg.Region)
	}
	if ip, err := netip.ParseAddr(cfg.Address); cfg.Address != "" && (err != nil || ip.IsUnspecified()) {
		return fmt.Errorf("region: --address must be an IP address of this host that edges reach (got %q)", cfg.Address)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("region: locate the meridian binary for built-in images: %w", err)
	}
	st, err := store.Dial(etcd, storePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	engine, err := runtime.FindEngine(ctx, cfg.ContainerEngine)
	if err != nil {
		return fmt.Errorf("region: %w", err)
	}
	return runtime.New(st, runtime.Config{Region: cfg.Region, Executable: exe, IdleTimeout: cfg.IdleTimeout, Address: cfg.Address, Engine: engine, Log: cfg.Log}).Run(ctx)
}

func (c EdgeConfig) compile() (edge.Config, error) {
	pm, err := ParsePortMap(c.PortMap)
	if err != nil {
		return edge.Config{}, err
	}
	locs, err := geo.ParseLocations(c.Locations)
	if err != nil {
		return edge.Config{}, fmt.Errorf("--locations: %w", err)
	}
	if c.Location != "" {
		if _, known := locs[c.Location]; !known {
			if _, known = geo.Lookup(c.Location); !known {
				return edge.Config{}, fmt.Errorf("--location: %q is neither a GCP region, nor a metro code, nor named in --locations", c.Location)
			}
		}
	}
	if ip, err := netip.ParseAddr(c.ListenAddress); c.ListenAddress != "" && err != nil {
		return edge.Config{}, fmt.Errorf("--listen-address: %q is not an IP address", c.ListenAddress)
	} else if c.ListenAddress != "" {
		c.ListenAddress = ip.String()
	}
	var regions *geo.ClientRegions
	if c.ClientRegions != "" {
		f, err := os.Open(c.ClientRegions)
		if err != nil {
			return edge.Config{}, fmt.Errorf("--client-regions: %w", err)
		}
		regions, err = geo.ParseClientRegions(f)
		f.Close()
		if err != nil {
			return edge.Config{}, fmt.Errorf("--client-regions %s: %w", c.ClientRegions, err)
		}
	}
	cfg := edge.Config{ClientRegions: regions, Location: c.Location, PortMap: pm, ListenAddress: c.ListenAddress, Log: c.Log, Locations: locs, CacheSize: c.CacheSize, CacheDir: c.CacheDir, CacheDirSize: c.CacheDirSize, PeerListen: c.PeerListen, Parent: c.Parent,
		RequestHeaderTimeout: c.RequestHeaderTimeout, MaxConnsPerClient: c.MaxConnsPerClient}
	if c.AdminListen != "" {
		cfg.Metrics = observe.NewMetrics()
	}
	return cfg, err
}

// memoryHeadroom is what a process running an edge may take beyond its cache: the
// runtime, connections' buffers, fills in flight, etcd's client (and, in serve, the
// embedded etcd, the API and the region runtimes' bookkeeping).
const memoryHeadroom = 64 << 20

// limitMemory sets the Go runtime's soft memory limit from the cache budget (unless
// GOMEMLIMIT says otherwise): a sixteenth over the budget (the allocator's rounding)
// plus memoryHeadroom. Without it the collector lets the heap grow to twice what is
// live before it collects, so a cache churning through its budget held twice
// --cache-size of memory.
func limitMemory(cacheSize uint64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if cacheSize == 0 {
		cacheSize = 256 << 20
	}
	debug.SetMemoryLimit(int64(min(cacheSize+cacheSize/16+memoryHeadroom, 1<<62)))
}

// ParsePortMap parses "443:8443,80:8080" (configured port : port listened on).
func ParsePortMap(s string) (map[int]int, error) {
	out := map[int]int{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, ":")
		f, err1 := strconv.Atoi(from)
		t, err2 := strconv.Atoi(to)
		if !ok || err1 != nil || err2 != nil || f < 1 || f > 65535 || t < 0 || t > 65535 {
			return nil, fmt.Errorf("--port-map: %q is not PORT:PORT (e.g. 443:8443)", pair)
		}
		out[f] = t
	}
	return out, nil
}

// API runs the API against an external etcd cluster.
func API(ctx context.Context, etcd store.Etcd, cfg APIConfig) error {
	st, err := store.Dial(etcd, storePrefix)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer st.Close()
	issuer, err := cfg.issuer(st)
	if err != nil {
		return err
	}
	return runAPI(ctx, st, issuer, cfg)
}

// runAPI serves the API, and beside it the issuer of MANAGED certificates: every API
// process runs one (they share the CA in etcd, and their writes are conditional, so
// several issue each certificate once).
func runAPI(ctx context.Context, st *store.Store, issuer *certs.Issuer, cfg APIConfig) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	issuerDone := make(chan error, 1)
	go func() { issuerDone <- issuer.Run(ctx) }()
	err := serveAPI(ctx, st, cfg)
	cancel()
	return errors.Join(err, <-issuerDone)
}

func serveAPI(ctx context.Context, st *store.Store, cfg APIConfig) error {
	token, err := readToken(cfg)
	if err != nil {
		return err
	}
	var pool netip.Prefix
	if cfg.AddressPool != "" {
		if pool, err = netip.ParsePrefix(cfg.AddressPool); err != nil {
			return fmt.Errorf("--address-pool: %q is not a CIDR range: %v", cfg.AddressPool, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", cfg.Listen, err)
	}
	url := "http://" + ln.Addr().String()
	api := controlplane.New(st, controlplane.Config{BaseURL: cfg.PublicURL, Token: token, AddressPool: pool,
		CARoot: func(ctx context.Context) ([]byte, error) { return certs.SharedRootPEM(ctx, st) }})
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(url)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// readToken loads the bearer token. An API reachable from other machines must have
// one: state changes over an open port would otherwise be anyone's.
func readToken(cfg APIConfig) (string, error) {
	if cfg.TokenFile == "" {
		if !isLoopback(cfg.Listen) {
			return "", fmt.Errorf("api: %s is not a loopback address: --api-token-file is required", cfg.Listen)
		}
		return "", nil
	}
	data, err := os.ReadFile(cfg.TokenFile)
	if err != nil {
		return "", fmt.Errorf("api: --api-token-file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("api: token file %s is empty", cfg.TokenFile)
	}
	return token, nil
}

func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func logOf(cfg APIConfig) io.Writer {
	if cfg.Log == nil {
		return io.Discard
	}
	return cfg.Log
}

// EtcdMember runs one member of an etcd cluster (`meridian etcd`), so that a cluster
// across hosts needs no binary but meridian. It returns when ctx is done or the server
// fails.
func EtcdMember(ctx context.Context, m store.Member, startTimeout time.Duration, log io.Writer) error {
	member, err := store.StartMember(ctx, m, startTimeout)
	if err != nil {
		return err
	}
	defer member.Close()
	fmt.Fprintf(log, "etcd member %s serving clients at %s (data in %s)\n", m.Name, m.ClientURL, m.Dir)
	select {
	case <-ctx.Done():
		return nil
	case err := <-member.Err():
		return fmt.Errorf("etcd: %w", err)
	}
}
