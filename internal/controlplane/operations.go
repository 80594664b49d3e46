package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
		return s.aggregatedOperations(ctx, rt.project, r.URL.Query())
	case rt.name == "" && r.Method == http.MethodGet:
		return s.listOperations(ctx, scope, r.URL.Query())
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

func (s *Server) listOperations(ctx context.Context, scope string, q url.Values) (any, error) {
	ops, next, err := s.queryOperations(ctx, "ops/"+scope+"/operations/", q)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(ops))
	for i, op := range ops {
		items[i] = op.op
	}
	return listResponse{Kind: "compute#operationList", ID: scope + "/operations", Items: items, NextPageToken: next, SelfLink: scope + "/operations"}, nil
}

// aggregatedOperations answers projects/{p}/aggregated/operations: every scope's
// operations in a map keyed "global" or "regions/{r}", the shape gcloud's
// `operations list` and `url-maps list-cdn-cache-invalidations` read.
func (s *Server) aggregatedOperations(ctx context.Context, project string, q url.Values) (any, error) {
	ops, next, err := s.queryOperations(ctx, "ops/projects/"+project+"/", q)
	if err != nil {
		return nil, err
	}
	items := map[string]map[string][]any{}
	for _, op := range ops {
		if items[op.scope] == nil {
			items[op.scope] = map[string][]any{}
		}
		items[op.scope]["operations"] = append(items[op.scope]["operations"], op.op)
	}
	self := "projects/" + project + "/aggregated/operations"
	return aggregatedListResponse{Kind: "compute#operationAggregatedList", ID: self, Items: items, NextPageToken: next, SelfLink: self}, nil
}

// aggregatedScope is the key of a scope in aggregated lists: "projects/p/global" is
// "global", "projects/p/regions/r" is "regions/r".
func aggregatedScope(scope string) string {
	if parts := strings.SplitN(scope, "/", 3); len(parts) == 3 && parts[0] == "projects" {
		return parts[2]
	}
	return scope
}

// scopedOperation is an operation and its scope key ("global", "regions/r").
type scopedOperation struct {
	scope string
	op    *api.Operation
}

// queryOperations reads the operations under prefix with Compute's list parameters:
// `filter`, `orderBy` ("creationTimestamp desc", "creationTimestamp" or "name", the
// default), and `maxResults` pages, whose token is the offset of the next one.
func (s *Server) queryOperations(ctx context.Context, prefix string, q url.Values) ([]scopedOperation, string, error) {
	filter, err := parseFilter(q.Get("filter"))
	if err != nil {
		return nil, "", errInvalid("Invalid value for field 'filter': '%s'. %v", q.Get("filter"), err)
	}
	limit, err := maxResults(q)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		if offset, err = strconv.Atoi(tok); err != nil || offset < 0 {
			return nil, "", errInvalid("Invalid value for field 'pageToken': '%s'.", tok)
		}
	}
	kvs, _, err := s.store.List(ctx, prefix, "", 0)
	if err != nil {
		return nil, "", err
	}
	var ops []scopedOperation
	for _, kv := range kvs {
		rest := strings.TrimPrefix(kv.Key, "ops/")
		scope, _, ok := strings.Cut(rest, "/operations/")
		var op api.Operation
		if !ok || json.Unmarshal(kv.Value, &op) != nil {
			continue
		}
		refreshed, err := s.refreshOperation(ctx, &op)
		if err != nil {
			return nil, "", err
		}
		if filter.matches(s.toJSONValue(refreshed)) {
			ops = append(ops, scopedOperation{aggregatedScope(scope), refreshed})
		}
	}
	switch order := q.Get("orderBy"); order {
	case "", "name":
	case "creationTimestamp", "creationTimestamp asc", "creationTimestamp desc":
		desc := strings.HasSuffix(order, " desc")
		sort.SliceStable(ops, func(i, j int) bool {
			a, b := ops[i].op.InsertTime, ops[j].op.InsertTime
			if desc {
				return a > b
			}
			return a < b
		})
	default:
		return nil, "", errInvalid("Invalid value for field 'orderBy': '%s'. Operations are ordered by 'name' or 'creationTimestamp [desc]'.", order)
	}
	if offset > len(ops) {
		offset = len(ops)
	}
	ops, next := ops[offset:], ""
	if len(ops) > limit {
		ops, next = ops[:limit], strconv.Itoa(offset+limit)
	}
	return ops, next, nil
}
