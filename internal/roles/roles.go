// Package roles runs Meridian's processes: `serve` (embedded etcd and the API on one
// machine) and `api` (the API on an external etcd cluster). Each role runs until its
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
	"strings"
	"time"

	"meridian/internal/controlplane"
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
}

// ServeConfig configures `meridian serve`.
type ServeConfig struct {
	API        APIConfig
	DataDir    string
	EtcdListen string // client address of the embedded etcd; port 0 picks one
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
	st, err := store.Dial([]string{e.Endpoint}, storePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	return runAPI(ctx, st, cfg.API)
}

// API runs the API against an external etcd cluster.
func API(ctx context.Context, etcdEndpoints []string, cfg APIConfig) error {
	if len(etcdEndpoints) == 0 {
		return errors.New("api: --etcd-endpoints is required")
	}
	st, err := store.Dial(etcdEndpoints, storePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	return runAPI(ctx, st, cfg)
}

func runAPI(ctx context.Context, st *store.Store, cfg APIConfig) error {
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
	api := controlplane.New(st, controlplane.Config{BaseURL: cfg.PublicURL, Token: token, AddressPool: pool})
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
