package hosts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"meridian/internal/certs"
	"meridian/internal/demo"
	"meridian/internal/geo"
)

// Anycast is the address pool the APIs allocate global addresses from; every edge host
// accepts all of it, and a client reaches it through the edge its route names.
var Anycast = netip.MustParsePrefix("198.18.1.0/24")

// Token is the API's bearer token in a deployment.
const Token = "hosts-token"

// Layout is a global deployment: an etcd cluster over TLS on the control-plane hosts
// (whose first ones also run the API), edges in several places, region runtimes, and a
// client host.
type Layout struct {
	ControlPlane int      // hosts running an etcd member: 3
	APIs         int      // of those, how many also run `meridian api`: 2
	Edges        []string // edge locations: us-central1, europe-west1, asia-east1
	// DNSEdges are the edges that serve the forwarding rules on an address of their own
	// (--listen-address), as an edge reached by DNS does; the others take the anycast
	// range.
	DNSEdges []string
	Regions  []string // regions with a runtime host: us-central1, europe-west1
	// Standbys are regions with a second runtime host, which takes over when the
	// first one stops.
	Standbys []string
	// PeerFill joins the edges into one cache group (--peer-listen): a miss then goes to
	// the URL's owner edge, which fills it from the region closest to itself.
	PeerFill bool
	// LatencyScale scales the round trips added between each edge and each region host:
	// geo.EstimatedRTT between their places (Iowa–Belgium about 110 ms) times the
	// scale; 0 adds none.
	LatencyScale float64
	// ControlPlaneAt is where the control-plane hosts (etcd, APIs) are, for the
	// latency between them and the rest: us-central1 by default.
	ControlPlaneAt string
}

// DefaultLayout is the deployment of the issue that asked for it; the edge in
// asia-east1 is reached by its own address, the others by anycast.
var DefaultLayout = Layout{ControlPlane: 3, APIs: 2, Edges: []string{"us-central1", "europe-west1", "asia-east1"},
	DNSEdges: []string{"asia-east1"}, Regions: []string{"us-central1", "europe-west1"}, ControlPlaneAt: "us-central1"}

// Deployment is a running Layout.
type Deployment struct {
	Net          *Net
	Binary       string
	Dir          string
	TLS          certs.ClusterTLS
	CP           []*Host          // control plane: etcd members, then APIs on the first
	Etcd         []*Proc          // by CP index
	APIs         []string         // API URLs
	EdgeHosts    map[string]*Host // by location
	Edges        map[string]*Proc
	Regions      map[string]*Host // by region
	Runtimes     map[string]*Proc
	Standby      map[string]*Proc // the second runtime of a region, on its own host
	StandbyHosts map[string]*Host
	// Clients has a client host beside each edge, its route to the anycast addresses
	// through that edge; Client is the first, where the CLI runs.
	Clients map[string]*Host
	Client  *Host
	Log     io.Writer
	dns     map[string]bool // edges on --listen-address
	layout  Layout
}

// Deploy starts a layout on a new network. binary is a meridian binary; dir holds
// data, certificates and logs.
func Deploy(ctx context.Context, prefix, binary, dir string, l Layout, log io.Writer) (*Deployment, error) {
	n, err := New(prefix)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Net: n, Binary: binary, Dir: dir, EdgeHosts: map[string]*Host{}, Edges: map[string]*Proc{},
		Regions: map[string]*Host{}, Runtimes: map[string]*Proc{}, Standby: map[string]*Proc{}, StandbyHosts: map[string]*Host{}, Clients: map[string]*Host{}, Log: log, dns: map[string]bool{}, layout: l}
	for _, loc := range l.DNSEdges {
		d.dns[loc] = true
	}
	if err := d.start(ctx, l); err != nil {
		n.Close()
		return nil, err
	}
	return d, nil
}

func (d *Deployment) start(ctx context.Context, l Layout) error {
	members := map[string][]string{}
	for i := 0; i < l.ControlPlane; i++ {
		h, err := d.Net.AddHost(fmt.Sprintf("cp%d", i+1))
		if err != nil {
			return err
		}
		d.CP = append(d.CP, h)
		members[h.Name] = []string{h.IP.String()}
	}
	var err error
	if d.TLS, err = certs.WriteClusterTLS(filepath.Join(d.Dir, "tls"), members, time.Now()); err != nil {
		return err
	}
	if err := d.startEtcd(ctx); err != nil {
		return err
	}
	tokenFile := filepath.Join(d.Dir, "token")
	if err := os.WriteFile(tokenFile, []byte(Token), 0o600); err != nil {
		return err
	}
	for i := 0; i < l.APIs && i < len(d.CP); i++ {
		h := d.CP[i]
		p, err := h.Start("api@"+h.Name, d.Log, d.Binary, append([]string{"api", "--api-listen=" + h.IP.String() + ":9610",
			"--api-token-file=" + tokenFile, "--address-pool=" + Anycast.String()}, d.etcdFlags()...)...)
		if err != nil {
			return err
		}
		line, err := p.WaitLine(ctx, "API listening on ")
		if err != nil {
			return err
		}
		d.APIs = append(d.APIs, strings.TrimPrefix(line, "API listening on "))
	}
	for _, region := range l.Regions {
		h, err := d.Net.AddHost("rt-" + region)
		if err != nil {
			return err
		}
		d.Regions[region] = h
		if d.Runtimes[region], err = d.StartRuntime(h, "region", region); err != nil {
			return err
		}
	}
	for _, region := range l.Standbys {
		h, err := d.Net.AddHost("sb-" + region)
		if err != nil {
			return err
		}
		d.StandbyHosts[region] = h
		if d.Standby[region], err = d.StartRuntime(h, "standby", region); err != nil {
			return err
		}
	}
	for _, loc := range l.Edges {
		if err := d.StartEdge(loc); err != nil {
			return err
		}
	}
	if l.LatencyScale > 0 {
		if err := d.addLatency(l); err != nil {
			return err
		}
	}
	for _, loc := range l.Edges {
		c, err := d.Net.AddHost("cl-" + loc)
		if err != nil {
			return err
		}
		if !d.dns[loc] {
			if err := c.Route(Anycast, d.EdgeHosts[loc]); err != nil {
				return err
			}
		}
		d.Clients[loc] = c
	}
	d.Client = d.Clients[l.Edges[0]]
	return nil
}

// addLatency delays every packet between hosts in different places by the round trip
// between the places: edges, region runtimes, and the control plane (which runs in
// ControlPlaneAt). Each pair is delayed once, on one of its two hosts.
func (d *Deployment) addLatency(l Layout) error {
	type placed struct {
		h     *Host
		where string
	}
	var far []placed // hosts whose place is not the control plane's, or edges
	for _, loc := range l.Edges {
		far = append(far, placed{d.EdgeHosts[loc], loc})
	}
	for _, region := range l.Regions {
		far = append(far, placed{d.Regions[region], region})
		if sb := d.StandbyHosts[region]; sb != nil {
			far = append(far, placed{sb, region})
		}
	}
	for _, cp := range d.CP {
		far = append(far, placed{cp, l.ControlPlaneAt})
	}
	isEdge := map[*Host]bool{}
	for _, h := range d.EdgeHosts {
		isEdge[h] = true
	}
	for i, a := range far {
		for _, b := range far[i+1:] {
			// Region runtimes talk to edges and the control plane, not to each other;
			// control-plane hosts share a place.
			if !isEdge[a.h] && !isEdge[b.h] && (a.where == b.where || (!slices.Contains(d.CP, a.h) && !slices.Contains(d.CP, b.h))) {
				continue
			}
			from, ok := geo.Lookup(a.where)
			if !ok {
				return fmt.Errorf("no coordinates for %s", a.where)
			}
			to, ok := geo.Lookup(b.where)
			if !ok {
				return fmt.Errorf("no coordinates for %s", b.where)
			}
			if err := a.h.Delay(b.h, time.Duration(float64(geo.EstimatedRTT(from, to))*l.LatencyScale)); err != nil {
				return err
			}
		}
	}
	return nil
}

// RestartEdges stops every edge and starts it again, joined into one cache group or
// not, and waits until each serves HTTPS again.
func (d *Deployment) RestartEdges(ctx context.Context, peerFill bool) error {
	d.layout.PeerFill = peerFill
	for _, loc := range d.layout.Edges {
		if err := d.Edges[loc].Stop(10 * time.Second); err != nil {
			return err
		}
		if err := d.StartEdge(loc); err != nil {
			return err
		}
	}
	for _, loc := range d.layout.Edges {
		if _, err := d.Edges[loc].WaitLine(ctx, "edge: serving HTTPS"); err != nil {
			return err
		}
	}
	return nil
}

// RTT is the round trip added between an edge and a region.
func (d *Deployment) RTT(l Layout, edge, region string) time.Duration {
	from, _ := geo.Lookup(edge)
	to, _ := geo.Lookup(region)
	return time.Duration(float64(geo.EstimatedRTT(from, to)) * l.LatencyScale)
}

// startEtcd starts every member at once: each waits for a quorum of the others.
func (d *Deployment) startEtcd(ctx context.Context) error {
	var initial []string
	for _, h := range d.CP {
		initial = append(initial, fmt.Sprintf("%s=https://%s:2380", h.Name, h.IP))
	}
	d.Etcd = make([]*Proc, len(d.CP))
	for i := range d.CP {
		p, err := d.startMember(i, strings.Join(initial, ","))
		if err != nil {
			return err
		}
		d.Etcd[i] = p
	}
	for _, p := range d.Etcd {
		if _, err := p.WaitLine(ctx, "etcd member "); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deployment) startMember(i int, initial string) (*Proc, error) {
	h := d.CP[i]
	return h.Start("etcd@"+h.Name, d.Log, d.Binary, "etcd", "--name="+h.Name, "--data-dir="+filepath.Join(d.Dir, h.Name),
		"--client-url=https://"+h.IP.String()+":2379", "--peer-url=https://"+h.IP.String()+":2380",
		"--initial-cluster="+initial, "--cert="+d.TLS.MemberCert[h.Name], "--key="+d.TLS.MemberKey[h.Name], "--ca="+d.TLS.CA)
}

// RestartMember starts a killed etcd member again on its data.
func (d *Deployment) RestartMember(ctx context.Context, i int) error {
	var initial []string
	for _, h := range d.CP {
		initial = append(initial, fmt.Sprintf("%s=https://%s:2380", h.Name, h.IP))
	}
	p, err := d.startMember(i, strings.Join(initial, ","))
	if err != nil {
		return err
	}
	d.Etcd[i] = p
	_, err = p.WaitLine(ctx, "etcd member ")
	return err
}

// etcdFlags are how every role reaches the cluster: all members, over TLS with the
// client certificate.
func (d *Deployment) etcdFlags() []string {
	var eps []string
	for _, h := range d.CP {
		eps = append(eps, "https://"+h.IP.String()+":2379")
	}
	return []string{"--etcd-endpoints=" + strings.Join(eps, ","), "--etcd-ca=" + d.TLS.CA, "--etcd-cert=" + d.TLS.ClientCert, "--etcd-key=" + d.TLS.ClientKey}
}

// StartRuntime starts a runtime for region on h (named role@region), as at first or
// again after it was killed.
func (d *Deployment) StartRuntime(h *Host, role, region string) (*Proc, error) {
	return h.Start(role+"@"+region, d.Log, d.Binary, append([]string{"region", "--region=" + region, "--address=" + h.IP.String()}, d.etcdFlags()...)...)
}

// StartEdge starts an edge host in a location (a new host the first time), serving
// every anycast address and other edges' cache fills.
func (d *Deployment) StartEdge(loc string) error {
	h := d.EdgeHosts[loc]
	if h == nil {
		var err error
		if h, err = d.Net.AddHost("edge-" + loc); err != nil {
			return err
		}
		if !d.dns[loc] {
			if err := h.AnyIP(Anycast); err != nil {
				return err
			}
		}
		d.EdgeHosts[loc] = h
	}
	// Request logs on, as users run edges: one JSON line per request, to a file.
	args := []string{"edge", "--location=" + loc, "--request-log=" + filepath.Join(d.Dir, "requests-"+loc+".log"), "--admin-listen=" + h.IP.String() + ":9100"}
	if d.layout.PeerFill {
		args = append(args, "--peer-listen="+h.IP.String()+":7000")
	}
	if d.dns[loc] {
		args = append(args, "--listen-address="+h.IP.String())
	}
	p, err := h.Start("edge@"+loc, d.Log, d.Binary, append(args, d.etcdFlags()...)...)
	d.Edges[loc] = p
	return err
}

// EdgeAddress is the IP address a client beside the edge in loc connects to: the
// anycast address of the seed's forwarding rule, or the edge's own.
func (d *Deployment) EdgeAddress(loc string) string {
	if d.dns[loc] {
		return d.EdgeHosts[loc].IP.String()
	}
	return Anycast.Addr().Next().String()
}

// CLI runs `meridian ARGS…` (a shell line, with $MERIDIAN standing for the binary) on
// the client host against the first API, and returns its output.
func (d *Deployment) CLI(ctx context.Context, script string) (string, error) {
	env := fmt.Sprintf("export MERIDIAN_API_ENDPOINT=%s MERIDIAN_API_TOKEN=%s MERIDIAN_CONFIG=%s HOME=%s MERIDIAN=%s; ",
		d.APIs[0], Token, filepath.Join(d.Dir, "cli.json"), d.Dir, d.Binary)
	p, err := d.Client.Start("cli", nil, "bash", "-c", "set -e; cd "+d.Dir+"; "+env+script)
	if err != nil {
		return "", err
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		p.Kill()
	}
	if p.err != nil {
		return p.Output(), fmt.Errorf("%s: %v\n%s", script, p.err, p.Output())
	}
	return p.Output(), nil
}

// Close stops everything and removes the network.
func (d *Deployment) Close() error { return d.Net.Close() }

// SeedScript is the seed's command sequence for the client host's shell ($MERIDIAN is
// the binary), then the same service in europe-west1 behind a second serverless NEG of
// the same backend service.
func SeedScript() string {
	return "cat > service.yaml <<'YAML'\n" + string(demo.ServiceYAML) + "YAML\n" + seedCommands
}

const seedCommands = `$MERIDIAN run services replace service.yaml --region=us-central1
$MERIDIAN compute network-endpoint-groups create cloudrun-neg --region=us-central1 --network-endpoint-type=SERVERLESS --cloud-run-service=my-global-app
$MERIDIAN compute backend-services create cloudrun-backend --global --load-balancing-scheme=EXTERNAL_MANAGED --enable-cdn
$MERIDIAN compute backend-services add-backend cloudrun-backend --global --network-endpoint-group=cloudrun-neg --network-endpoint-group-region=us-central1
$MERIDIAN compute url-maps create cloudrun-url-map --default-service=cloudrun-backend
$MERIDIAN compute ssl-certificates create my-ssl-cert --domains=your-domain.com
$MERIDIAN compute target-https-proxies create https-proxy --ssl-certificates=my-ssl-cert --url-map=cloudrun-url-map
$MERIDIAN compute addresses create global-ip --global
$MERIDIAN compute forwarding-rules create https-forwarding-rule --address=$($MERIDIAN compute addresses describe global-ip --global --format='value(address)') --global --target-https-proxy=https-proxy --ports=443
$MERIDIAN run services replace service.yaml --region=europe-west1
$MERIDIAN compute network-endpoint-groups create cloudrun-neg-eu --region=europe-west1 --network-endpoint-type=SERVERLESS --cloud-run-service=my-global-app
$MERIDIAN compute backend-services add-backend cloudrun-backend --global --network-endpoint-group=cloudrun-neg-eu --network-endpoint-group-region=europe-west1
`

// Build compiles the meridian binary into dir for the hosts to run.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "meridian")
	if out, err := exec.Command("go", "build", "-o", bin, "meridian/cmd/meridian").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// HTTPSClients makes an HTTPS client on the client host beside each edge, trusting the
// development CA's root as the API hands it out (`meridian ca-cert`) and asking for
// the seed's domain.
func (d *Deployment) HTTPSClients(ctx context.Context) (map[string]*http.Client, error) {
	caPEM, err := d.CLI(ctx, "$MERIDIAN ca-cert")
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, fmt.Errorf("ca-cert printed %q", caPEM)
	}
	out := map[string]*http.Client{}
	for loc, h := range d.Clients {
		c := h.HTTPClient(5 * time.Second)
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: "your-domain.com"}
		out[loc] = c
	}
	return out, nil
}

// WaitServiceReady waits until every region of the layout runs the seed's service
// (requests to a region that does not run it yet fail, and outlier detection would
// eject it for a while).
func (d *Deployment) WaitServiceReady(ctx context.Context) error {
	for _, region := range d.layout.Regions {
		for {
			out, err := d.CLI(ctx, "$MERIDIAN run services describe my-global-app --region="+region+" --format='value(status.conditions[0].status)'")
			if err == nil && strings.TrimSpace(out) == "True" {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("my-global-app is not ready in %s: %v %s", region, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
