package controlplane

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"meridian/api"
	"meridian/internal/store"
)

// An invalidateCache operation runs until every live edge has applied its rule (see
// api/invalidation.go); reading the operation finishes it when they have.

// waitLimit is how long operations.wait holds a request before answering with the
// operation as it is (GCP: about two minutes).
const waitLimit = 2 * time.Minute

// refreshOperation marks a running invalidation DONE once every live edge applied it,
// and returns the operation with the store revision the check read at.
func (s *Server) refreshOperation(ctx context.Context, op *api.Operation) (*api.Operation, int64, error) {
	if op.Status == "DONE" || op.OperationType != "invalidateCache" {
		return op, 0, nil
	}
	done, rev, err := s.invalidationApplied(ctx, op)
	if err != nil || !done {
		return op, rev, err
	}
	op.Status, op.Progress, op.EndTime = "DONE", 100, s.timestamp()
	var change store.Change
	if err := putOperation(&change, op); err != nil {
		return nil, 0, err
	}
	if _, err := s.store.Apply(ctx, change); err != nil {
		return nil, 0, err
	}
	return op, rev, nil
}

// invalidationApplied reports whether every edge registered now has acknowledged a
// revision at or after the one the operation's rule was written at.
func (s *Server) invalidationApplied(ctx context.Context, op *api.Operation) (bool, int64, error) {
	rule, err := s.store.Get(ctx, api.InvalidationsPrefix+op.TargetLink+"/"+op.Name)
	if errors.Is(err, store.ErrNotFound) {
		return true, 0, nil // the rule expired with its operation's retention
	}
	if err != nil {
		return false, 0, err
	}
	acks, _, err := s.store.ListAll(ctx, api.InvalidationAcksPrefix)
	if err != nil {
		return false, 0, err
	}
	members, rev, err := s.store.ListAll(ctx, api.EdgeMembersPrefix)
	if err != nil {
		return false, 0, err
	}
	applied := map[string]int64{}
	for _, kv := range acks {
		n, _ := strconv.ParseInt(string(kv.Value), 10, 64)
		applied[strings.TrimPrefix(kv.Key, api.InvalidationAcksPrefix)] = n
	}
	for _, kv := range members {
		if applied[strings.TrimPrefix(kv.Key, api.EdgeMembersPrefix)] < rule.ModRevision {
			return false, rev, nil
		}
	}
	return true, rev, nil
}

// waitOperation answers operations.wait: at once for a finished operation, else when
// it finishes or waitLimit passes, whichever is first, watching the edges'
// acknowledgements and membership in between.
func (s *Server) waitOperation(ctx context.Context, scope, name string) (*api.Operation, error) {
	op, err := s.loadOperation(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	for {
		var rev int64
		if op, rev, err = s.refreshOperation(ctx, op); err != nil || op.Status == "DONE" {
			return op, err
		}
		wctx, stop := context.WithCancel(clientv3.WithRequireLeader(ctx))
		acks := s.store.Client().Watch(wctx, s.store.Prefix()+api.InvalidationAcksPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		members := s.store.Client().Watch(wctx, s.store.Prefix()+api.EdgeMembersPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		select {
		case <-acks:
		case <-members:
		case <-ctx.Done():
		}
		stop()
		if ctx.Err() != nil {
			return op, nil // still running: the caller asks again
		}
	}
}
