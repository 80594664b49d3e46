package edge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meridian/internal/controlplane"
	"meridian/internal/store"
	"meridian/internal/testutil"
)

// TestServesWhenEtcdIsGone takes etcd away from under a configured edge (every
// connection to it cut, new ones refused, as when its host dies): requests keep being
// served from the last configuration, and the edge still shuts down cleanly.
func TestServesWhenEtcdIsGone(t *testing.T) {
	t.Parallel() // mostly waiting (a shutdown with etcd gone): beside the other waiting tests
	etcd, err := store.StartEmbedded(context.Background(), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	// The edge reaches etcd through a relay, whose stop is etcd's loss to the edge.
	// (Closing the embedded server itself waits out its clients' streams, seconds.)
	link, err := testutil.NewRelay(strings.TrimPrefix(etcd.Endpoint, "http://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Stop()
	apiStore, err := store.Dial(store.Etcd{Endpoints: []string{etcd.Endpoint}}, "/fault/")
	if err != nil {
		t.Fatal(err)
	}
	defer apiStore.Close()
	st, err := store.Dial(store.Etcd{Endpoints: []string{"http://" + link.Addr}}, "/fault/")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api := httptest.NewServer(controlplane.New(apiStore, controlplane.Config{}).Handler())
	defer api.Close()
	h := &harness{t: t, api: api, logs: newTestLogs(t)}
	h.edge = New(st, Config{PortMap: map[int]int{80: 0}, Log: testLog{t}})
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- h.edge.Run(ctx, func() { close(ready) }) }()
	<-ready

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "still here") }))
	defer origin.Close()
	get := httpHarness(t, h, origin, map[string]any{}, map[string]any{"defaultService": "global/backendServices/web"})
	if _, body := get("/"); body != "still here" {
		t.Fatalf("before: %q", body)
	}
	link.Stop()
	for i := 0; i < 20; i++ {
		if resp, body := get("/"); resp.StatusCode != 200 || body != "still here" {
			t.Fatalf("request %d with etcd gone: %d %q", i, resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the edge did not stop within 20s with etcd down")
	}
}
