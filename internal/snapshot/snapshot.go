// Package snapshot compiles stored resources into the immutable configuration an edge
// serves from: one Listener per forwarding rule (address, port, TLS certificates,
// compiled URL map) and the backend services they route to, with their NEGs resolved.
// Compile is pure: a function of the resources' JSON. A resource that cannot be served
// (a bad certificate, a dangling reference) fails only the listeners that need it, with
// the reason kept in Snapshot.Problems; everything else is served.
package snapshot

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"meridian/api"
	"meridian/internal/armor"
	"meridian/internal/router"
)

// DefaultKeepAlive is GCP's httpKeepAliveTimeoutSec default for target proxies.
const DefaultKeepAlive = 610 * time.Second

// Snapshot is one consistent view of the configuration.
type Snapshot struct {
	Revision  int64
	Listeners map[string]*Listener // by "ip:port" as configured (before any port map)
	Services  map[string]*BackendService
	// URLMaps lists, by URL map path, the backend services each served URL map can
	// route to (invalidation rules apply to their cached content).
	URLMaps map[string][]string
	// Policies are the security policies the served backend services name, by path.
	Policies map[string]*armor.Policy
	// Problems explains what could not be served, for the edge's log.
	Problems []string
}

// Listener is a forwarding rule with its target proxy, ready to serve.
type Listener struct {
	Address        string // "127.0.10.1:443"
	ForwardingRule string
	TargetProxy    string
	URLMap         string
	HTTPS          bool
	Certificates   []Certificate // in the proxy's order; the first is the no-SNI default
	Router         *router.Table
	KeepAlive      time.Duration
	QuicOverride   string
	TLS            TLSPolicy // the proxy's SSL policy, or GCP's default
	Labels         Labels    // the request log's names of these resources
}

// Labels are the resource labels of a listener's request log entries: the project
// and the names (not paths) of the forwarding rule, target proxy and URL map.
type Labels struct {
	Project, ForwardingRule, TargetProxy, URLMap string
}

// TLSPolicy is what a listener accepts on the TLS handshake: its SSL policy's minimum
// version and TLS 1.0–1.2 cipher suites (TLS 1.3 and its suites are always on).
type TLSPolicy struct {
	MinVersion   uint16
	CipherSuites []uint16
}

// defaultTLSPolicy is a target HTTPS proxy's without an SSL policy: GCP's default,
// the COMPATIBLE profile from TLS 1.0.
func defaultTLSPolicy() TLSPolicy {
	return tlsPolicy(&api.SslPolicy{Profile: api.ProfileCompatible, MinTLSVersion: api.TLS10})
}

// tlsPolicy turns an SSL policy into what the handshake checks.
func tlsPolicy(p *api.SslPolicy) TLSPolicy {
	min := map[string]uint16{api.TLS10: tls.VersionTLS10, api.TLS11: tls.VersionTLS11, api.TLS12: tls.VersionTLS12}[p.MinTLSVersion]
	if min == 0 {
		min = tls.VersionTLS10
	}
	features := p.CustomFeatures
	if p.Profile != api.ProfileCustom {
		features = api.ProfileFeatures(p.Profile)
	}
	ids := map[string]uint16{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids[c.Name] = c.ID
	}
	out := TLSPolicy{MinVersion: min}
	for _, f := range features {
		if id, ok := ids[f]; ok {
			out.CipherSuites = append(out.CipherSuites, id)
		}
	}
	return out
}

// Certificate is a parsed self-managed (or issued managed) certificate.
type Certificate struct {
	Name  string
	Names []string // DNS names it serves
	Cert  *tls.Certificate
}

// BackendService is a backend service with its NEGs resolved.
type BackendService struct {
	Path     string
	Resource *api.BackendService
	Backends []Backend
	// HealthCheck probes the endpoints of internet NEG backends, when the backend
	// service names one.
	HealthCheck *api.HealthCheck
	// Log is its logConfig as the edge applies it.
	Log LogPolicy
	// Armor is its security policy, compiled; nil when it has none.
	Armor *armor.Policy
}

// LogPolicy is a backend service's logConfig: the fraction of its requests logged
// (GCP's default: none, unless logging is enabled, then all), and whether the
// optional fields tls.protocol and tls.cipher are included (optionalMode
// INCLUDE_ALL_OPTIONAL, or CUSTOM naming them or "tls").
type LogPolicy struct {
	Rate                   float64
	TLSProtocol, TLSCipher bool
}

func logPolicy(c *api.LogConfig) LogPolicy {
	if c == nil || !c.Enable {
		return LogPolicy{}
	}
	p := LogPolicy{Rate: 1}
	if c.SampleRate != nil {
		p.Rate = *c.SampleRate
	}
	switch c.OptionalMode {
	case "INCLUDE_ALL_OPTIONAL":
		p.TLSProtocol, p.TLSCipher = true, true
	case "CUSTOM":
		for _, f := range c.OptionalFields {
			p.TLSProtocol = p.TLSProtocol || f == "tls" || f == "tls.protocol"
			p.TLSCipher = p.TLSCipher || f == "tls" || f == "tls.cipher"
		}
	}
	return p
}

// Sampled draws whether one request is logged.
func (p LogPolicy) Sampled() bool {
	return p.Rate >= 1 || p.Rate > 0 && rand.Float64() < p.Rate
}

// Backend is one NEG of a backend service.
type Backend struct {
	Group          string // the NEG's path
	Type           string // SERVERLESS, INTERNET_FQDN_PORT, INTERNET_IP_PORT
	Region         string // for serverless NEGs
	CloudRun       *api.NEGCloudRun
	Endpoints      []api.NetworkEndpoint
	DefaultPort    int64
	CapacityScaler float64
	// MaxRate is the requests per second the backend takes under balancing mode RATE
	// (maxRate, or maxRatePerEndpoint times its endpoints), before CapacityScaler; 0
	// means no cap.
	MaxRate float64
	// Services are the Cloud Run services the region runtime serves in a serverless
	// NEG's project and region, by name.
	Services map[string]ServiceEndpoint
}

// ServiceEndpoint is where a region runtime serves a Cloud Run service.
type ServiceEndpoint struct {
	URL     string            // traffic split as the service says
	Tags    map[string]string // tagged revisions' URLs
	Healthy bool
}

// ServiceEndpoints maps "region/namespace/service" to where a region runtime serves the
// service.
type ServiceEndpoints map[string]ServiceEndpoint

// ServerlessTarget resolves a serverless NEG for one request: the service and tag it
// names, or that its urlMask parses from the request's host and path, to the URL that
// serves them. ok is false, with a reason, when nothing serves them.
func (b *Backend) ServerlessTarget(host, path string) (target string, ok bool, why string) {
	if b.CloudRun == nil {
		return "", false, "The NEG names no Cloud Run service."
	}
	service, tag := b.CloudRun.Service, b.CloudRun.Tag
	if b.CloudRun.URLMask != "" {
		ms, mt, matched := api.MatchURLMask(b.CloudRun.URLMask, host, path)
		if !matched {
			return "", false, fmt.Sprintf("The request URL does not match the NEG's urlMask %q.", b.CloudRun.URLMask)
		}
		if ms != "" {
			service = ms
		}
		if mt != "" {
			tag = mt
		}
	}
	ep, found := b.Services[service]
	switch {
	case service == "":
		return "", false, "No Cloud Run service is named by the NEG or its urlMask."
	case !found:
		return "", false, fmt.Sprintf("Cloud Run service %q has no running endpoint in %s.", service, b.Region)
	case tag != "":
		if u := ep.Tags[tag]; u != "" {
			return u, true, ""
		}
		return "", false, fmt.Sprintf("Cloud Run service %q has no revision tagged %q in %s.", service, tag, b.Region)
	}
	return ep.URL, true, ""
}

// Compile builds a snapshot from stored resources, keyed by their relative path
// ("projects/p/global/urlMaps/m") with their JSON as stored, and the service endpoints
// region runtimes publish.
func Compile(revision int64, resources map[string][]byte, endpoints ServiceEndpoints) *Snapshot {
	c := &compiler{res: resources, endpoints: endpoints, snap: &Snapshot{Revision: revision, Listeners: map[string]*Listener{}, Services: map[string]*BackendService{}, URLMaps: map[string][]string{}, Policies: map[string]*armor.Policy{}}}
	paths := make([]string, 0, len(resources))
	for p := range resources {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if rp, err := api.ParseResourcePath(p, ""); err == nil && rp.Collection == "forwardingRules" {
			if err := c.listener(p); err != nil {
				c.snap.Problems = append(c.snap.Problems, fmt.Sprintf("forwarding rule %s is not served: %v", p, err))
			}
		}
	}
	return c.snap
}

// servicesIn returns the endpoints of one region and project, by service name.
func (c *compiler) servicesIn(region, project string) map[string]ServiceEndpoint {
	key := region + "/" + project
	if m, ok := c.byScope[key]; ok {
		return m
	}
	m := map[string]ServiceEndpoint{}
	for k, ep := range c.endpoints {
		if name, ok := strings.CutPrefix(k, key+"/"); ok {
			m[name] = ep
		}
	}
	if c.byScope == nil {
		c.byScope = map[string]map[string]ServiceEndpoint{}
	}
	c.byScope[key] = m
	return m
}

type compiler struct {
	byScope   map[string]map[string]ServiceEndpoint
	res       map[string][]byte
	endpoints ServiceEndpoints
	snap      *Snapshot
}

func (c *compiler) load(path string, into any) error {
	data, ok := c.res[path]
	if !ok {
		return fmt.Errorf("%s does not exist", path)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s is corrupt: %v", path, err)
	}
	return nil
}

func (c *compiler) listener(frPath string) error {
	var fr api.ForwardingRule
	if err := c.load(frPath, &fr); err != nil {
		return err
	}
	lo, hi, err := api.ParsePortRange(fr.PortRange)
	if err != nil {
		return err
	}
	if lo != hi {
		return fmt.Errorf("port range %s: Meridian listens on single ports", fr.PortRange)
	}
	l := &Listener{Address: joinHostPort(fr.IPAddress, lo), ForwardingRule: frPath, TargetProxy: fr.Target, KeepAlive: DefaultKeepAlive}
	target, err := api.ParseResourcePath(fr.Target, "")
	if err != nil {
		return err
	}
	switch target.Collection {
	case "targetHttpsProxies":
		var p api.TargetHttpsProxy
		if err := c.load(fr.Target, &p); err != nil {
			return err
		}
		l.HTTPS, l.URLMap, l.QuicOverride = true, p.URLMap, p.QuicOverride
		l.KeepAlive = keepAlive(p.HTTPKeepAliveTimeoutSec)
		l.TLS = defaultTLSPolicy()
		if p.SslPolicy != "" {
			var sp api.SslPolicy
			if err := c.load(p.SslPolicy, &sp); err != nil {
				return err
			}
			l.TLS = tlsPolicy(&sp)
		}
		if l.Certificates, err = c.certificates(p.SslCertificates); err != nil {
			return err
		}
	case "targetHttpProxies":
		var p api.TargetHttpProxy
		if err := c.load(fr.Target, &p); err != nil {
			return err
		}
		l.URLMap, l.KeepAlive = p.URLMap, keepAlive(p.HTTPKeepAliveTimeoutSec)
	default:
		return fmt.Errorf("target %s is not a target HTTP(S) proxy", fr.Target)
	}
	if l.Router, err = c.urlMap(l.URLMap); err != nil {
		return err
	}
	if other, dup := c.snap.Listeners[l.Address]; dup {
		return fmt.Errorf("%s is already served by %s", l.Address, other.ForwardingRule)
	}
	l.Labels = Labels{ForwardingRule: api.LastSegment(frPath), TargetProxy: target.Name, URLMap: api.LastSegment(l.URLMap)}
	if p, err := api.ParseResourcePath(frPath, ""); err == nil {
		l.Labels.Project = p.Project
	}
	c.snap.Listeners[l.Address] = l
	return nil
}

func keepAlive(sec int64) time.Duration {
	if sec == 0 {
		return DefaultKeepAlive
	}
	return time.Duration(sec) * time.Second
}

func joinHostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

// certificates parses the proxy's certificates. A managed certificate that is not
// issued yet is skipped.
func (c *compiler) certificates(paths []string) ([]Certificate, error) {
	var out []Certificate
	var skipped []string
	for _, p := range paths {
		var sc api.SslCertificate
		if err := c.load(p, &sc); err != nil {
			return nil, err
		}
		if sc.Certificate == "" || sc.PrivateKey == "" {
			skipped = append(skipped, api.LastSegment(p)+" (not issued yet)")
			continue
		}
		kp, err := tls.X509KeyPair([]byte(sc.Certificate), []byte(sc.PrivateKey))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", api.LastSegment(p), err))
			continue
		}
		out = append(out, Certificate{Name: p, Names: sc.SubjectAlternativeNames, Cert: &kp})
	}
	if len(out) == 0 {
		// Served all the same: an ACME server validates a managed certificate's domains
		// on this listener (TLS-ALPN-01) before it is issued. Other handshakes fail.
		c.snap.Problems = append(c.snap.Problems, fmt.Sprintf("no usable certificate yet, handshakes fail: %s", strings.Join(skipped, ", ")))
	}
	return out, nil
}

// urlMap compiles the URL map and resolves every backend service it can route to.
func (c *compiler) urlMap(path string) (*router.Table, error) {
	var um api.UrlMap
	if err := c.load(path, &um); err != nil {
		return nil, err
	}
	var services []string
	for _, ref := range um.References() {
		if rp, err := api.ParseResourcePath(*ref.Value, ""); err == nil && rp.Collection == "backendServices" {
			if err := c.backendService(*ref.Value); err != nil {
				return nil, err
			}
			services = append(services, *ref.Value)
		}
	}
	c.snap.URLMaps[path] = services
	return router.Compile(&um)
}

// securityPolicy compiles a security policy once per snapshot. A policy that does not
// compile keeps its backend service (and the forwarding rules that reach it) from
// being served: an edge does not serve a service unprotected.
func (c *compiler) securityPolicy(path string) (*armor.Policy, error) {
	if p, done := c.snap.Policies[path]; done {
		return p, nil
	}
	var sp api.SecurityPolicy
	if err := c.load(path, &sp); err != nil {
		return nil, err
	}
	p, err := armor.Compile(&sp)
	if err != nil {
		return nil, err
	}
	c.snap.Policies[path] = p
	return p, nil
}

func (c *compiler) backendService(path string) error {
	if _, done := c.snap.Services[path]; done {
		return nil
	}
	var bs api.BackendService
	if err := c.load(path, &bs); err != nil {
		return err
	}
	svc := &BackendService{Path: path, Resource: &bs, Log: logPolicy(bs.LogConfig)}
	if bs.SecurityPolicy != "" {
		p, err := c.securityPolicy(bs.SecurityPolicy)
		if err != nil {
			return err
		}
		svc.Armor = p
	}
	if len(bs.HealthChecks) > 0 {
		if hp, err := api.ParseResourcePath(bs.HealthChecks[0], ""); err == nil {
			var hc api.HealthCheck
			if err := c.load(hp.String(), &hc); err == nil {
				svc.HealthCheck = &hc
			}
		}
	}
	for _, be := range bs.Backends {
		var neg api.NetworkEndpointGroup
		if err := c.load(be.Group, &neg); err != nil {
			return err
		}
		b := Backend{Group: be.Group, Type: neg.NetworkEndpointType, CloudRun: neg.CloudRun, Endpoints: neg.Endpoints, DefaultPort: neg.DefaultPort, CapacityScaler: 1}
		if be.CapacityScaler != nil {
			b.CapacityScaler = *be.CapacityScaler
		}
		if neg.Region != "" {
			b.Region = api.LastSegment(neg.Region)
		}
		if be.BalancingMode == "RATE" {
			endpoints := len(neg.Endpoints)
			if neg.NetworkEndpointType == api.NEGServerless {
				endpoints = 1
			}
			switch {
			case be.MaxRate > 0:
				b.MaxRate = float64(be.MaxRate)
			case be.MaxRatePerEndpoint > 0:
				b.MaxRate = be.MaxRatePerEndpoint * float64(endpoints)
			}
		}
		if p, err := api.ParseResourcePath(be.Group, ""); err == nil && neg.CloudRun != nil {
			b.Services = c.servicesIn(b.Region, p.Project)
		}
		svc.Backends = append(svc.Backends, b)
	}
	c.snap.Services[path] = svc
	return nil
}
