package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

// memberTTL is how long an edge stays listed after it stops renewing its lease: an edge
// that dies drops out of the membership by itself within this time.
const memberTTL = 10 * time.Second

// Member is what an edge publishes about itself under members/edges/, for cache groups,
// getHealth and invalidation acknowledgements to find live edges.
type Member struct {
	ID       string    `json:"id"`
	Location string    `json:"location"`
	Host     string    `json:"host"`
	Started  time.Time `json:"started"`
	// PeerURL is where the edge answers other members' cache fills ("" when it does
	// not take part in cache-to-cache fill).
	PeerURL string `json:"peerUrl,omitempty"`
}

// MembersPrefix is where edges register.
const MembersPrefix = api.EdgeMembersPrefix

// register publishes the edge under a lease kept alive until it is released, which
// revokes it so the edge disappears at once; the edge's health reports live under the
// same lease.
func (e *Edge) register(ctx context.Context) (*store.Lease, string, error) {
	host, _ := os.Hostname()
	id := e.memberID
	data, err := json.Marshal(Member{ID: id, Location: e.cfg.Location, Host: host, Started: time.Now().UTC(), PeerURL: e.peerURL})
	if err != nil {
		return nil, "", err
	}
	lease, err := e.store.KeepLease(ctx, memberTTL)
	if err != nil {
		return nil, "", fmt.Errorf("edge: register: %w", err)
	}
	if err := lease.Put(ctx, MembersPrefix+id, data); err != nil {
		lease.Release()
		return nil, "", fmt.Errorf("edge: register: %w", err)
	}
	return lease, id, nil
}

func newMemberID(location string) string {
	var b [4]byte
	rand.Read(b[:])
	return location + "-" + hex.EncodeToString(b[:])
}

// cacheID names the edge's cache as Cloud CDN names its caches ("SFO-fbae48ad"): the
// location in capitals and a random suffix.
func cacheID(location string) string {
	var b [4]byte
	rand.Read(b[:])
	return strings.ToUpper(location) + "-" + hex.EncodeToString(b[:])
}
