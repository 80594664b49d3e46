package certs

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meridian/api"
	"meridian/internal/controlplane"
	"meridian/internal/store"
	"meridian/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// TestIssuerProvisionsManagedCertificates creates a MANAGED certificate through the API
// and waits for the issuer to make it ACTIVE with a chain that verifies against the
// development CA for each domain.
func TestIssuerProvisionsManagedCertificates(t *testing.T) {
	st := testutil.Store(t)
	srv := httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/compute/v1/projects/p/global/sslCertificates", "application/json",
		strings.NewReader(`{"name":"my-ssl-cert","managed":{"domains":["your-domain.com","www.your-domain.com"]}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("insert: %v %v", resp, err)
	}
	resp.Body.Close()

	ca, err := LoadOrCreateSharedCA(context.Background(), st, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Issuer{Store: st, CA: ca}).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	var cert api.SslCertificate
	deadline := time.Now().Add(10 * time.Second)
	for {
		kv, err := st.Get(ctx, "res/projects/p/global/sslCertificates/my-ssl-cert")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(kv.Value, &cert); err != nil {
			t.Fatal(err)
		}
		if cert.Managed.Status == api.ManagedActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after 10s", cert.Managed.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cert.Managed.DomainStatus["www.your-domain.com"] != api.ManagedActive || cert.ExpireTime == "" {
		t.Errorf("managed = %+v, expireTime %q", cert.Managed, cert.ExpireTime)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.RootPEM())
	block, _ := pem.Decode([]byte(cert.Certificate))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cert.Managed.Domains {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: d, Roots: roots}); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	// The API returns the certificate but never its key.
	resp, err = http.Get(srv.URL + "/compute/v1/projects/p/global/sslCertificates/my-ssl-cert")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out["privateKey"] != nil || out["certificate"] == nil || out["managed"].(map[string]any)["status"] != "ACTIVE" {
		t.Errorf("API view: %v", out)
	}
}

// Every API process of a deployment gets the same CA from etcd, and the first to start
// adopts a CA that `meridian serve` kept in its data directory before.
func TestSharedCA(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	if _, err := SharedRootPEM(ctx, st); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("root before any CA: %v", err)
	}
	a, err := LoadOrCreateSharedCA(ctx, st, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSharedCA(ctx, st, t.TempDir(), time.Now())
	if err != nil || string(a.RootPEM()) != string(b.RootPEM()) {
		t.Fatalf("a second process got another CA: %v", err)
	}
	if root, err := SharedRootPEM(ctx, st); err != nil || string(root) != string(a.RootPEM()) {
		t.Fatalf("served root differs: %v", err)
	}

	legacy := t.TempDir()
	old, err := newDevCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := old.save(legacy); err != nil {
		t.Fatal(err)
	}
	fresh := testutil.Store(t)
	adopted, err := LoadOrCreateSharedCA(ctx, fresh, legacy, time.Now())
	if err != nil || string(adopted.RootPEM()) != string(old.RootPEM()) {
		t.Fatalf("the data directory's CA was not adopted: %v", err)
	}
	// Issued by the adopted CA, verified with the old root.
	chain, _, _, err := adopted.Issue([]string{"example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(old.RootPEM())
	block, _ := pem.Decode([]byte(chain))
	leaf, _ := x509.ParseCertificate(block.Bytes)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err != nil {
		t.Errorf("leaf does not verify against the old root: %v", err)
	}
}
