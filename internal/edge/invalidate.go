package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"meridian/api"
	"meridian/internal/cdn"
	"meridian/internal/store"
)

// The edge's part of cache invalidation (see api/invalidation.go): apply each rule the
// API writes to the cache, and acknowledge under the membership lease.

// invalidations applies the rules among a watch response's events; it reports whether
// there were any.
func (e *Edge) invalidations(events []store.Event) bool {
	any := false
	for _, ev := range events {
		if ev.Deleted || !strings.HasPrefix(ev.Key, api.InvalidationsPrefix) {
			continue
		}
		e.applyRule(ev.Key, ev.ModRevision, ev.Value)
		any = true
	}
	return any
}

// catchUp applies the rules written since the cache's generation (while the watch was
// broken) and returns the revision it read at.
func (e *Edge) catchUp(ctx context.Context) (int64, error) {
	kvs, rev, err := e.store.ListAll(ctx, api.InvalidationsPrefix)
	if err != nil {
		return 0, err
	}
	e.applyRules(kvs, rev)
	return rev, nil
}

// resumeDisk readies what the disk tier kept from an earlier run before anything is
// served: dropped if it may have missed rules, otherwise brought up to date with every
// rule still kept.
func (e *Edge) resumeDisk(ctx context.Context) error {
	kvs, rev, err := e.store.ListAll(ctx, api.InvalidationsPrefix)
	if err != nil {
		return err
	}
	d := e.cache.Store().Disk()
	if why := e.cache.ResumeDisk(rev, api.OperationRetention); why != "" {
		fmt.Fprintf(e.cfg.Log, "edge: the disk cache's entries are dropped: %s\n", why)
	} else {
		fmt.Fprintf(e.cfg.Log, "edge: the disk cache keeps %d entries (%d bytes)\n", d.Len(), d.Bytes())
	}
	e.applyRules(kvs, rev)
	return nil
}

// applyRules applies, in revision order, the rules among kvs newer than the cache's
// generation, read at rev.
func (e *Edge) applyRules(kvs []store.KV, rev int64) {
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].ModRevision < kvs[j].ModRevision })
	gen := e.cache.Generation()
	for _, kv := range kvs {
		if kv.ModRevision > gen {
			e.applyRule(kv.Key, kv.ModRevision, kv.Value)
		}
	}
	e.cache.SetGeneration(rev)
}

// applyRule turns a stored rule into the cache's and applies it: to the backend
// services its URL map routes to, or to every one when this edge does not serve the
// URL map (nothing is missed for want of configuration).
func (e *Edge) applyRule(key string, rev int64, data []byte) {
	var r api.CacheInvalidationRule
	if err := json.Unmarshal(data, &r); err != nil {
		fmt.Fprintf(e.cfg.Log, "edge: invalidation %s is corrupt: %v\n", key, err)
		return
	}
	rule := cdn.Rule{Revision: rev, Host: r.Host, Path: r.Path, Tags: r.CacheTags, Soft: r.Soft}
	urlMap := strings.TrimPrefix(key, api.InvalidationsPrefix)
	if i := strings.LastIndexByte(urlMap, '/'); i >= 0 {
		urlMap = urlMap[:i]
	}
	if services, ok := e.snap.Load().URLMaps[urlMap]; ok {
		rule.Services = map[string]bool{}
		for _, s := range services {
			rule.Services[s] = true
		}
	}
	n := e.cache.Invalidate(rule)
	fmt.Fprintf(e.cfg.Log, "edge: invalidation of %s (path %q host %q tags %v soft %v): %d entries\n", urlMap, r.Path, r.Host, r.CacheTags, r.Soft, n)
}

// ack publishes the newest revision the edge has applied.
func (e *Edge) ack(ctx context.Context, rev int64) {
	if err := e.group.Ack(ctx, rev); err != nil && ctx.Err() == nil {
		fmt.Fprintf(e.cfg.Log, "edge: acknowledging invalidations: %v\n", err)
	}
}
