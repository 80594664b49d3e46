package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"meridian/internal/cdn"

	"meridian/internal/store"
)

// Cache-to-cache fill: the edges of one store form a cache group. Each URL has an owner
// among the members that serve peers (rendezvous hashing, so a member joining or
// leaving moves only its share of URLs); a miss asks the owner, which answers from its
// cache or fills from the origin, before the edge goes to the origin itself. A member
// that cannot be reached is skipped: the client never sees a peer's failure.

const (
	peerListenerHeader = "X-Meridian-Peer-Listener" // the forwarding rule's address
	peerSchemeHeader   = "X-Meridian-Peer-Scheme"
	peerFromHeader     = "X-Meridian-Peer-From" // the asking member's id
	peerRefusedHeader  = "X-Meridian-Peer-Refused"
	peerHopsHeader     = "X-Meridian-Peer-Hops" // caches the request went through
	maxPeerHops        = 3
	// detailFromPeer is the statusDetails of a response filled from another cache
	// (Meridian's own; GCP logs cache-to-cache fills without naming them).
	detailFromPeer = "response_from_peer_cache"
)

// peerSchemeKey marks, in a request's context, a request from a peer, with the scheme
// its client used.
type peerSchemeKey struct{}

func fromPeer(r *http.Request) bool {
	_, ok := r.Context().Value(peerSchemeKey{}).(string)
	return ok
}

// parent is the parent tier's member, when the edge names one (Config.Parent).
func (e *Edge) parent() *Member {
	if e.cfg.Parent == "" {
		return nil
	}
	return &Member{ID: "parent", PeerURL: e.cfg.Parent}
}

// owner returns the member that owns key when it is another serving member, else nil.
func (e *Edge) owner(key string) *Member {
	members := e.peers.Load()
	if members == nil || len(*members) < 2 {
		return nil
	}
	m := &(*members)[rendezvous(*members, key)]
	if m.ID == e.memberID {
		return nil
	}
	return m
}

// rendezvous picks the member with the highest hash of (member, key).
func rendezvous(members []Member, key string) int {
	best, bestScore := 0, uint64(0)
	for i, m := range members {
		if s := score(m.ID, key); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// score is a stable 64-bit hash of a member and a key (FNV-1a, then a splitmix64
// finaliser so that similar inputs spread).
func score(member, key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(member); i++ {
		h = (h ^ uint64(member[i])) * 1099511628211
	}
	h = (h ^ 0xff) * 1099511628211
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// loadPeers reads the membership: every member, and those that serve peers.
func (e *Edge) loadPeers(ctx context.Context) {
	kvs, _, err := e.store.ListAll(ctx, MembersPrefix)
	if err != nil {
		return // keep the last view
	}
	var serving []Member
	all := map[string]bool{}
	for _, kv := range kvs {
		var m Member
		if json.Unmarshal(kv.Value, &m) != nil {
			continue
		}
		all[m.ID] = true
		if m.PeerURL != "" {
			serving = append(serving, m)
		}
	}
	e.members.Store(&all)
	e.peers.Store(&serving)
}

// isMember reports whether id is a member of the deployment (a group peer, or a child
// of this edge as a parent).
func (e *Edge) isMember(id string) bool {
	all := e.members.Load()
	return all != nil && (*all)[id]
}

// membersTouched reports whether watch events change the membership.
func (e *Edge) membersTouched(events []store.Event) bool {
	for _, ev := range events {
		if strings.HasPrefix(ev.Key, MembersPrefix) {
			return true
		}
	}
	return false
}

// newPeerTransport reaches other members; a member that does not answer the
// connection within a second is skipped.
func newPeerTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer"}

// fillFromPeer fills from member m; it reports false, having written nothing, when
// the member cannot answer (the caller goes to the origin).
func (p *proxy) fillFromPeer(w http.ResponseWriter, r *http.Request, m *Member, addr, scheme string) bool {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(m.PeerURL, "/")+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	req.Host = r.Host
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.Set(peerListenerHeader, addr)
	req.Header.Set(peerSchemeHeader, scheme)
	req.Header.Set(peerFromHeader, p.edge.memberID)
	hops, _ := strconv.Atoi(r.Header.Get(peerHopsHeader))
	req.Header.Set(peerHopsHeader, strconv.Itoa(hops+1))
	resp, err := p.peers.RoundTrip(req)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			fmt.Fprintf(p.edge.cfg.Log, "edge: cache peer %s: %v; filling from the origin\n", m.ID, err)
		}
		return false
	}
	defer resp.Body.Close()
	if resp.Header.Get(peerRefusedHeader) != "" {
		return false
	}
	cdn.MarkPeerFill(r.Context())
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		panic(http.ErrAbortHandler) // the peer's response broke: the fill is cut short
	}
	return true
}

// peerHandler answers other members' fills: as the named listener would, from this
// edge's cache or its origin, never asking a peer in turn.
func (p *proxy) peerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, scheme := r.Header.Get(peerListenerHeader), r.Header.Get(peerSchemeHeader)
		hops, _ := strconv.Atoi(r.Header.Get(peerHopsHeader))
		if p.edge.snap.Load().Listeners[addr] == nil || (scheme != "http" && scheme != "https") || !p.edge.isMember(r.Header.Get(peerFromHeader)) || hops > maxPeerHops {
			w.Header().Set(peerRefusedHeader, "1")
			http.Error(w, "not a request from a member of this cache group for a listener this edge serves", http.StatusMisdirectedRequest)
			return
		}
		for _, h := range []string{peerListenerHeader, peerSchemeHeader, peerFromHeader} {
			r.Header.Del(h)
		}
		// The hop count stays on the request: a parent's own fills pass it on.
		r = r.WithContext(context.WithValue(r.Context(), peerSchemeKey{}, scheme))
		p.handler(addr).ServeHTTP(w, r)
	})
}
