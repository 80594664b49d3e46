package store

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Embedded is a single-node etcd server running inside the process, the default store
// of `meridian serve`. Its data lives in a directory, so state survives restarts.
type Embedded struct {
	etcd *embed.Etcd
	// Endpoint is the client URL other components (and other processes) connect to.
	Endpoint string
}

// StartEmbedded starts etcd in dir, listening for clients on clientAddr (host:port;
// port 0 picks a free one) and for peers on a free loopback port: a single node never
// talks to peers, but etcd requires the listener. Logs go to dir/etcd.log.
func StartEmbedded(ctx context.Context, dir, clientAddr string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "meridian"
	cfg.Dir = filepath.Join(dir, "etcd")
	clientURL := url.URL{Scheme: "http", Host: clientAddr}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	// The advertised peer URL only names this member in its one-node cluster; nothing
	// dials it, so a fixed nominal address keeps the membership stable across restarts.
	nominal := url.URL{Scheme: "http", Host: "127.0.0.1:2380"}
	cfg.AdvertisePeerUrls = []url.URL{nominal}
	cfg.InitialCluster = cfg.Name + "=" + nominal.String()
	logFile, err := os.OpenFile(filepath.Join(dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: etcd log: %w", err)
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(fileLogger(logFile))
	e, err := startEtcd(ctx, cfg, dir, 60*time.Second)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	return &Embedded{etcd: e, Endpoint: "http://" + e.Clients[0].Addr().String()}, nil
}

// startEtcd starts a configured server and waits until it serves, at most wait: a
// member of a new cluster is ready once a quorum of its peers is up.
func startEtcd(ctx context.Context, cfg *embed.Config, dir string, wait time.Duration) (*embed.Etcd, error) {
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("store: start etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("store: etcd in %s: %w", dir, err)
	case <-time.After(wait):
		e.Close()
		return nil, fmt.Errorf("store: etcd in %s did not become ready within %s (see %s)", dir, wait, filepath.Join(dir, "etcd.log"))
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// Close stops the server, waiting for it to flush.
func (e *Embedded) Close() { e.etcd.Close() }

func fileLogger(w io.Writer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.WarnLevel))
}
