package store_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meridian/internal/certs"
	"meridian/internal/store"
)

// freeURL returns a URL on ip whose port was free a moment ago.
func freeURL(t *testing.T, scheme, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprintf("%s://%s", scheme, ln.Addr())
}

// TestThreeMemberClusterWithTLS runs a cluster as `meridian etcd` does on three hosts
// (here three loopback addresses): peers and clients authenticate with certificates;
// one member down leaves the cluster writable, two down leave it without quorum.
func TestThreeMemberClusterWithTLS(t *testing.T) {
	dir := t.TempDir()
	names := []string{"e1", "e2", "e3"}
	// etcd checks a peer's certificate against the address it dials from, which on
	// loopback is 127.0.0.1 whatever address it dials.
	ips := map[string]string{"e1": "127.0.20.1", "e2": "127.0.20.2", "e3": "127.0.20.3"}
	tlsFiles, err := certs.WriteClusterTLS(filepath.Join(dir, "tls"), map[string][]string{"e1": {ips["e1"], "127.0.0.1"}, "e2": {ips["e2"], "127.0.0.1"}, "e3": {ips["e3"], "127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]store.Member{}
	var initial, endpoints []string
	for _, n := range names {
		m := store.Member{Name: n, Dir: filepath.Join(dir, n), ClientURL: freeURL(t, "https", ips[n]), PeerURL: freeURL(t, "https", ips[n]),
			CertFile: tlsFiles.MemberCert[n], KeyFile: tlsFiles.MemberKey[n], CAFile: tlsFiles.CA}
		members[n] = m
		initial = append(initial, n+"="+m.PeerURL)
		endpoints = append(endpoints, m.ClientURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type start struct {
		name string
		rm   *store.RunningMember
		err  error
	}
	running := map[string]*store.RunningMember{}
	started := make(chan start, len(names))
	for _, n := range names {
		m := members[n]
		m.InitialCluster = strings.Join(initial, ",")
		go func() {
			rm, err := store.StartMember(ctx, m, time.Minute)
			started <- start{m.Name, rm, err}
		}()
	}
	for range names {
		s := <-started
		if s.err != nil {
			t.Fatal(s.err)
		}
		running[s.name] = s.rm
	}
	defer func() {
		for _, rm := range running {
			rm.Close()
		}
	}()

	client := store.Etcd{Endpoints: endpoints, CAFile: tlsFiles.CA, CertFile: tlsFiles.ClientCert, KeyFile: tlsFiles.ClientKey}
	st, err := store.Dial(client, "/tls/")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(key string) error {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := st.Apply(pctx, store.Change{Puts: map[string][]byte{key: []byte("v")}})
		return err
	}
	if err := put("a"); err != nil {
		t.Fatalf("write with a client certificate: %v", err)
	}

	// Without a client certificate the members refuse the connection.
	anon, err := store.Dial(store.Etcd{Endpoints: endpoints, CAFile: tlsFiles.CA}, "/tls/")
	if err == nil {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = anon.Get(gctx, "a")
		cancel()
		anon.Close()
	}
	if err == nil {
		t.Errorf("a client without a certificate read the cluster")
	}

	running["e1"].Close()
	delete(running, "e1")
	if err := put("b"); err != nil {
		t.Errorf("write with one member of three down: %v", err)
	}
	running["e2"].Close()
	delete(running, "e2")
	if err := put("c"); err == nil {
		t.Errorf("a write succeeded without quorum")
	}
}

func TestMemberAndClientConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		m    store.Member
		want string
	}{
		{store.Member{Dir: "d", ClientURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2"}, "--name"},
		{store.Member{Name: "e1", Dir: "d", ClientURL: "https://127.0.0.1:1", PeerURL: "http://127.0.0.1:2"}, "https:// and --cert/--key go together"},
		{store.Member{Name: "e1", Dir: "d", ClientURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2", CAFile: "ca.pem"}, "--ca"},
		{store.Member{Name: "e1", Dir: "d", ClientURL: "127.0.0.1:1", PeerURL: "http://127.0.0.1:2"}, "--client-url"},
		{store.Member{Name: "e1", Dir: "d", ClientURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2", InitialCluster: "e2=http://127.0.0.1:3"}, "does not name this member"},
		{store.Member{Name: "e1", Dir: "d", ClientURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2", Join: true}, "--join needs --initial-cluster"},
	} {
		if err := tc.m.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.want)
		}
	}
	for _, tc := range []struct {
		e    store.Etcd
		want string
	}{
		{store.Etcd{}, "--etcd-endpoints is required"},
		{store.Etcd{Endpoints: []string{"http://127.0.0.1:2379"}, CAFile: "ca.pem"}, "is not https://"},
		{store.Etcd{Endpoints: []string{"https://127.0.0.1:2379"}, CertFile: "c.pem"}, "go together"},
		{store.Etcd{Endpoints: []string{"ftp://127.0.0.1:2379"}}, "is not an http:// or https:// URL"},
		{store.Etcd{Endpoints: []string{"127.0.0.1:2379"}, CAFile: "ca.pem"}, "is not https://"},
	} {
		if _, err := store.Dial(tc.e, "/x/"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.e, err, tc.want)
		}
	}
}
