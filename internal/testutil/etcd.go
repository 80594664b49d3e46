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
	etcdServer   *store.Embedded
	etcdDir      string
	prefixSeq    atomic.Int64
)

// Main runs a package's tests and then stops the shared etcd and removes its data;
// call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if etcdServer != nil {
		etcdServer.Close()
	}
	if etcdDir != "" {
		os.RemoveAll(etcdDir)
	}
	os.Exit(code)
}

// Store returns a store on a shared embedded etcd, under a prefix unique to the test.
// The etcd server lives in a temporary directory for the life of the test binary.
func Store(t testing.TB) *store.Store {
	t.Helper()
	etcdOnce.Do(func() {
		etcdDir, etcdErr = os.MkdirTemp("", "meridian-test-etcd-")
		if etcdErr != nil {
			return
		}
		etcdServer, etcdErr = store.StartEmbedded(context.Background(), etcdDir, "127.0.0.1:0")
		if etcdErr == nil {
			etcdEndpoint = etcdServer.Endpoint
		}
	})
	if etcdErr != nil {
		t.Fatalf("embedded etcd: %v", etcdErr)
	}
	st, err := store.Dial(store.Etcd{Endpoints: []string{etcdEndpoint}}, fmt.Sprintf("/test-%d-%d/", os.Getpid(), prefixSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
