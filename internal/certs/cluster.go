package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ClusterTLS names the files of a private CA for the links between Meridian's
// processes and etcd: the CA, one certificate per member (server and client
// authentication, as etcd peers need) and one client certificate for Meridian's roles.
type ClusterTLS struct {
	CA                    string
	MemberCert, MemberKey map[string]string // by member name
	ClientCert, ClientKey string
}

// WriteClusterTLS creates a CA in dir and signs a certificate for each member, valid
// for its hosts (names or IP addresses), and a client certificate. Keys are written
// readable by their owner only.
func WriteClusterTLS(dir string, members map[string][]string, now time.Time) (ClusterTLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ClusterTLS{}, err
	}
	ca, err := newCA("Meridian cluster CA", now)
	if err != nil {
		return ClusterTLS{}, err
	}
	out := ClusterTLS{CA: filepath.Join(dir, "ca.pem"), MemberCert: map[string]string{}, MemberKey: map[string]string{}}
	if err := ca.SaveRoot(out.CA); err != nil {
		return ClusterTLS{}, err
	}
	sign := func(name string, hosts []string, usage []x509.ExtKeyUsage) (string, string, error) {
		tmpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(caValidity),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
		if err != nil {
			return "", "", err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", err
		}
		certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
			return "", "", err
		}
		return certPath, keyPath, writePEM(keyPath, "PRIVATE KEY", kder, 0o600)
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for name, hosts := range members {
		if name == "client" || name == "ca" {
			return ClusterTLS{}, fmt.Errorf("certs: %q is reserved, not a member name", name)
		}
		if out.MemberCert[name], out.MemberKey[name], err = sign(name, hosts, both); err != nil {
			return ClusterTLS{}, err
		}
	}
	out.ClientCert, out.ClientKey, err = sign("client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	return out, err
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
