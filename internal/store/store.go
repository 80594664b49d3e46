// Package store is Meridian's only access to etcd: typed reads, conditional multi-key
// writes in one transaction, and watches. The control plane writes through Apply, whose
// conditions make reference checks, uniqueness and optimistic locking atomic; data
// planes read and watch. The embedded server for `meridian serve` is in embed.go.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: not found")

// Store reads and writes keys below a prefix of one etcd cluster.
type Store struct {
	client *clientv3.Client
	prefix string // every key is prefix + the caller's key
}

// KV is one key (without the store's prefix), its value and revisions.
type KV struct {
	Key            string
	Value          []byte
	ModRevision    int64
	CreateRevision int64
	Lease          int64 // the lease of an expiring key, else 0
}

// New wraps an etcd client. The prefix keeps Meridian's keys apart from others that
// share the cluster.
func New(client *clientv3.Client, prefix string) *Store {
	return &Store{client: client, prefix: prefix}
}

// Dial connects to an etcd cluster.
func Dial(cfg Etcd, prefix string) (*Store, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	// The client's own logger would write retry warnings to stderr; errors reach the
	// caller anyway.
	c, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, TLS: tlsConfig, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("store: connect to etcd %v: %w", cfg.Endpoints, err)
	}
	return New(c, prefix), nil
}

// Close closes the client.
func (s *Store) Close() error { return s.client.Close() }

// Client exposes the etcd client for watches and leases.
func (s *Store) Client() *clientv3.Client { return s.client }

// Get reads one key.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	resp, err := s.client.Get(ctx, s.prefix+key)
	if err != nil {
		return KV{}, fmt.Errorf("store: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, ErrNotFound
	}
	return s.kv(resp.Kvs[0]), nil
}

// List reads the keys with a prefix in key order, starting after `after` (empty for the
// start) and returning at most limit keys (0 for all), and whether more remain.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]KV, bool, error) {
	start := s.prefix + prefix
	if after != "" {
		start = s.prefix + after + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.prefix + prefix)), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.client.Get(ctx, start, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	out := make([]KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, s.kv(kv))
	}
	return out, resp.More, nil
}

// ListAll reads every key with a prefix and the store revision of that read, from
// which a watch can continue without missing a change.
func (s *Store) ListAll(ctx context.Context, prefix string) ([]KV, int64, error) {
	resp, err := s.client.Get(ctx, s.prefix+prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	out := make([]KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, s.kv(kv))
	}
	return out, resp.Header.Revision, nil
}

// ListPrefixes reads every key under each prefix in one transaction, so the lists are
// consistent with each other and with the returned revision.
func (s *Store) ListPrefixes(ctx context.Context, prefixes ...string) ([][]KV, int64, error) {
	ops := make([]clientv3.Op, len(prefixes))
	for i, p := range prefixes {
		ops[i] = clientv3.OpGet(s.prefix+p, clientv3.WithPrefix())
	}
	resp, err := s.client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %v: %w", prefixes, err)
	}
	out := make([][]KV, len(prefixes))
	for i, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			out[i] = append(out[i], s.kv(kv))
		}
	}
	return out, resp.Header.Revision, nil
}

// Prefix is the key prefix of this store in etcd, for watches on the raw client.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) kv(kv *mvccpb.KeyValue) KV {
	return KV{Key: string(kv.Key[len(s.prefix):]), Value: kv.Value, ModRevision: kv.ModRevision, CreateRevision: kv.CreateRevision, Lease: kv.Lease}
}

// Condition is one precondition of a Change.
type Condition struct {
	Key string
	// Want is what must hold: Absent, Present, or (for a value > 0) the key's exact
	// ModRevision.
	Want int64
	// Prefix makes the condition hold for every key under Key (only with Absent: no key
	// has the prefix).
	Prefix bool
}

// Condition targets.
const (
	Absent  int64 = 0
	Present int64 = -1
)

// Change is a set of writes applied atomically if every condition holds.
type Change struct {
	Conditions []Condition
	Puts       map[string][]byte
	Deletes    []string
	// Expiring puts are removed by etcd after TTL (a lease), for records such as
	// operations that clients read for a while after the call and nobody after that.
	Expiring map[string][]byte
	TTL      time.Duration
}

// ConditionFailed reports the first condition of a Change that did not hold, with
// what was found there (for an Absent prefix condition, the first key under it).
type ConditionFailed struct {
	Condition Condition
	Found     *KV
}

func (e *ConditionFailed) Error() string {
	return fmt.Sprintf("store: condition on %s failed", e.Condition.Key)
}

// Apply commits a Change in one etcd transaction and returns its revision. When a
// condition fails it returns a *ConditionFailed naming it; the transaction's else
// branch reads every conditioned key, so the answer is consistent with the failure.
func (s *Store) Apply(ctx context.Context, c Change) (int64, error) {
	cmps := make([]clientv3.Cmp, 0, len(c.Conditions))
	reads := make([]clientv3.Op, 0, len(c.Conditions))
	for _, cond := range c.Conditions {
		key := s.prefix + cond.Key
		var cmp clientv3.Cmp
		switch {
		case cond.Want == Absent:
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		case cond.Want == Present:
			cmp = clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
		default:
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", cond.Want)
		}
		read := clientv3.OpGet(key)
		if cond.Prefix {
			cmp = cmp.WithPrefix()
			read = clientv3.OpGet(key, clientv3.WithPrefix(), clientv3.WithLimit(1))
		}
		cmps = append(cmps, cmp)
		reads = append(reads, read)
	}
	ops := make([]clientv3.Op, 0, len(c.Puts)+len(c.Deletes)+len(c.Expiring))
	for k, v := range c.Puts {
		ops = append(ops, clientv3.OpPut(s.prefix+k, string(v)))
	}
	if len(c.Expiring) > 0 {
		lease, err := s.client.Grant(ctx, int64(c.TTL/time.Second))
		if err != nil {
			return 0, fmt.Errorf("store: lease: %w", err)
		}
		for k, v := range c.Expiring {
			ops = append(ops, clientv3.OpPut(s.prefix+k, string(v), clientv3.WithLease(lease.ID)))
		}
	}
	for _, k := range c.Deletes {
		ops = append(ops, clientv3.OpDelete(s.prefix+k))
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(reads...).Commit()
	if err != nil {
		return 0, fmt.Errorf("store: transaction: %w", err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	for i, cond := range c.Conditions {
		kvs := resp.Responses[i].GetResponseRange().Kvs
		var found *KV
		if len(kvs) > 0 {
			kv := s.kv(kvs[0])
			found = &kv
		}
		if !conditionHolds(cond, found) {
			return 0, &ConditionFailed{Condition: cond, Found: found}
		}
	}
	// Every condition holds now although one did not at commit time: another writer
	// raced us. Report the first as failed so the caller retries or reports a conflict.
	return 0, &ConditionFailed{Condition: c.Conditions[0]}
}

func conditionHolds(c Condition, found *KV) bool {
	switch {
	case c.Want == Absent:
		return found == nil
	case c.Want == Present:
		return found != nil
	default:
		return found != nil && found.ModRevision == c.Want
	}
}

// AllAcked reports whether every member listed under membersPrefix has acknowledged
// (a decimal revision at acksPrefix + its id) rev or a later revision.
func (s *Store) AllAcked(ctx context.Context, acksPrefix, membersPrefix string, rev int64) (bool, error) {
	lists, _, err := s.ListPrefixes(ctx, acksPrefix, membersPrefix)
	if err != nil {
		return false, err
	}
	applied := map[string]int64{}
	for _, kv := range lists[0] {
		n, _ := strconv.ParseInt(string(kv.Value), 10, 64)
		applied[strings.TrimPrefix(kv.Key, acksPrefix)] = n
	}
	for _, kv := range lists[1] {
		if applied[strings.TrimPrefix(kv.Key, membersPrefix)] < rev {
			return false, nil
		}
	}
	return true, nil
}
