package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"meridian/api"
	"meridian/internal/store"
)

// Every mutation in Meridian completes inside its own transaction, so its Operation is
// born DONE, except cache invalidation, which runs until every edge has applied it
// (invalidation.go). Operations are stored, because clients (gcloud, Google's
// libraries) poll operations.get or operations.wait by name after the call.
func (s *Server) newOperation(target api.ResourcePath, opType string, targetID uint64, requestID string) *api.Operation {
	now := s.timestamp()
	name := fmt.Sprintf("operation-%d-%016x", s.cfg.Now().UnixMilli(), newID())
	op := &api.Operation{
		Kind: "compute#operation", ID: newID(), Name: name, OperationType: opType,
		Status: "DONE", Progress: 100, TargetLink: target.String(), TargetID: targetID,
		User: apiUser, ClientOperationID: requestID,
		InsertTime: now, StartTime: now, EndTime: now, CreationTimestamp: now,
		SelfLink: target.Scope() + "/operations/" + name,
	}
	if target.Region != "" {
		op.Region = api.RegionPath(target.Project, target.Region)
	}
	return op
}

// apiUser is who Meridian says made a change (an operation's user, a Knative object's
// creator): it has one principal, whoever holds the API's token.
const apiUser = "meridian"

// operationRetention is how long operations can be read after they finish; GCP keeps
// them for a limited time too, and etcd drops them by itself when their lease expires.
// Invalidation rules live as long as their operations.
const operationRetention = api.OperationRetention

func putOperation(change *store.Change, op *api.Operation) error {
	data, err := json.Marshal(op)
	if err != nil {
		return err
	}
	scope := op.SelfLink[:len(op.SelfLink)-len("/operations/"+op.Name)]
	if change.Expiring == nil {
		change.Expiring = map[string][]byte{}
	}
	change.Expiring[opKey(scope, op.Name)] = data
	change.TTL = operationRetention
	return nil
}

// serveOperation implements globalOperations and regionOperations: get, wait, list,
// delete.
func (s *Server) serveOperation(r *http.Request, rt route) (any, error) {
	scope := api.ResourcePath{Project: rt.project, Region: rt.region}.Scope()
	ctx := r.Context()
	switch {
	case rt.aggregated && r.Method == http.MethodGet:
		return s.aggregatedOperations(ctx, rt.project)
	case rt.name == "" && r.Method == http.MethodGet:
		return s.listOperations(ctx, scope, rt)
	case rt.action == "" && r.Method == http.MethodGet:
		op, err := s.loadOperation(ctx, scope, rt.name)
		if err != nil {
			return nil, err
		}
		return s.refreshOperation(ctx, op)
	case rt.action == "wait" && r.Method == http.MethodPost:
		return s.waitOperation(ctx, scope, rt.name)
	case rt.action == "" && r.Method == http.MethodDelete:
		if _, err := s.loadOperation(ctx, scope, rt.name); err != nil {
			return nil, err
		}
		_, err := s.store.Apply(ctx, store.Change{Deletes: []string{opKey(scope, rt.name)}})
		return struct{}{}, err
	}
	return nil, &apiError{405, "httpMethodNotAllowed", "Method " + r.Method + " is not allowed on " + r.URL.Path}
}

func (s *Server) loadOperation(ctx context.Context, scope, name string) (*api.Operation, error) {
	kv, err := s.store.Get(ctx, opKey(scope, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound(scope + "/operations/" + name)
	}
	if err != nil {
		return nil, err
	}
	var op api.Operation
	if err := json.Unmarshal(kv.Value, &op); err != nil {
		return nil, fmt.Errorf("stored operation %s is corrupt: %w", name, err)
	}
	return &op, nil
}

func (s *Server) listOperations(ctx context.Context, scope string, rt route) (any, error) {
	kvs, _, err := s.store.List(ctx, "ops/"+scope+"/operations/", "", 0)
	if err != nil {
		return nil, err
	}
	items := make([]any, 0, len(kvs))
	for _, kv := range kvs {
		var op api.Operation
		if json.Unmarshal(kv.Value, &op) == nil {
			refreshed, err := s.refreshOperation(ctx, &op)
			if err != nil {
				return nil, err
			}
			items = append(items, refreshed)
		}
	}
	return listResponse{Kind: "compute#operationList", ID: scope + "/operations", Items: items, SelfLink: scope + "/operations"}, nil
}

// aggregatedOperations answers projects/{p}/aggregated/operations: every scope's
// operations in a map keyed "global" or "regions/{r}", the shape gcloud's
// `operations list` reads.
func (s *Server) aggregatedOperations(ctx context.Context, project string) (any, error) {
	prefix := "ops/projects/" + project + "/"
	kvs, _, err := s.store.List(ctx, prefix, "", 0)
	if err != nil {
		return nil, err
	}
	items := map[string]map[string][]any{}
	for _, kv := range kvs {
		scope, _, ok := strings.Cut(strings.TrimPrefix(kv.Key, prefix), "/operations/")
		var op api.Operation
		if !ok || json.Unmarshal(kv.Value, &op) != nil {
			continue
		}
		refreshed, err := s.refreshOperation(ctx, &op)
		if err != nil {
			return nil, err
		}
		if items[scope] == nil {
			items[scope] = map[string][]any{}
		}
		items[scope]["operations"] = append(items[scope]["operations"], refreshed)
	}
	self := "projects/" + project + "/aggregated/operations"
	return aggregatedListResponse{Kind: "compute#operationAggregatedList", ID: self, Items: items, SelfLink: self}, nil
}
