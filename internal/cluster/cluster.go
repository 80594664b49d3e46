// Package cluster is an edge's place among the edges of a deployment, kept in the
// store: its membership (a record under a lease that ends with the edge, so an edge
// that dies drops out by itself), the other members and which of them owns a URL in
// the cache group (rendezvous hashing: a member joining or leaving moves only its
// share of URLs), and what the edge publishes under the same lease for the API: its
// acknowledgements of the revisions it has applied, and its view of backend health.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"meridian/api"
	"meridian/internal/store"
)

// MembersPrefix is where edges register.
const MembersPrefix = api.EdgeMembersPrefix

// TTL is how long an edge stays listed after it stops renewing its lease.
const TTL = 10 * time.Second

// Member is what an edge publishes about itself under MembersPrefix, for cache groups,
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

// NewID names a new member in location.
func NewID(location string) string {
	var b [4]byte
	rand.Read(b[:])
	return location + "-" + hex.EncodeToString(b[:])
}

// Group is the deployment's edges as one of them sees them, with its own
// registration.
type Group struct {
	store *store.Store
	id    string
	lease *store.Lease // from Join to Leave

	serving atomic.Pointer[[]Member]        // members that answer cache fills
	all     atomic.Pointer[map[string]bool] // every member's id
}

// New is the group as the member id will see it; it registers with Join.
func New(st *store.Store, id string) *Group { return &Group{store: st, id: id} }

// ID is this member's id.
func (g *Group) ID() string { return g.id }

// Join registers the member under a lease kept alive until Leave.
func (g *Group) Join(ctx context.Context, location, peerURL string) error {
	host, _ := os.Hostname()
	data, err := json.Marshal(Member{ID: g.id, Location: location, Host: host, Started: time.Now().UTC(), PeerURL: peerURL})
	if err != nil {
		return err
	}
	lease, err := g.store.KeepLease(ctx, TTL)
	if err != nil {
		return fmt.Errorf("cluster: join: %w", err)
	}
	if err := lease.Put(ctx, MembersPrefix+g.id, data); err != nil {
		lease.Release()
		return fmt.Errorf("cluster: join: %w", err)
	}
	g.lease = lease
	return nil
}

// Leave revokes the registration: the member and what it published vanish at once.
func (g *Group) Leave() {
	if g.lease != nil {
		g.lease.Release()
	}
}

// Ack says the member applies everything up to rev: the API waits for every member's
// before an invalidation is DONE, and an ACME issuer before it asks for validation.
func (g *Group) Ack(ctx context.Context, rev int64) error {
	return g.lease.Put(ctx, api.InvalidationAcksPrefix+g.id, []byte(strconv.FormatInt(rev, 10)))
}

// Publish writes a record of the member's under its registration's lease.
func (g *Group) Publish(ctx context.Context, key string, data []byte) error {
	return g.lease.Put(ctx, key, data)
}

// Load reads the membership; on failure the last view stays.
func (g *Group) Load(ctx context.Context) {
	kvs, _, err := g.store.ListAll(ctx, MembersPrefix)
	if err != nil {
		return
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
	g.all.Store(&all)
	g.serving.Store(&serving)
}

// Touched reports whether watch events change the membership.
func Touched(events []store.Event) bool {
	for _, ev := range events {
		if strings.HasPrefix(ev.Key, MembersPrefix) {
			return true
		}
	}
	return false
}

// Serving lists the members that answer cache fills, as last loaded.
func (g *Group) Serving() []Member {
	if s := g.serving.Load(); s != nil {
		return *s
	}
	return nil
}

// IsMember reports whether id is a member of the deployment.
func (g *Group) IsMember(id string) bool {
	all := g.all.Load()
	return all != nil && (*all)[id]
}

// Owner returns the member that owns key when it is another serving member, else nil.
func (g *Group) Owner(key string) *Member {
	members := g.Serving()
	if len(members) < 2 {
		return nil
	}
	m := &members[Rendezvous(members, key)]
	if m.ID == g.id {
		return nil
	}
	return m
}

// Rendezvous picks the member with the highest hash of (member, key).
func Rendezvous(members []Member, key string) int {
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
