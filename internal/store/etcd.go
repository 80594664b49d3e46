package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// Etcd says how a Meridian process reaches its etcd cluster: the members' client URLs
// and, for a cluster that speaks TLS (https:// URLs), the CA that signed the members'
// certificates and this process's client certificate, which members started with
// client certificate authentication require.
type Etcd struct {
	Endpoints []string
	CAFile    string // empty: the system's roots
	CertFile  string
	KeyFile   string
}

// Check refuses configurations that could only fail later, or silently skip TLS.
func (e Etcd) Check() error {
	if len(e.Endpoints) == 0 {
		return errors.New("--etcd-endpoints is required")
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return errors.New("--etcd-cert and --etcd-key go together")
	}
	tlsFiles := e.CAFile != "" || e.CertFile != ""
	for _, ep := range e.Endpoints {
		u, err := url.Parse(withScheme(ep))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--etcd-endpoints: %q is not an http:// or https:// URL", ep)
		}
		if tlsFiles && u.Scheme != "https" {
			return fmt.Errorf("--etcd-endpoints: %q is not https://, but --etcd-ca or --etcd-cert asks for TLS", ep)
		}
	}
	return nil
}

// tlsConfig is the client's TLS configuration; nil when the endpoints are plain HTTP.
func (e Etcd) tlsConfig() (*tls.Config, error) {
	secure := false
	for _, ep := range e.Endpoints {
		if u, err := url.Parse(withScheme(ep)); err == nil && u.Scheme == "https" {
			secure = true
		}
	}
	if !secure {
		return nil, nil
	}
	info := transport.TLSInfo{CertFile: e.CertFile, KeyFile: e.KeyFile, TrustedCAFile: e.CAFile}
	if info.Empty() && e.CAFile == "" {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("store: etcd TLS: %w", err)
	}
	return cfg, nil
}

// withScheme reads a bare HOST:PORT endpoint, which etcd's client takes, as http://.
func withScheme(ep string) string {
	if strings.Contains(ep, "://") {
		return ep
	}
	return "http://" + ep
}
