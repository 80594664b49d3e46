package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Member is one member of an etcd cluster run by a Meridian process (`meridian etcd`),
// so that a cluster across hosts needs no other binary. It is etcd's own server,
// configured as etcd's flags of the same names would.
type Member struct {
	Name string // unique in the cluster
	Dir  string // its data directory
	// ClientURL and PeerURL are where the member serves clients and its peers,
	// listened on and advertised: http(s)://host:port.
	ClientURL, PeerURL string
	// InitialCluster names every member of a new cluster, "e1=PEERURL,e2=PEERURL,…"
	// (empty: a cluster of this member alone); Join adds the member to a running
	// cluster instead (it must have been added with etcdctl member add).
	InitialCluster string
	Join           bool
	// CertFile and KeyFile are the member's certificate for clients and peers (it must
	// allow server and client authentication: peers dial each other with it). With
	// CAFile, clients and peers must present a certificate that CA signed.
	CertFile, KeyFile, CAFile string
}

// RunningMember is a started member.
type RunningMember struct {
	etcd *embed.Etcd
	log  *os.File
}

// Close stops the member, waiting for it to flush.
func (m *RunningMember) Close() {
	m.etcd.Close()
	m.log.Close()
}

// Err reports a failure of the running server.
func (m *RunningMember) Err() <-chan error { return m.etcd.Err() }

// Check refuses a configuration that etcd would refuse later, or that would run
// without the TLS it names.
func (m Member) Check() error {
	if m.Name == "" || m.Dir == "" {
		return errors.New("etcd: --name and --data-dir are required")
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		return errors.New("etcd: --cert and --key go together")
	}
	if m.CAFile != "" && m.CertFile == "" {
		return errors.New("etcd: --ca (client certificate authentication) needs the member's own --cert and --key")
	}
	for flag, raw := range map[string]string{"--client-url": m.ClientURL, "--peer-url": m.PeerURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
			return fmt.Errorf("etcd: %s %q is not http(s)://HOST:PORT", flag, raw)
		}
		if (u.Scheme == "https") != (m.CertFile != "") {
			return fmt.Errorf("etcd: %s %q: https:// and --cert/--key go together", flag, raw)
		}
	}
	if m.Join && m.InitialCluster == "" {
		return errors.New("etcd: --join needs --initial-cluster: the running cluster's members and this one")
	}
	if m.InitialCluster != "" && !strings.Contains(","+m.InitialCluster, ","+m.Name+"=") {
		return fmt.Errorf("etcd: --initial-cluster does not name this member (%s)", m.Name)
	}
	return nil
}

// StartMember starts a member and returns once it serves clients, which for a new
// cluster is once a quorum of members has started (at most wait).
func StartMember(ctx context.Context, m Member, wait time.Duration) (*RunningMember, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: data dir: %w", err)
	}
	client, _ := url.Parse(m.ClientURL)
	peer, _ := url.Parse(m.PeerURL)
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = filepath.Join(m.Dir, "etcd")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = m.InitialCluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = m.Name + "=" + m.PeerURL
	}
	cfg.InitialClusterToken = "meridian"
	if m.Join {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	if m.CertFile != "" {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: m.CertFile, KeyFile: m.KeyFile, TrustedCAFile: m.CAFile, ClientCertAuth: m.CAFile != ""}
		cfg.PeerTLSInfo = transport.TLSInfo{CertFile: m.CertFile, KeyFile: m.KeyFile, TrustedCAFile: m.CAFile, ClientCertAuth: m.CAFile != ""}
	}
	logFile, err := os.OpenFile(filepath.Join(m.Dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("etcd: log: %w", err)
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(fileLogger(logFile))
	e, err := startEtcd(ctx, cfg, m.Dir, wait)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	return &RunningMember{etcd: e, log: logFile}, nil
}
