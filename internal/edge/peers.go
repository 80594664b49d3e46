package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"meridian/internal/cdn"
	"meridian/internal/cluster"
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
func (e *Edge) parent() *cluster.Member {
	if e.cfg.Parent == "" {
		return nil
	}
	return &cluster.Member{ID: "parent", PeerURL: e.cfg.Parent}
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
func (p *proxy) fillFromPeer(w http.ResponseWriter, r *http.Request, m *cluster.Member, addr, scheme string) bool {
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
	req.Header.Set(peerFromHeader, p.edge.group.ID())
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
		if p.edge.snap.Load().Listeners[addr] == nil || (scheme != "http" && scheme != "https") || !p.edge.group.IsMember(r.Header.Get(peerFromHeader)) || hops > maxPeerHops {
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
