package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Certificate types and managed certificate states.
const (
	CertSelfManaged = "SELF_MANAGED"
	CertManaged     = "MANAGED"

	ManagedProvisioning = "PROVISIONING"
	ManagedActive       = "ACTIVE"
)

// maxChainLength is GCP's limit on certificates in a self-managed chain.
const maxChainLength = 5

func (c *SslCertificate) SetDefaults() {
	c.Kind = "compute#sslCertificate"
	if c.SelfManaged != nil && c.Certificate == "" && c.PrivateKey == "" {
		c.Certificate, c.PrivateKey = c.SelfManaged.Certificate, c.SelfManaged.PrivateKey
		c.SelfManaged = nil
	}
	if c.Type == "" {
		c.Type = CertSelfManaged
		if c.Managed != nil {
			c.Type = CertManaged
		}
	}
	if c.Type == CertManaged && c.Managed != nil {
		if c.Managed.Status == "" {
			c.Managed.Status = ManagedProvisioning
		}
		if c.Managed.DomainStatus == nil {
			c.Managed.DomainStatus = map[string]string{}
			for _, d := range c.Managed.Domains {
				c.Managed.DomainStatus[d] = ManagedProvisioning
			}
		}
		c.SubjectAlternativeNames = append([]string(nil), c.Managed.Domains...)
	}
}

// Validate checks the certificate. A self-managed one is parsed: its chain must be
// PEM, at most five certificates, and its leaf must match the private key; the
// subjectAlternativeNames and expireTime outputs are taken from the leaf.
func (c *SslCertificate) Validate() error {
	if err := ValidateName("resource.name", c.Name); err != nil {
		return err
	}
	switch c.Type {
	case CertSelfManaged:
		return c.validateSelfManaged()
	case CertManaged:
		return c.validateManaged()
	default:
		return Invalid("resource.type", c.Type, "Must be one of [SELF_MANAGED, MANAGED].")
	}
}

func (c *SslCertificate) validateSelfManaged() error {
	if c.Managed != nil {
		return Conflict("resource.managed", "managed must not be set for SELF_MANAGED certificates.")
	}
	if c.Certificate == "" {
		return Required("resource.certificate")
	}
	if c.PrivateKey == "" {
		return Required("resource.privateKey")
	}
	leaf, err := ParseCertificateChain(c.Certificate)
	if err != nil {
		return Invalid("resource.certificate", "<PEM>", err.Error())
	}
	key, err := ParsePrivateKey(c.PrivateKey)
	if err != nil {
		return Invalid("resource.privateKey", "<redacted>", err.Error())
	}
	if !publicKeysEqual(leaf.PublicKey, key) {
		return Conflict("resource.privateKey", "The SSL key does not match the certificate: the private key's public part differs from the certificate's public key.")
	}
	c.SubjectAlternativeNames = leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, ip.String())
	}
	c.ExpireTime = leaf.NotAfter.UTC().Format(TimestampFormat)
	return nil
}

func (c *SslCertificate) validateManaged() error {
	if c.Certificate != "" || c.PrivateKey != "" {
		return Conflict("resource.certificate", "certificate and privateKey must not be set for MANAGED certificates.")
	}
	if c.Managed == nil || len(c.Managed.Domains) == 0 {
		return Required("resource.managed.domains")
	}
	if err := validateMax("resource.managed.domains", len(c.Managed.Domains), 100); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, d := range c.Managed.Domains {
		field := fmt.Sprintf("resource.managed.domains[%d]", i)
		if !isDomainName(d) || !strings.Contains(d, ".") || strings.HasSuffix(d, ".") {
			return Invalid(field, d, "Must be a fully qualified domain name without a trailing dot.")
		}
		if seen[strings.ToLower(d)] {
			return Invalid(field, d, "Duplicate domain.")
		}
		seen[strings.ToLower(d)] = true
	}
	return oneOf("resource.managed.status", c.Managed.Status, "PROVISIONING", "ACTIVE", "PROVISIONING_FAILED", "PROVISIONING_FAILED_PERMANENTLY", "RENEWAL_FAILED")
}

// ParseCertificateChain parses a PEM chain and returns its first (leaf) certificate.
func ParseCertificateChain(chain string) (*x509.Certificate, error) {
	rest := []byte(chain)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q in the certificate chain", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the certificate is not valid X.509: %v", err)
		}
		certs = append(certs, cert)
	}
	switch {
	case len(certs) == 0:
		return nil, errors.New("no PEM-encoded certificate found")
	case len(certs) > maxChainLength:
		return nil, fmt.Errorf("the chain has %d certificates; at most %d are allowed", len(certs), maxChainLength)
	case strings.TrimSpace(string(rest)) != "":
		return nil, errors.New("unexpected data after the PEM certificates")
	}
	return certs[0], nil
}

// ParsePrivateKey parses a PEM private key in PKCS#1, PKCS#8 or SEC 1 form and returns
// its public key.
func ParsePrivateKey(keyPEM string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		return nil, errors.New("no PEM-encoded private key found")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k.Public(), nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k.Public(), nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the private key is not PKCS#1, PKCS#8 or SEC 1")
	}
	if s, ok := k.(crypto.Signer); ok {
		return s.Public(), nil
	}
	return nil, errors.New("unsupported private key type")
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

func (c *SslCertificate) References() []Ref { return nil }

// Redact removes the private key: GCP treats it as write-only.
func (c *SslCertificate) Redact() {
	c.PrivateKey = ""
	if c.SelfManaged != nil {
		c.SelfManaged.PrivateKey = ""
	}
}
