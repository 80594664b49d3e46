package store

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease is an etcd lease kept alive until Release: keys put under it vanish when the
// process that holds it stops renewing it, which is how members and the endpoints they
// publish drop out by themselves.
type Lease struct {
	store   *Store
	id      clientv3.LeaseID
	stop    context.CancelFunc
	drained chan struct{}
}

// KeepLease grants a lease of ttl and renews it in an owned goroutine until Release or
// until ctx is done.
func (s *Store) KeepLease(ctx context.Context, ttl time.Duration) (*Lease, error) {
	granted, err := s.client.Grant(ctx, int64(ttl/time.Second))
	if err != nil {
		return nil, fmt.Errorf("store: lease: %w", err)
	}
	kctx, stop := context.WithCancel(ctx)
	alive, err := s.client.KeepAlive(kctx, granted.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("store: lease: %w", err)
	}
	l := &Lease{store: s, id: granted.ID, stop: stop, drained: make(chan struct{})}
	go func() { // consume renewal answers until the lease is given up
		defer close(l.drained)
		for range alive {
		}
	}()
	return l, nil
}

// Lost is closed when the lease stops being renewed: released, or expired because etcd
// could not be reached for its whole TTL. Keys written under it are gone then.
func (l *Lease) Lost() <-chan struct{} { return l.drained }

// Put writes key under the lease.
func (l *Lease) Put(ctx context.Context, key string, value []byte) error {
	if _, err := l.store.client.Put(ctx, l.store.prefix+key, string(value), clientv3.WithLease(l.id)); err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

// Release stops renewing and revokes the lease, deleting its keys at once; if etcd is
// unreachable they expire with the lease instead.
func (l *Lease) Release() {
	l.stop()
	<-l.drained
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l.store.client.Revoke(ctx, l.id)
}

// Claim puts key under the lease unless another claimant holds it, and reports whether
// this lease holds it afterwards: an exclusive role (such as running a region) that
// passes to another claimant when the holder's lease ends. value identifies the
// claimant: a claim with the same value under another lease is taken over.
func (l *Lease) Claim(ctx context.Context, key string, value []byte) (bool, error) {
	k := l.store.prefix + key
	resp, err := l.store.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value), clientv3.WithLease(l.id))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("store: claim %s: %w", key, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return false, nil
	}
	if clientv3.LeaseID(kvs[0].Lease) == l.id {
		return true, nil
	}
	// The same claimant under an older lease: one this process gave up for lost while
	// etcd still kept it (a new etcd leader extends every lease). It is still this
	// claimant's, so it moves to the new lease rather than locking its holder out until
	// the old lease expires.
	if string(kvs[0].Value) != string(value) {
		return false, nil
	}
	resp, err = l.store.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(k), "=", kvs[0].ModRevision)).
		Then(clientv3.OpPut(k, string(value), clientv3.WithLease(l.id))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("store: claim %s: %w", key, err)
	}
	return resp.Succeeded, nil
}
