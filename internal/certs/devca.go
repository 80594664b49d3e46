// Package certs issues MANAGED certificates. Until ACME provisioning lands, a
// development CA kept in etcd (shared.go) signs them: every API process runs an Issuer
// that finds MANAGED certificates still PROVISIONING, issues a certificate for their
// domains and marks them ACTIVE; the API serves the CA's root, which `meridian ca-cert`
// prints so clients can trust it. It also makes the private CA of a cluster's links to
// etcd (cluster.go).
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Validity periods: a long-lived root, leaves like ACME's.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 90 * 24 * time.Hour
)

// DevCA is a local certificate authority.
type DevCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// CAPath is where a data directory keeps the development CA's root certificate.
func CAPath(dataDir string) string { return filepath.Join(dataDir, "dev-ca", "ca.pem") }

func caKeyPath(dataDir string) string { return filepath.Join(dataDir, "dev-ca", "ca-key.pem") }

// loadDevCA reads the CA a data directory holds.
func loadDevCA(dataDir string) (*DevCA, error) {
	certPEM, err := os.ReadFile(CAPath(dataDir))
	if err != nil {
		return nil, fmt.Errorf("certs: read the development CA: %w", err)
	}
	keyPEM, err := os.ReadFile(caKeyPath(dataDir))
	if err != nil {
		return nil, fmt.Errorf("certs: read the development CA's key: %w", err)
	}
	ca, err := parseDevCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, filepath.Dir(CAPath(dataDir)))
	}
	return ca, nil
}

func parseDevCA(certPEM, keyPEM []byte) (*DevCA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("certs: the development CA is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: the development CA: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: the development CA's key: %w", err)
	}
	return &DevCA{cert: cert, key: key, certPEM: certPEM}, nil
}

func newDevCA(now time.Time) (*DevCA, error) { return newCA(devCAName, now) }

// devCAName is the development CA's common name, which its certificates name as issuer.
const devCAName = "Meridian development CA"

// newCA makes a self-signed root that signs leaves only.
func newCA(name string, now time.Time) (*DevCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"Meridian"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(caValidity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &DevCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// keyPEM encodes the CA's private key.
func (ca *DevCA) keyPEM() ([]byte, error) {
	kder, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// save writes the CA into a data directory.
func (ca *DevCA) save(dataDir string) error {
	keyPEM, err := ca.keyPEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(CAPath(dataDir)), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(caKeyPath(dataDir), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(CAPath(dataDir), ca.certPEM, 0o644)
}

// SaveRoot writes the CA's root certificate (not its key) to path, for clients.
func (ca *DevCA) SaveRoot(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, ca.certPEM, 0o644)
}

// RootPEM is the CA certificate clients should trust.
func (ca *DevCA) RootPEM() []byte { return ca.certPEM }

// Issue signs a certificate for domains and returns the chain (leaf then root) and the
// leaf's private key, both PEM.
func (ca *DevCA) Issue(domains []string, now time.Time) (chainPEM, keyPEM string, notAfter time.Time, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", time.Time{}, err
	}
	notAfter = now.Add(leafValidity)
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: domains[0]}, DNSNames: domains,
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", time.Time{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", time.Time{}, err
	}
	chain := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) + string(ca.certPEM)
	return chain, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), notAfter, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
