package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"meridian/internal/controlplane"
	"meridian/internal/edge"
	"meridian/internal/store"
)

// Control is Meridian's control plane for a benchmark: an embedded etcd and the REST
// API, in this process.
type Control struct {
	Store *store.Store
	etcd  *store.Embedded
	api   *httptest.Server
}

// StartControl starts etcd in dir/etcd and the API in front of it.
func StartControl(ctx context.Context, dir string) (*Control, error) {
	etcd, err := store.StartEmbedded(ctx, filepath.Join(dir, "etcd"), "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st, err := store.Dial(store.Etcd{Endpoints: []string{etcd.Endpoint}}, "/bench/")
	if err != nil {
		etcd.Close()
		return nil, err
	}
	return &Control{Store: st, etcd: etcd, api: httptest.NewServer(controlplane.New(st, controlplane.Config{}).Handler())}, nil
}

// Close stops the API and etcd.
func (c *Control) Close() {
	c.api.Close()
	c.Store.Close()
	c.etcd.Close()
}

// Call sends a request to the Compute API of project p and returns the decoded answer;
// anything but a 200 is an error.
func (c *Control) Call(method, path string, body any) (map[string]any, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.api.URL+"/compute/v1/projects/p/"+path, strings.NewReader(string(data)))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out, nil
}

// Create POSTs each resource to its collection, in order.
func (c *Control) Create(resources ...Resource) error {
	for _, r := range resources {
		if _, err := c.Call("POST", r.Path, r.Body); err != nil {
			return err
		}
	}
	return nil
}

// Resource is a resource to create: its collection's path and its body.
type Resource struct {
	Path string
	Body any
}

// Frontend is what puts a backend service on 127.0.0.1:80: a URL map, a target HTTP
// proxy and a forwarding rule.
func Frontend(backendService string) []Resource {
	return []Resource{
		{"global/urlMaps", map[string]any{"name": "map", "defaultService": "global/backendServices/" + backendService}},
		{"global/targetHttpProxies", map[string]any{"name": "proxy", "urlMap": "global/urlMaps/map"}},
		{"global/forwardingRules", map[string]any{"name": "fr", "IPAddress": "127.0.0.1", "portRange": "80", "target": "global/targetHttpProxies/proxy"}},
	}
}

// CDNOrigin is a CDN-enabled backend service "web" (USE_ORIGIN_HEADERS, plus the
// given fields) in front of the origin at originAddr, with its frontend.
func CDNOrigin(originAddr string, fields map[string]any) []Resource {
	host, port, _ := net.SplitHostPort(originAddr)
	portNum, _ := strconv.Atoi(port)
	web := map[string]any{"name": "web", "enableCDN": true, "cdnPolicy": map[string]any{"cacheMode": "USE_ORIGIN_HEADERS"},
		"backends": []any{map[string]any{"group": "global/networkEndpointGroups/origin"}}}
	for k, v := range fields {
		web[k] = v
	}
	return append([]Resource{
		{"global/networkEndpointGroups", map[string]any{"name": "origin", "networkEndpointType": "INTERNET_IP_PORT"}},
		{"global/networkEndpointGroups/origin/attachNetworkEndpoints", map[string]any{"networkEndpoints": []any{map[string]any{"ipAddress": host, "port": portNum}}}},
		{"global/backendServices", web},
	}, Frontend("web")...)
}

// RunEdge runs an edge on the control plane's store until stop is called.
func (c *Control) RunEdge(ctx context.Context, cfg edge.Config) (e *edge.Edge, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	e = edge.New(c.Store, cfg)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- e.Run(ctx, func() { close(ready) }) }()
	<-ready
	return e, func() { cancel(); <-done }
}

// Listening waits (10 s at most) for an edge to serve the forwarding rule on
// 127.0.0.1:80 and returns the address it listens on.
func Listening(e *edge.Edge) (string, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if addr := e.ListenAddresses()["127.0.0.1:80"]; addr != "" {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("the edge did not listen")
		}
	}
}

// StartEdge runs the control plane and an edge (a memory cache of cacheSize bytes) in
// this process, with a CDN-enabled backend service in front of the origin, and returns
// the edge's address.
func StartEdge(ctx context.Context, dir, originAddr string, cacheSize uint64) (string, func(), error) {
	c, err := StartControl(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	e, stopEdge := c.RunEdge(ctx, edge.Config{Location: "us-central1", PortMap: map[int]int{80: 0}, CacheSize: cacheSize, ProbeInterval: time.Hour})
	stop := func() { stopEdge(); c.Close() }
	if err := c.Create(CDNOrigin(originAddr, nil)...); err != nil {
		stop()
		return "", nil, err
	}
	addr, err := Listening(e)
	if err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}
