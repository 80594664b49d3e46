package controlplane

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"

	"meridian/api"
)

// listResponse is Compute's list shape.
type listResponse struct {
	Kind          string `json:"kind"`
	ID            string `json:"id"`
	Items         []any  `json:"items,omitempty"`
	NextPageToken string `json:"nextPageToken,omitempty"`
	SelfLink      string `json:"selfLink"`
}

// maxListResults is GCP's cap and default for maxResults.
const maxListResults = 500

// list implements Compute's list: items in name order, `filter` applied to each item's
// JSON, and paging by maxResults and an opaque pageToken (the last name returned).
func (s *Server) list(ctx context.Context, k *kind, rt route, q url.Values) (any, error) {
	limit, err := maxResults(q)
	if err != nil {
		return nil, err
	}
	filter, err := parseFilter(q.Get("filter"))
	if err != nil {
		return nil, errInvalid("Invalid value for field 'filter': '%s'. %v", q.Get("filter"), err)
	}
	prefix := resKey(pathOf(k, rt, "").String())
	after := ""
	if tok := q.Get("pageToken"); tok != "" {
		name, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, errInvalid("Invalid value for field 'pageToken': '%s'.", tok)
		}
		after = prefix + string(name)
	}
	kvs, _, err := s.store.List(ctx, prefix, after, 0)
	if err != nil {
		return nil, err
	}
	scope := pathOf(k, rt, "").Scope()
	resp := listResponse{Kind: k.kind + "List", ID: scope + "/" + k.collection, SelfLink: scope + "/" + k.collection}
	for _, kv := range kvs {
		res := k.new()
		if err := jsonUnmarshal(kv.Value, res); err != nil {
			return nil, err
		}
		if _, err := s.decorate(ctx, res); err != nil {
			return nil, err
		}
		if !filter.matches(s.toJSONValue(res)) {
			continue
		}
		if len(resp.Items) == limit {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(resp.Items[limit-1].(api.Resource).ResourceMeta().Name))
			break
		}
		resp.Items = append(resp.Items, res)
	}
	return resp, nil
}

// aggregatedList answers projects/{p}/aggregated/{collection}: every scope's items,
// keyed "global" or "regions/{r}", as gcloud's list commands ask for them.
func (s *Server) aggregatedList(ctx context.Context, k *kind, project string, q url.Values) (any, error) {
	filter, err := parseFilter(q.Get("filter"))
	if err != nil {
		return nil, errInvalid("Invalid value for field 'filter': '%s'. %v", q.Get("filter"), err)
	}
	kvs, _, err := s.store.List(ctx, api.ResourceKey("projects/"+project+"/"), "", 0)
	if err != nil {
		return nil, err
	}
	items := map[string]map[string][]any{}
	for _, kv := range kvs {
		p, err := api.ParseResourcePath(strings.TrimPrefix(kv.Key, api.ResourcesPrefix), project)
		if err != nil || p.Collection != k.collection {
			continue
		}
		res := k.new()
		if err := jsonUnmarshal(kv.Value, res); err != nil {
			return nil, err
		}
		if _, err := s.decorate(ctx, res); err != nil {
			return nil, err
		}
		if !filter.matches(s.toJSONValue(res)) {
			continue
		}
		scope := aggregatedScope(p.Scope())
		if items[scope] == nil {
			items[scope] = map[string][]any{}
		}
		items[scope][k.collection] = append(items[scope][k.collection], res)
	}
	self := "projects/" + project + "/aggregated/" + k.collection
	return aggregatedListResponse{Kind: k.kind + "AggregatedList", ID: self, Items: items, SelfLink: self}, nil
}

// maxResults is a list's page size: the maxResults parameter, at most (and by default)
// GCP's cap.
func maxResults(q url.Values) (int, error) {
	limit := maxListResults
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, errInvalid("Invalid value for field 'maxResults': '%s'. Must be a non-negative integer.", v)
		}
		if n > 0 && n < limit {
			limit = n
		}
	}
	return limit, nil
}

// aggregatedListResponse is Compute's aggregated list shape: items keyed by scope
// ("global", "regions/{r}"), each holding the collection's items under its name.
type aggregatedListResponse struct {
	Kind          string                      `json:"kind"`
	ID            string                      `json:"id"`
	Items         map[string]map[string][]any `json:"items"`
	NextPageToken string                      `json:"nextPageToken,omitempty"`
	SelfLink      string                      `json:"selfLink"`
}
