// Package testutil holds test helpers shared across packages: one embedded etcd per
// test binary, with a fresh key prefix per test so tests stay independent and fast.
package testutil

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"meridian/internal/store"
)

var (
	etcdOnce     sync.Once
	etcdEndpoint string
	etcdErr      error
	prefixSeq    atomic.Int64
)

// Store returns a store on a shared embedded etcd, under a prefix unique to the test.
// The etcd server lives in a temporary directory for the life of the test binary.
func Store(t testing.TB) *store.Store {
	t.Helper()
	etcdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meridian-test-etcd-")
		if err != nil {
			etcdErr = err
			return
		}
		e, err := store.StartEmbedded(context.Background(), dir, "127.0.0.1:0")
		if err != nil {
			etcdErr = err
			return
		}
		etcdEndpoint = e.Endpoint
	})
	if etcdErr != nil {
		t.Fatalf("embedded etcd: %v", etcdErr)
	}
	st, err := store.Dial([]string{etcdEndpoint}, fmt.Sprintf("/test-%d-%d/", os.Getpid(), prefixSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
