// Command meridian is a self-hosted global HTTP(S) load balancer with a built-in CDN,
// configured like Google Cloud's global external Application Load Balancer. One binary
// holds every role (serve, api, edge, region) and the gcloud-grammar CLI (compute, run).
package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"meridian/internal/certs"
	"meridian/internal/demo"
	"meridian/internal/edge"
	"meridian/internal/roles"
	"meridian/internal/runtime"
	"meridian/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "meridian",
		Short:         "A self-hosted global load balancer and CDN with Google Cloud's API and gcloud's grammar",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(demoCommand(), serveCommand(), apiCommand(), edgeCommand(), regionCommand(), etcdCommand(), clusterCertsCommand(), builtinCommand())
	addCLICommands(root)
	return root
}

func defaultDataDir() string {
	if d := os.Getenv("MERIDIAN_DATA_DIR"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return home + "/.local/share/meridian"
	}
	return "meridian-data"
}

func apiFlags(cmd *cobra.Command, cfg *roles.APIConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "api-listen", "127.0.0.1:9610", "address of the REST API (host:port)")
	f.StringVar(&cfg.TokenFile, "api-token-file", "", "file holding the bearer token clients must send (required off loopback)")
	f.StringVar(&cfg.AddressPool, "address-pool", "127.0.10.0/24", "CIDR range global addresses are allocated from")
	f.StringVar(&cfg.PublicURL, "api-url", "", "URL clients reach the API at, used in selfLinks (default: the address each client used)")
	f.StringVar(&cfg.ACME.Directory, "acme-directory", "", "ACME server (directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory) that MANAGED certificates are ordered from (default: the development CA signs them, offline)")
	f.StringVar(&cfg.ACME.CAFile, "acme-ca-file", "", "PEM roots that verify the ACME server's HTTPS (default: the system's)")
	f.StringVar(&cfg.ACME.Email, "acme-email", "", "contact address of the ACME account (optional)")
	f.StringSliceVar(&cfg.ACME.Challenges, "acme-challenges", nil, "challenges edges answer: tls-alpn-01 (on port 443), http-01 (on port 80); default both, TLS-ALPN-01 first")
}

func serveCommand() *cobra.Command {
	var cfg roles.ServeConfig
	var project string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Meridian on one machine: embedded etcd, the API, an edge and the region runtimes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.API.Log, cfg.Edge.Log = cmd.ErrOrStderr(), cmd.ErrOrStderr()
			cfg.API.Ready = func(url string) { announceAPI(cmd, url, project) }
			return roles.Serve(cmd.Context(), cfg)
		},
	}
	serveFlags(cmd, &cfg, &project)
	return cmd
}

// announceAPI says where the API listens (the first line of serve's and demo's
// output), writes it to the CLI's configuration, and says how gcloud can drive it.
func announceAPI(cmd *cobra.Command, url, project string) {
	fmt.Fprintf(cmd.OutOrStdout(), "API listening on %s\n", url)
	if err := rememberEndpoint(url, project); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: could not write the CLI configuration: %v\n", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "To drive it with Google's gcloud: meridian gcloud-config --activate")
}

// serveFlags are the flags of serve, which demo shares.
func serveFlags(cmd *cobra.Command, cfg *roles.ServeConfig, project *string) {
	apiFlags(cmd, &cfg.API)
	edgeFlags(cmd, &cfg.Edge)
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", defaultDataDir(), "directory of the embedded etcd's data")
	cmd.Flags().StringVar(&cfg.EtcdListen, "etcd-listen", "127.0.0.1:0", "client address of the embedded etcd, for other Meridian processes (port 0 picks one)")
	cmd.Flags().DurationVar(&cfg.IdleTimeout, "idle-timeout", runtime.DefaultIdleTimeout, "how long an idle Cloud Run instance is kept before it is stopped (scale to zero)")
	cmd.Flags().StringVar(&cfg.ContainerEngine, "container-engine", runtime.EngineAuto, containerEngineHelp)
	cmd.Flags().StringVar(project, "project", "", `default project written to the CLI configuration (if unset, the file's, else "default")`)
}

// containerEngineHelp is --container-engine's help, for serve and region.
const containerEngineHelp = "what runs services' container images that are not built in: docker, podman, none (a container's command runs as a process on this host), or auto (docker if it answers, else podman, else none)"

// demoCommand is the README's first command: the seed's whole system, deployed in two
// regions and reachable over HTTPS, from nothing.
func demoCommand() *cobra.Command {
	var cfg roles.ServeConfig
	var project string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Meridian with the seed's global load balancer deployed in two regions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.API.Log, cfg.Edge.Log = io.Discard, cmd.ErrOrStderr()
			if !cmd.Flags().Changed("request-log") {
				f, err := openRequestLog(cfg.DataDir)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.Edge.RequestLog = f
				fmt.Fprintf(cmd.OutOrStdout(), "Request log: %s (as in GCP, a backend service logs once enabled: meridian compute backend-services update cloudrun-backend --global --enable-logging)\n", f.Name())
			}
			cfg.API.Ready = func(url string) { announceAPI(cmd, url, project) }
			pm, err := roles.ParsePortMap(cfg.Edge.PortMap)
			if err != nil {
				return err
			}
			port := 443
			if p, ok := pm[443]; ok {
				port = p
			}
			return demo.Run(cmd.Context(), demo.Config{Serve: cfg, HTTPSPort: port, Out: cmd.OutOrStdout()})
		},
	}
	serveFlags(cmd, &cfg, &project)
	cmd.Flags().Lookup("port-map").DefValue = "443:8443,80:8080"
	cmd.Flags().Set("port-map", "443:8443,80:8080")
	return cmd
}

// openRequestLog opens the demo's request log in the data directory.
func openRequestLog(dataDir string) (*os.File, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dataDir, "requests.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}

func apiCommand() *cobra.Command {
	var cfg roles.APIConfig
	var etcd etcdFlags
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Run the REST API against an external etcd cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Log = cmd.ErrOrStderr()
			cfg.Ready = func(url string) { fmt.Fprintf(cmd.OutOrStdout(), "API listening on %s\n", url) }
			return roles.API(cmd.Context(), etcd.config(), cfg)
		},
	}
	apiFlags(cmd, &cfg)
	etcd.add(cmd)
	return cmd
}

func edgeFlags(cmd *cobra.Command, cfg *roles.EdgeConfig) {
	cmd.Flags().StringVar(&cfg.Location, "location", "us-central1", "where this edge is: a GCP region or metro code (iad, fra, …), or a name from --locations")
	cmd.Flags().StringVar(&cfg.AdminListen, "admin-listen", "", "serve Prometheus metrics at http://HOST:PORT/metrics (off when empty)")
	cmd.Flags().Var(&bytesFlag{v: &cfg.CacheSize}, "cache-size", "the CDN cache's memory budget, e.g. 256MiB or 2GiB (default 256MiB)")
	cmd.Flags().StringVar(&cfg.CacheDir, "cache-dir", "", "a directory for the CDN cache's disk tier (chunks and large objects, kept across restarts); off when empty")
	cmd.Flags().Var(&bytesFlag{v: &cfg.CacheDirSize}, "cache-dir-size", "the disk tier's byte budget, e.g. 10GiB (default 10GiB)")
	cmd.Flags().StringVar(&cfg.PeerListen, "peer-listen", "", "address to serve other edges' cache fills on (cache-to-cache fill); off when empty")
	cmd.Flags().StringVar(&cfg.Parent, "parent", "", "the parent tier's cache: another edge's peer URL (http://HOST:PORT of its --peer-listen), asked before the origin")
	cmd.Flags().StringVar(&cfg.Locations, "locations", "", "your own places, for edges and regions the built-in table does not know: name=lat,lon;name=lat,lon")
	cmd.Flags().StringVar(&cfg.ListenAddress, "listen-address", "", "serve every forwarding rule on this IP address instead of its own (an edge with an address of its own, reached by DNS rather than anycast)")
	cmd.Flags().StringVar(&cfg.PortMap, "port-map", "", "listen on other ports than forwarding rules name, e.g. 443:8443,80:8080 to run unprivileged")
	cmd.Flags().StringVar(&cfg.ClientRegions, "client-regions", "", "a file of CIDR,COUNTRY lines (ISO 3166-1 alpha-2, e.g. exported from a GeoIP database) giving clients their country, for security policies' origin.region_code and the {client_region} header variable")
	cmd.Flags().DurationVar(&cfg.RequestHeaderTimeout, "request-header-timeout", edge.DefaultRequestHeaderTimeout, "how long a client may take to send a request's header block (from the connection's accept for its first request, TLS handshake included); a slower one is cut")
	cmd.Flags().IntVar(&cfg.MaxConnsPerClient, "max-connections-per-client", edge.DefaultMaxConnsPerClient, "open connections one client address may hold; more are closed as they are accepted (negative: no limit)")
	cmd.Flags().Var(&requestLogFlag{cfg: cfg}, "request-log", "where request log lines go: stdout, stderr, off or a file (default stdout)")
	cfg.RequestLog = os.Stdout
}

// requestLogFlag is --request-log: stdout, stderr, off, or a file appended to.
type requestLogFlag struct {
	cfg  *roles.EdgeConfig
	name string
}

func (f *requestLogFlag) String() string { return f.name }
func (f *requestLogFlag) Type() string   { return "destination" }

func (f *requestLogFlag) Set(v string) error {
	f.name = v
	switch v {
	case "stdout", "":
		f.cfg.RequestLog = os.Stdout
	case "stderr":
		f.cfg.RequestLog = os.Stderr
	case "off":
		f.cfg.RequestLog = nil
	default:
		file, err := os.OpenFile(v, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.cfg.RequestLog = file
	}
	return nil
}

func edgeCommand() *cobra.Command {
	var cfg roles.EdgeConfig
	var etcd etcdFlags
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run one edge (listeners, TLS, routing) against an external etcd cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Log = cmd.ErrOrStderr()
			return roles.Edge(cmd.Context(), etcd.config(), cfg)
		},
	}
	edgeFlags(cmd, &cfg)
	etcd.add(cmd)
	return cmd
}

func regionCommand() *cobra.Command {
	var cfg roles.RegionConfig
	var etcd etcdFlags
	cmd := &cobra.Command{
		Use:   "region",
		Short: "Run one region's Cloud Run services against an external etcd cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Log = cmd.ErrOrStderr()
			return roles.Region(cmd.Context(), etcd.config(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.Region, "region", "", "the region whose services this runtime runs, e.g. us-central1")
	cmd.Flags().DurationVar(&cfg.IdleTimeout, "idle-timeout", runtime.DefaultIdleTimeout, "how long an idle instance is kept before it is stopped (scale to zero)")
	cmd.Flags().StringVar(&cfg.ContainerEngine, "container-engine", runtime.EngineAuto, containerEngineHelp)
	cmd.Flags().StringVar(&cfg.Address, "address", "127.0.0.1", "IP address of this host that edges reach its services at")
	etcd.add(cmd)
	return cmd
}

// etcdFlags are how the roles on an external cluster reach etcd.
type etcdFlags struct {
	endpoints string
	cfg       store.Etcd
}

func (f *etcdFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.endpoints, "etcd-endpoints", "", "comma-separated etcd client URLs (https:// for a cluster with TLS)")
	cmd.Flags().StringVar(&f.cfg.CAFile, "etcd-ca", "", "PEM file of the CA that signed the etcd members' certificates")
	cmd.Flags().StringVar(&f.cfg.CertFile, "etcd-cert", "", "PEM file of this process's client certificate for etcd (client certificate authentication)")
	cmd.Flags().StringVar(&f.cfg.KeyFile, "etcd-key", "", "PEM file of the key of --etcd-cert")
}

func (f *etcdFlags) config() store.Etcd {
	c := f.cfg
	c.Endpoints = splitList(f.endpoints)
	return c
}

// etcdCommand runs one member of an etcd cluster for the roles on other hosts.
func etcdCommand() *cobra.Command {
	var m store.Member
	var startTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run one member of an etcd cluster (etcd's own server) for api, edge and region processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return roles.EtcdMember(cmd.Context(), m, startTimeout, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&m.Name, "name", "", "this member's name, unique in the cluster")
	f.StringVar(&m.Dir, "data-dir", "", "directory of this member's data")
	f.StringVar(&m.ClientURL, "client-url", "http://127.0.0.1:2379", "URL this member serves clients at (listened on and advertised)")
	f.StringVar(&m.PeerURL, "peer-url", "http://127.0.0.1:2380", "URL this member serves its peers at (listened on and advertised)")
	f.StringVar(&m.InitialCluster, "initial-cluster", "", "every member of a new cluster: NAME=PEER-URL,… (default: this member alone)")
	f.BoolVar(&m.Join, "join", false, "join a running cluster (after etcdctl member add) instead of starting a new one")
	f.StringVar(&m.CertFile, "cert", "", "PEM certificate of this member for clients and peers (https:// URLs); it must allow server and client authentication")
	f.StringVar(&m.KeyFile, "key", "", "PEM key of --cert")
	f.StringVar(&m.CAFile, "ca", "", "PEM CA whose certificates clients and peers must present (client certificate authentication)")
	f.DurationVar(&startTimeout, "start-timeout", 5*time.Minute, "how long to wait for a quorum of a new cluster's members")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// builtinCommand runs the programs that stand in for well-known container images; the
// region runtime starts them as it would start a container.
func builtinCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "builtin hello",
		Short:  "Run a built-in container image (hello: Cloud Run's sample)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "hello" {
				return fmt.Errorf("no built-in image %q", args[0])
			}
			return runtime.ServeHello(cmd.Context())
		},
	}
}

// bytesFlag is a size with an optional unit: 512, 64KiB, 256MiB, 2GiB (or KB, MB, GB).
type bytesFlag struct{ v *uint64 }

func (b *bytesFlag) String() string {
	if b.v == nil || *b.v == 0 {
		return ""
	}
	return fmt.Sprint(*b.v)
}
func (b *bytesFlag) Type() string { return "size" }

func (b *bytesFlag) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.v = n
	return nil
}

func parseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > (1<<63)/mult {
		return 0, fmt.Errorf("%q is not a size such as 256MiB", s)
	}
	return n * mult, nil
}

// clusterCertsCommand makes the private CA and certificates of a cluster's links to
// etcd, for `meridian etcd --cert/--key/--ca` and the roles' --etcd-cert/--etcd-key.
func clusterCertsCommand() *cobra.Command {
	var dir string
	var members []string
	cmd := &cobra.Command{
		Use:   "cluster-certs --dir=DIR --member=NAME=HOST[,HOST…] …",
		Short: "Make a CA and certificates for an etcd cluster and the Meridian processes that use it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hosts := map[string][]string{}
			for _, m := range members {
				name, list, ok := strings.Cut(m, "=")
				if !ok || name == "" || list == "" {
					return fmt.Errorf("--member %q is not NAME=HOST[,HOST…]", m)
				}
				hosts[name] = splitList(list)
			}
			if len(hosts) == 0 {
				return fmt.Errorf("name at least one --member=NAME=HOST (each etcd member, with the addresses it is reached at)")
			}
			files, err := certs.WriteClusterTLS(dir, hosts, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "CA (--ca, --etcd-ca on every host): %s\n", files.CA)
			for _, name := range slices.Sorted(maps.Keys(hosts)) {
				fmt.Fprintf(out, "member %s (--cert, --key): %s %s\n", name, files.MemberCert[name], files.MemberKey[name])
			}
			fmt.Fprintf(out, "client (--etcd-cert, --etcd-key of api, edge and region): %s %s\n", files.ClientCert, files.ClientKey)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "meridian-tls", "directory to write the files to")
	cmd.Flags().StringArrayVar(&members, "member", nil, "an etcd member and the names or addresses it is reached at: NAME=HOST[,HOST…] (repeat)")
	return cmd
}
