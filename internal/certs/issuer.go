package certs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"meridian/api"
	"meridian/internal/store"
)

// Issuer provisions MANAGED certificates with a DevCA. It watches the store and, for
// every MANAGED certificate still PROVISIONING, writes the issued certificate and key
// and sets the status to ACTIVE, in a transaction conditioned on the revision it read.
type Issuer struct {
	Store *store.Store
	// CA signs; nil means the deployment's shared CA (LoadOrCreateSharedCA), loaded
	// once etcd answers, adopting the CA of LegacyDir if etcd has none yet.
	CA        *DevCA
	LegacyDir string
	// RootFile, when set, receives the CA's root certificate once it is known.
	RootFile string
	Now      func() time.Time
	Log      io.Writer
}

// Run provisions what is pending, then follows changes until ctx is done.
func (is *Issuer) Run(ctx context.Context) error {
	if is.Now == nil {
		is.Now = time.Now
	}
	if is.Log == nil {
		is.Log = io.Discard
	}
	for ctx.Err() == nil {
		rev, err := int64(0), is.loadCA(ctx)
		if err == nil {
			rev, err = is.provisionPending(ctx)
		}
		if err != nil {
			fmt.Fprintf(is.Log, "certs: %v\n", err)
		} else {
			is.waitForCertificateChange(ctx, rev)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // no busy loop when etcd is away
		}
	}
	return nil
}

// loadCA gets the shared CA the first time etcd answers.
func (is *Issuer) loadCA(ctx context.Context) error {
	if is.CA != nil {
		return nil
	}
	ca, err := LoadOrCreateSharedCA(ctx, is.Store, is.LegacyDir, is.Now())
	if err != nil {
		return err
	}
	if is.RootFile != "" {
		if err := ca.SaveRoot(is.RootFile); err != nil {
			return err
		}
	}
	is.CA = ca
	return nil
}

// waitForCertificateChange returns when a certificate changes after rev, the watch
// fails, or ctx is done.
func (is *Issuer) waitForCertificateChange(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel() // ends the watch
	for resp := range is.Store.Client().Watch(wctx, is.Store.Prefix()+"res/", clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if resp.Err() != nil || touchesCertificates(resp.Events) {
			return
		}
	}
}

func touchesCertificates(events []*clientv3.Event) bool {
	for _, ev := range events {
		if strings.Contains(string(ev.Kv.Key), "/sslCertificates/") {
			return true
		}
	}
	return false
}

// provisionPending issues every MANAGED certificate that is PROVISIONING and returns
// the revision it scanned at.
func (is *Issuer) provisionPending(ctx context.Context) (int64, error) {
	kvs, rev, err := is.Store.ListAll(ctx, "res/")
	if err != nil {
		return 0, err
	}
	for _, kv := range kvs {
		if !strings.Contains(kv.Key, "/sslCertificates/") {
			continue
		}
		var c api.SslCertificate
		if json.Unmarshal(kv.Value, &c) != nil || c.Type != api.CertManaged || c.Managed == nil || c.Managed.Status != api.ManagedProvisioning {
			continue
		}
		if err := is.issue(ctx, kv, &c); err != nil {
			fmt.Fprintf(is.Log, "certs: %s: %v\n", c.Name, err)
		} else {
			fmt.Fprintf(is.Log, "certs: issued %s for %s with the development CA\n", c.Name, strings.Join(c.Managed.Domains, ", "))
		}
	}
	return rev, nil
}

func (is *Issuer) issue(ctx context.Context, kv store.KV, c *api.SslCertificate) error {
	chain, key, notAfter, err := is.CA.Issue(c.Managed.Domains, is.Now())
	if err != nil {
		return err
	}
	c.Certificate, c.PrivateKey = chain, key
	c.ExpireTime = notAfter.UTC().Format(api.TimestampFormat)
	c.Managed.Status = api.ManagedActive
	if c.Managed.DomainStatus == nil {
		c.Managed.DomainStatus = map[string]string{}
	}
	for _, d := range c.Managed.Domains {
		c.Managed.DomainStatus[d] = api.ManagedActive
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	// If the certificate changed or went away meanwhile, the next scan sees it.
	_, err = is.Store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: kv.Key, Want: kv.ModRevision}}, Puts: map[string][]byte{kv.Key: data}})
	return err
}
