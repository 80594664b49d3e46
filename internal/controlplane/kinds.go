package controlplane

import "meridian/api"

// kind describes one Compute collection: where it lives, how it is made and which
// methods it has, so one set of handlers serves them all.
type kind struct {
	collection string // in URLs: "backendServices"
	kind       string // "compute#backendService"
	noun       string // in messages: "backend service"
	global     bool   // may exist under projects/p/global
	regional   bool   // may exist under projects/p/regions/r
	patch      bool   // has PATCH (JSON merge patch)
	update     bool   // has PUT
	new        func() api.Resource
}

func computeKinds() map[string]*kind {
	all := []*kind{
		{collection: "networkEndpointGroups", kind: "compute#networkEndpointGroup", noun: "network endpoint group", global: true, regional: true,
			new: func() api.Resource { return &api.NetworkEndpointGroup{} }},
		{collection: "backendServices", kind: "compute#backendService", noun: "backend service", global: true, patch: true, update: true,
			new: func() api.Resource { return &api.BackendService{} }},
		{collection: "urlMaps", kind: "compute#urlMap", noun: "URL map", global: true, patch: true, update: true,
			new: func() api.Resource { return &api.UrlMap{} }},
		{collection: "sslCertificates", kind: "compute#sslCertificate", noun: "SSL certificate", global: true,
			new: func() api.Resource { return &api.SslCertificate{} }},
		{collection: "targetHttpsProxies", kind: "compute#targetHttpsProxy", noun: "target HTTPS proxy", global: true, patch: true,
			new: func() api.Resource { return &api.TargetHttpsProxy{} }},
		{collection: "targetHttpProxies", kind: "compute#targetHttpProxy", noun: "target HTTP proxy", global: true, patch: true,
			new: func() api.Resource { return &api.TargetHttpProxy{} }},
		{collection: "addresses", kind: "compute#address", noun: "address", global: true,
			new: func() api.Resource { return &api.Address{} }},
		{collection: "forwardingRules", kind: "compute#forwardingRule", noun: "forwarding rule", global: true, patch: true,
			new: func() api.Resource { return &api.ForwardingRule{} }},
		{collection: "sslPolicies", kind: "compute#sslPolicy", noun: "SSL policy", global: true, patch: true,
			new: func() api.Resource { return &api.SslPolicy{} }},
		{collection: "securityPolicies", kind: "compute#securityPolicy", noun: "security policy", global: true, patch: true,
			new: func() api.Resource { return &api.SecurityPolicy{} }},
		{collection: "healthChecks", kind: "compute#healthCheck", noun: "health check", global: true, patch: true, update: true,
			new: func() api.Resource { return &api.HealthCheck{} }},
	}
	m := make(map[string]*kind, len(all))
	for _, k := range all {
		m[k.collection] = k
	}
	return m
}
