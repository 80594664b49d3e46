package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"meridian/internal/store"
	"meridian/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func TestApplyConditions(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	create := store.Change{
		Conditions: []store.Condition{{Key: "res/a", Want: store.Absent}},
		Puts:       map[string][]byte{"res/a": []byte("1"), "refs/res/a/x": nil},
	}
	if _, err := st.Apply(ctx, create); err != nil {
		t.Fatal(err)
	}
	var cf *store.ConditionFailed
	if _, err := st.Apply(ctx, create); !errors.As(err, &cf) || cf.Condition.Key != "res/a" || string(cf.Found.Value) != "1" {
		t.Fatalf("second create: %v", err)
	}
	kv, err := st.Get(ctx, "res/a")
	if err != nil || string(kv.Value) != "1" {
		t.Fatalf("get: %v %v", kv, err)
	}
	// A delete guarded by "nothing refers to it" fails while a reference exists and
	// names the referrer.
	del := store.Change{
		Conditions: []store.Condition{{Key: "res/a", Want: kv.ModRevision}, {Key: "refs/res/a/", Want: store.Absent, Prefix: true}},
		Deletes:    []string{"res/a"},
	}
	if _, err := st.Apply(ctx, del); !errors.As(err, &cf) || cf.Found == nil || cf.Found.Key != "refs/res/a/x" {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := st.Apply(ctx, store.Change{Deletes: []string{"refs/res/a/x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, del); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.Get(ctx, "res/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	// A stale revision fails; a missing required key fails.
	if _, err := st.Apply(ctx, store.Change{Conditions: []store.Condition{{Key: "res/b", Want: store.Present}}, Puts: map[string][]byte{"x": nil}}); !errors.As(err, &cf) || cf.Found != nil {
		t.Fatalf("present: %v", err)
	}
}

func TestListPaging(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	for _, k := range []string{"c/1", "c/2", "c/3", "d/1"} {
		if _, err := st.Apply(ctx, store.Change{Puts: map[string][]byte{k: []byte(k)}}); err != nil {
			t.Fatal(err)
		}
	}
	page, more, err := st.List(ctx, "c/", "", 2)
	if err != nil || len(page) != 2 || !more || page[0].Key != "c/1" {
		t.Fatalf("page 1: %v %v %v", page, more, err)
	}
	page, more, err = st.List(ctx, "c/", page[1].Key, 2)
	if err != nil || len(page) != 1 || more || page[0].Key != "c/3" {
		t.Fatalf("page 2: %v %v %v", page, more, err)
	}
}

func TestExpiringPuts(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	if _, err := st.Apply(ctx, store.Change{Expiring: map[string][]byte{"ops/1": []byte("x")}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	kv, err := st.Get(ctx, "ops/1")
	if err != nil || kv.Lease == 0 {
		t.Fatalf("expiring key %+v: %v", kv, err)
	}
	ttl, err := st.Client().TimeToLive(ctx, clientv3.LeaseID(kv.Lease))
	if err != nil || ttl.GrantedTTL != int64(time.Hour/time.Second) {
		t.Fatalf("ttl: %+v %v", ttl, err)
	}
}

// TestKeepLease: keys put under a kept lease exist until Release, then are gone.
func TestKeepLease(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	lease, err := st.KeepLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Put(ctx, "members/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if kv, err := st.Get(ctx, "members/a"); err != nil || kv.Lease == 0 {
		t.Fatalf("leased key %+v %v", kv, err)
	}
	lease.Release()
	if _, err := st.Get(ctx, "members/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after release: %v", err)
	}
}

// TestListPrefixes reads several prefixes at one revision.
func TestListPrefixes(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	rev, err := st.Apply(ctx, store.Change{Puts: map[string][]byte{"res/a": nil, "res/b": nil, "endpoints/x": nil, "ops/1": nil}})
	if err != nil {
		t.Fatal(err)
	}
	lists, at, err := st.ListPrefixes(ctx, "res/", "endpoints/")
	if err != nil || len(lists) != 2 || len(lists[0]) != 2 || len(lists[1]) != 1 || at != rev {
		t.Fatalf("lists %+v at %d (wrote at %d): %v", lists, at, rev, err)
	}
}

// A claimant that took a new lease (it gave the old one up for lost while etcd kept
// it, as a new etcd leader does) keeps its claim; another claimant does not get it.
func TestClaimMovesToTheClaimantsNewLease(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	old, err := st.KeepLease(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Release()
	if held, err := old.Claim(ctx, "claims/r", []byte("runtime-1")); err != nil || !held {
		t.Fatalf("first claim: %v %v", held, err)
	}
	other, err := st.KeepLease(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	if held, err := other.Claim(ctx, "claims/r", []byte("runtime-2")); err != nil || held {
		t.Fatalf("another claimant got the claim: %v %v", held, err)
	}
	renewed, err := st.KeepLease(ctx, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer renewed.Release()
	if held, err := renewed.Claim(ctx, "claims/r", []byte("runtime-1")); err != nil || !held {
		t.Fatalf("the claimant's new lease did not take its claim over: %v %v", held, err)
	}
	// The old lease ending no longer ends the claim.
	old.Release()
	if held, err := renewed.Claim(ctx, "claims/r", []byte("runtime-1")); err != nil || !held {
		t.Fatalf("the claim went with the old lease: %v %v", held, err)
	}
	if held, err := other.Claim(ctx, "claims/r", []byte("runtime-2")); err != nil || held {
		t.Fatalf("another claimant got the claim after the old lease ended: %v %v", held, err)
	}
}
