package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"meridian/api"
	"meridian/internal/store"
)

// orderState is a certificate's ACME retry schedule, kept beside it in the store.
type orderState struct {
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next"`
	Error    string    `json:"error,omitempty"`
}

// orderIfDue orders c from the ACME server when it is due (PROVISIONING, failed and
// past its backoff, issued by the development CA, or within RenewBefore of expiring)
// and returns when it falls due next (zero: not until it changes).
func (is *Issuer) orderIfDue(ctx context.Context, kv store.KV, c *api.SslCertificate) (time.Time, error) {
	now := is.Now()
	renewBefore := is.ACME.RenewBefore
	if renewBefore <= 0 {
		renewBefore = defaultRenewBefore
	}
	var prev *api.SslCertificate
	switch c.Managed.Status {
	case api.ManagedProvisioning, managedProvisioningFailed:
	case api.ManagedActive, managedRenewalFailed:
		leaf, err := api.ParseCertificateChain(c.Certificate)
		if err != nil {
			break // nothing usable stored: order afresh
		}
		if leaf.Issuer.CommonName != devCAName { // the development CA's are replaced at once
			if renewAt := leaf.NotAfter.Add(-renewBefore); now.Before(renewAt) {
				return renewAt, nil
			}
			prev = c
		}
	default:
		return time.Time{}, nil
	}
	st, err := is.orderState(ctx, kv.Key)
	if err != nil {
		return time.Time{}, err
	}
	if now.Before(st.Next) {
		return st.Next, nil
	}
	// One order per certificate at a time across every API process.
	lock := concurrency.NewMutex(is.session, is.Store.Prefix()+"acme/lock/"+kv.Key)
	if err := lock.TryLock(ctx); err != nil {
		if errors.Is(err, concurrency.ErrLocked) {
			return now.Add(is.retryAfter(1)), nil // another API orders it; its write wakes this one
		}
		return time.Time{}, err
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	// What the holder before us did is in the store now.
	if cur, err := is.Store.Get(ctx, kv.Key); err != nil || cur.ModRevision != kv.ModRevision {
		return now, err
	}
	if st, err = is.orderState(ctx, kv.Key); err != nil || now.Before(st.Next) {
		return st.Next, err
	}
	verb := "ordering"
	if prev != nil {
		verb = "renewing"
	}
	fmt.Fprintf(is.Log, "certs: %s %s for %s from %s\n", verb, c.Name, strings.Join(c.Managed.Domains, ", "), is.ACME.Directory)
	res, err := is.acme.obtain(ctx, c.Managed.Domains, prev)
	if err == nil {
		leaf, perr := api.ParseCertificateChain(string(res.Certificate))
		if perr != nil {
			return now.Add(is.retryAfter(st.Attempts + 1)), fmt.Errorf("the ACME server's certificate: %w", perr)
		}
		if err := is.activate(ctx, kv, c, string(res.Certificate), string(res.PrivateKey), leaf.NotAfter); err != nil {
			return now, err
		}
		fmt.Fprintf(is.Log, "certs: issued %s for %s by %s, until %s\n", c.Name, strings.Join(c.Managed.Domains, ", "), leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
		return leaf.NotAfter.Add(-renewBefore), nil
	}
	if ctx.Err() != nil {
		return time.Time{}, ctx.Err()
	}
	st.Attempts++
	st.Next = now.Add(is.retryAfter(st.Attempts))
	st.Error = err.Error()
	statuses := domainStatuses(c.Managed.Domains, err)
	failed := false
	for _, s := range statuses {
		failed = failed || s != api.ManagedProvisioning
	}
	if prev == nil {
		c.Managed.DomainStatus = statuses
		c.Managed.Status = api.ManagedProvisioning
		if failed {
			c.Managed.Status = managedProvisioningFailed
		}
	} else if failed {
		// The certificate in use stays served until it expires.
		c.Managed.Status = managedRenewalFailed
	}
	if werr := is.saveFailure(ctx, kv, c, st); werr != nil {
		return st.Next, werr
	}
	fmt.Fprintf(is.Log, "certs: %s: %s failed (attempt %d, next in %s): %v\n", c.Name, verb, st.Attempts, st.Next.Sub(now).Round(time.Second), err)
	return st.Next, nil
}

// retryAfter is the wait after the n-th failure in a row: RetryAfter doubled each
// time, at most a day.
func (is *Issuer) retryAfter(n int) time.Duration {
	d := is.ACME.RetryAfter
	if d <= 0 {
		d = defaultRetryAfter
	}
	for i := 1; i < n && d < maxRetryAfter; i++ {
		d *= 2
	}
	return min(d, maxRetryAfter)
}

func (is *Issuer) orderState(ctx context.Context, certKey string) (orderState, error) {
	var st orderState
	kv, err := is.Store.Get(ctx, acmeStatePrefix+certKey)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(kv.Value, &st)
}

// saveFailure writes the certificate's statuses and its retry schedule together.
func (is *Issuer) saveFailure(ctx context.Context, kv store.KV, c *api.SslCertificate, st orderState) error {
	cert, err := json.Marshal(c)
	if err != nil {
		return err
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = is.Store.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: kv.Key, Want: kv.ModRevision}},
		Puts: map[string][]byte{kv.Key: cert, acmeStatePrefix + kv.Key: state}})
	return err
}
