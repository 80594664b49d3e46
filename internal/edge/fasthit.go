package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"meridian/api"
	"meridian/internal/observe"
	"meridian/internal/snapshot"
)

// The fast path's hits (h1.go): a plain GET or HEAD that the cache holds fresh is
// answered from a header block rendered once per stored response and route, with only
// Age and Cache-Status made per hit: the same response serveCached gives, without the
// general path's per-request work.

// hitKey is what a rendered header block depends on besides the stored response.
type hitKey struct {
	snap    *snapshot.Snapshot
	service string
	actions [3]*api.HttpHeaderAction
}

// fastHit is a hit ready to write.
type fastHit struct {
	block       []byte // the status line and header fields, up to Age and Cache-Status
	body        []byte // nil for HEAD
	age         int64  // seconds
	cacheStatus string
	entry       observe.Entry
	start       time.Time
}

// fastVerdict is what the fast path does with a request.
type fastVerdict int

const (
	handOff   fastVerdict = iota // to net/http: a miss, or anything the fast path does not take
	writeHit                     // the prepared hit
	serveHere                    // a fresh hit the general handler answers, on the fast path's connection
)

// classify routes a request on the fast path once and looks it up in the cache once:
// a plain GET or HEAD the cache holds fresh on a CDN-enabled route is prepared as a
// hit; another fresh hit goes to the general handler without leaving the fast path;
// everything else is handed to net/http.
func (p *proxy) classify(r *http.Request, addr string) (fastHit, fastVerdict) {
	start := time.Now()
	snap := p.edge.snap.Load()
	l := snap.Listeners[addr]
	if l == nil || p.edge.cache == nil {
		return fastHit{}, handOff
	}
	res, scheme := match(l, r)
	if res.Redirect != nil || len(res.Weighted) > 0 {
		return fastHit{}, handOff
	}
	svc := snap.Services[res.Service]
	if svc == nil || !svc.Resource.EnableCDN || len(svc.Resource.SignedURLKeys) > 0 {
		return fastHit{}, handOff
	}
	route := p.cdnRoute(r, svc, res, scheme)
	e, age, plain, ok := p.edge.cache.FreshLookup(r, route)
	switch {
	case !ok:
		return fastHit{}, handOff
	case !plain || len(res.HeaderActions) > len(hitKey{}.actions) || !cdnVariablesOnly(svc.Resource.CustomResponseHeaders):
		return fastHit{}, serveHere
	}
	key := hitKey{snap: snap, service: res.Service}
	copy(key.actions[:], res.HeaderActions)
	block := e.Memo.Load(key)
	if block == nil {
		h := p.edge.cache.HitHeader(e, route)
		if h == nil {
			return fastHit{}, serveHere
		}
		block = appendHeader(appendStatusLine(make([]byte, 0, 512), http.StatusOK), h, hitSkip)
		e.Memo.Store(key, block)
	}
	hit := fastHit{block: block, age: int64(age / time.Second), cacheStatus: p.edge.cache.HitStatus(e, age), start: start}
	if r.Method != http.MethodHead {
		hit.body = e.Body
	}
	hit.entry = listenerEntry(l)
	hit.entry.BackendService = api.LastSegment(res.Service)
	hit.entry.CacheLookup, hit.entry.CacheHit, hit.entry.CacheID, hit.entry.CacheStatus = true, true, p.edge.cache.Name(), "hit"
	return hit, writeHit
}

// hitSkip leaves out of a rendered block what the connection decides.
var hitSkip = map[string]bool{"Transfer-Encoding": true, "Connection": true}

// logHit records a hit the fast path wrote, as the general path records one.
func (p *proxy) logHit(hit *fastHit, r *http.Request, written int64) {
	entry := hit.entry
	entry.RequestSize = requestHeaderSize(r)
	entry = completeEntry(entry, &recorder{status: http.StatusOK, bytes: written, detail: "response_from_cache"}, r, hit.start)
	p.edge.cfg.RequestLog.Log(entry)
	p.edge.cfg.Metrics.Observe(entry)
}

// cdnVariablesOnly reports whether custom response headers use no variable but the
// CDN's ({cdn_cache_status}, {cdn_cache_id}), so that their value is the same for
// every hit of a stored response.
func cdnVariablesOnly(custom []string) bool {
	for _, line := range custom {
		v := line
		for {
			open := strings.IndexByte(v, '{')
			if open < 0 {
				break
			}
			end := strings.IndexByte(v[open:], '}')
			if end < 0 {
				break
			}
			switch v[open+1 : open+end] {
			case "cdn_cache_status", "cdn_cache_id":
			default:
				return false
			}
			v = v[open+end+1:]
		}
	}
	return true
}

// appendHit renders a hit's response head: the block, Age, Cache-Status, and
// Connection: close when the connection ends after it.
func appendHit(b []byte, hit *fastHit, closeAfter bool) []byte {
	b = append(b, hit.block...)
	b = append(b, "Age: "...)
	b = strconv.AppendInt(b, hit.age, 10)
	b = append(b, "\r\nCache-Status: "...)
	b = append(b, hit.cacheStatus...)
	b = append(b, '\r', '\n')
	if closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, '\r', '\n')
}
