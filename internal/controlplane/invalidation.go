package controlplane

import (
	"context"
	"errors"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

// An invalidateCache operation runs until every live edge has applied its rule (see
// api/invalidation.go); reading the operation finishes it when they have.

// waitLimit is how long operations.wait holds a request before answering with the
// operation as it is (GCP: about two minutes).
const waitLimit = 2 * time.Minute

// refreshOperation marks a running invalidation DONE once every live edge applied it.
func (s *Server) refreshOperation(ctx context.Context, op *api.Operation) (*api.Operation, error) {
	if op.Status == "DONE" || op.OperationType != "invalidateCache" {
		return op, nil
	}
	done, err := s.invalidationApplied(ctx, op)
	if err != nil || !done {
		return op, err
	}
	op.Status, op.Progress, op.EndTime = "DONE", 100, s.timestamp()
	var change store.Change
	if err := putOperation(&change, op); err != nil {
		return nil, err
	}
	if _, err := s.store.Apply(ctx, change); err != nil {
		return nil, err
	}
	return op, nil
}

// invalidationApplied reports whether every edge registered now has acknowledged a
// revision at or after the one the operation's rule was written at.
func (s *Server) invalidationApplied(ctx context.Context, op *api.Operation) (bool, error) {
	rule, err := s.store.Get(ctx, api.InvalidationsPrefix+op.TargetLink+"/"+op.Name)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // the rule expired with its operation's retention
	}
	if err != nil {
		return false, err
	}
	return s.store.AllAcked(ctx, api.InvalidationAcksPrefix, api.EdgeMembersPrefix, rule.ModRevision)
}

// waitOperation answers operations.wait: at once for a finished operation, else when
// it finishes or waitLimit passes, whichever is first. It watches the edges'
// acknowledgements and membership from before each check, so no change is missed.
func (s *Server) waitOperation(ctx context.Context, scope, name string) (*api.Operation, error) {
	op, err := s.loadOperation(ctx, scope, name)
	if err != nil || op.Status == "DONE" || op.OperationType != "invalidateCache" {
		return op, err
	}
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	// Watches that start now (a watch from a past revision is caught up by etcd only
	// every 100 ms), confirmed created before the first check.
	var changes []<-chan store.Batch
	for _, prefix := range []string{api.InvalidationAcksPrefix, api.EdgeMembersPrefix} {
		changes = append(changes, s.store.Watch(wctx, prefix, 0))
	}
	for {
		if op, err = s.refreshOperation(ctx, op); err != nil || op.Status == "DONE" {
			return op, err
		}
		var ok bool
		select {
		case _, ok = <-changes[0]:
		case _, ok = <-changes[1]:
		case <-ctx.Done():
		}
		if !ok {
			return op, nil // still running (or the watch broke): the caller asks again
		}
	}
}
