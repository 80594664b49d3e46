package cdn

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"meridian/internal/cdn/storage"
)

// Rule is one cache invalidation (urlMaps.invalidateCache): the entries of the backend
// services a URL map routes to whose request host and path match and, when tags are
// given, that carry one of them (Cloud CDN: tags are ORed, and ANDed with host and
// path). A soft rule marks its matches stale, to be revalidated, instead of removing
// them.
type Rule struct {
	// Revision orders rules: the store revision the rule was written at. A rule
	// applies to entries whose fill began before the cache knew of it.
	Revision int64
	Services map[string]bool // nil: every backend service
	Host     string          // "" for every host
	Path     string          // exact, or a prefix when it ends in "*"; "" with tags only
	Tags     []string
	Soft     bool
}

// matches reports whether the rule applies to a stored entry.
func (r *Rule) matches(e *storage.Entry) bool {
	if e.Gen >= r.Revision || e.IsVaryMarker() {
		return false
	}
	if r.Services != nil && !r.Services[e.Service] {
		return false
	}
	if r.Host != "" && !sameHost(r.Host, e.Host) {
		return false
	}
	if r.Path != "" {
		path := r.Path
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
		if prefix, ok := strings.CutSuffix(path, "*"); ok {
			if !strings.HasPrefix(e.Path, prefix) {
				return false
			}
		} else if e.Path != path {
			return false
		}
	}
	if len(r.Tags) == 0 {
		return true
	}
	for _, t := range r.Tags {
		for _, have := range e.Tags {
			if t == have {
				return true
			}
		}
	}
	return false
}

// sameHost compares a rule's host with a request's Host, case-insensitively, ignoring
// the request's port unless the rule names one.
func sameHost(rule, host string) bool {
	if strings.EqualFold(rule, host) {
		return true
	}
	if _, _, err := net.SplitHostPort(rule); err == nil {
		return false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return strings.EqualFold(rule, h)
	}
	return false
}

// apply returns what the rule leaves of a matching entry: nothing, or for a soft rule a
// copy that must be validated before it is served again.
func (r *Rule) apply(e *storage.Entry) (*storage.Entry, bool) {
	if !r.matches(e) {
		return e, false
	}
	if !r.Soft {
		return nil, true
	}
	stale := *e
	stale.TTL, stale.StaleWhileRevalidate, stale.NoStale = 0, 0, true
	stale.Gen = r.Revision // done: the rule has nothing more to do with it
	stale.Memo = nil
	return &stale, true
}

// Invalidate applies a rule to every stored entry and to every fill in flight that
// began before it, and returns how many stored entries it removed or marked stale.
//
// No entry escapes: the rule is recorded before the scan, and a fill stores its entry
// before it checks the recorded rules, so an entry is either stored before the scan
// (which finds it) or checked after the rule was recorded.
func (c *Cache) Invalidate(r Rule) int {
	c.invMu.Lock()
	c.rules = append(c.rules, r)
	c.gen = max(c.gen, r.Revision)
	c.pruneLocked()
	c.invMu.Unlock()
	n := 0
	for key, e := range c.store.All() {
		if r.matches(e) {
			c.store.Update(key, func(cur *storage.Entry) (*storage.Entry, bool) {
				next, changed := r.apply(cur)
				if changed {
					n++
				}
				return next, changed
			})
		}
	}
	c.saveGeneration()
	return n
}

// saveGeneration records, with the disk tier, the newest rule revision applied to it.
func (c *Cache) saveGeneration() {
	if d := c.store.Disk(); d != nil {
		c.invMu.Lock()
		g := storage.Generation{Revision: c.gen, Time: c.now()}
		c.invMu.Unlock()
		if g.Revision > 0 { // a cache that never learned the store's rules records nothing
			d.SaveGeneration(g)
		}
	}
}

// ResumeDisk decides, once the rules still kept (those up to rev) have been applied,
// whether the disk tier's entries from an earlier run can be trusted: not if the store
// was last brought up to date longer ago than rules are kept (a rule may have come and
// gone unseen), nor if it knew revisions beyond rev (another etcd). It drops them then,
// and returns why ("" when they are kept).
func (c *Cache) ResumeDisk(rev int64, retention time.Duration) string {
	d := c.store.Disk()
	if d == nil || d.Len() == 0 {
		return ""
	}
	g := d.LoadGeneration()
	why := ""
	switch {
	case g.Time.IsZero():
		why = "it has no record of the invalidations applied to it"
	case g.Revision > rev:
		why = fmt.Sprintf("it knew store revision %d, beyond the store's %d", g.Revision, rev)
	case c.now().Sub(g.Time) > retention:
		why = fmt.Sprintf("it was last brought up to date at %s, before the oldest invalidation kept", g.Time.Format(time.RFC3339))
	}
	if why != "" {
		d.Clear()
	}
	return why
}

// SetGeneration tells the cache that every rule up to rev is known (it has applied
// them, or it started after them with nothing stored): fills from now on carry rev.
func (c *Cache) SetGeneration(rev int64) {
	c.invMu.Lock()
	c.gen = max(c.gen, rev)
	c.invMu.Unlock()
	c.saveGeneration()
}

// Generation is the newest rule revision the cache knows.
func (c *Cache) Generation() int64 {
	c.invMu.Lock()
	defer c.invMu.Unlock()
	return c.gen
}

// beginFill records a fill in flight and returns its generation.
func (c *Cache) beginFill() int64 {
	c.invMu.Lock()
	defer c.invMu.Unlock()
	c.inflight[c.gen]++
	return c.gen
}

// endFill applies, to the entry a fill stored under key, the rules that arrived while
// it ran, then forgets the fill.
func (c *Cache) endFill(gen int64, key string, stored *storage.Entry) {
	c.invMu.Lock()
	var late []Rule
	if stored != nil {
		for _, r := range c.rules {
			if r.Revision > gen && r.matches(stored) {
				late = append(late, r)
			}
		}
	}
	if c.inflight[gen]--; c.inflight[gen] <= 0 {
		delete(c.inflight, gen)
	}
	c.pruneLocked()
	c.invMu.Unlock()
	for _, r := range late {
		c.store.Update(key, r.apply)
	}
}

// pruneLocked forgets rules no fill in flight can still need: those not newer than the
// oldest fill's generation.
func (c *Cache) pruneLocked() {
	oldest := int64(-1)
	for g := range c.inflight {
		if oldest < 0 || g < oldest {
			oldest = g
		}
	}
	if oldest < 0 {
		c.rules = c.rules[:0]
		return
	}
	kept := c.rules[:0]
	for _, r := range c.rules {
		if r.Revision > oldest {
			kept = append(kept, r)
		}
	}
	c.rules = kept
}
