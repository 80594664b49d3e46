package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
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
}

// MembersPrefix is where edges register.
const MembersPrefix = "members/edges/"

// register publishes the edge under a lease kept alive until ctx is done; then the
// lease is revoked so the edge disappears at once.
func (e *Edge) register(ctx context.Context) (func(), error) {
	host, _ := os.Hostname()
	id := newMemberID(e.cfg.Location)
	data, err := json.Marshal(Member{ID: id, Location: e.cfg.Location, Host: host, Started: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	cli := e.store.Client()
	lease, err := cli.Grant(ctx, int64(memberTTL/time.Second))
	if err != nil {
		return nil, fmt.Errorf("edge: register: %w", err)
	}
	if _, err := cli.Put(ctx, e.store.Prefix()+MembersPrefix+id, string(data), clientv3.WithLease(lease.ID)); err != nil {
		return nil, fmt.Errorf("edge: register: %w", err)
	}
	kctx, stop := context.WithCancel(ctx)
	alive, err := cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("edge: register: %w", err)
	}
	done := make(chan struct{})
	go func() { // drain keep-alive answers until the lease is given up
		defer close(done)
		for range alive {
		}
	}()
	return func() {
		stop()
		<-done
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cli.Revoke(rctx, lease.ID) // best effort: otherwise the lease expires
	}, nil
}

func newMemberID(location string) string {
	var b [4]byte
	rand.Read(b[:])
	return location + "-" + hex.EncodeToString(b[:])
}
