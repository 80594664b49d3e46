package cli

import (
	"errors"
	"net/http"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"meridian/api"
)

func targetHTTPSProxyType() *resourceType {
	return &resourceType{
		collection: "targetHttpsProxies", noun: "target HTTPS proxy", plural: "target HTTPS proxies", regional: true, globalByDefault: true,
		listFormat: "table(name, sslCertificates.basename().list():label=SSL_CERTIFICATES, urlMap.basename():label=URL_MAP)",
	}
}

func targetHTTPProxyType() *resourceType {
	return &resourceType{
		collection: "targetHttpProxies", noun: "target HTTP proxy", plural: "target HTTP proxies", regional: true, globalByDefault: true,
		listFormat: "table(name, urlMap.basename():label=URL_MAP)",
	}
}

// targetHTTPSProxiesCommand is `compute target-https-proxies`.
func (a *app) targetHTTPSProxiesCommand() *cobra.Command {
	rt := targetHTTPSProxyType()
	return a.group("target-https-proxies", "List, create, update, and delete target HTTPS proxies.",
		a.proxyCreateCommand(rt, true),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.proxyUpdateCommand(rt, true),
	)
}

// targetHTTPProxiesCommand is `compute target-http-proxies`.
func (a *app) targetHTTPProxiesCommand() *cobra.Command {
	rt := targetHTTPProxyType()
	return a.group("target-http-proxies", "List, create, update, and delete target HTTP proxies.",
		a.proxyCreateCommand(rt, false),
		a.deleteCommand(rt),
		a.describeCommand(rt),
		a.listCommand(rt),
		a.proxyUpdateCommand(rt, false),
	)
}

// proxyFlags are the flags of target proxies; the TLS ones exist for HTTPS only.
type proxyFlags struct {
	urlMap, description *optional[string]
	keepAlive           *optional[int64]
	// HTTPS only
	certificates                          *listValue
	quicOverride, sslPolicy, tlsEarlyData *optional[string]
	certificateMap                        *optional[string]
	// update only
	clearKeepAlive, clearSSLPolicy bool
}

func addProxyFlags(fs *pflag.FlagSet, https, forUpdate bool) *proxyFlags {
	f := &proxyFlags{certificates: &listValue{}, quicOverride: &optional[string]{}, sslPolicy: &optional[string]{},
		tlsEarlyData: &optional[string]{}, certificateMap: &optional[string]{}}
	f.urlMap = addString(fs, "url-map", "URL map that routes the proxy's requests.")
	f.keepAlive = addInt(fs, "http-keep-alive-timeout-sec", "HTTP keep-alive timeout of client connections, 5 to 1200 seconds (default 610).")
	if !forUpdate {
		f.description = addString(fs, "description", "An optional, textual description for the proxy.")
	}
	if forUpdate {
		fs.BoolVar(&f.clearKeepAlive, "clear-http-keep-alive-timeout-sec", false, "Go back to the default HTTP keep-alive timeout.")
	}
	if !https {
		return f
	}
	f.certificates = addList(fs, "ssl-certificates", "SSL certificates the proxy serves (by SNI); at most 15.")
	f.quicOverride = addEnum(fs, "quic-override", "Whether the proxy offers HTTP/3 (QUIC).", "NONE", "ENABLE", "DISABLE")
	f.sslPolicy = addString(fs, "ssl-policy", "SSL policy of the proxy.")
	f.tlsEarlyData = addEnum(fs, "tls-early-data", "Whether the proxy accepts TLS 1.3 early data.", "DISABLED", "PERMISSIVE", "STRICT", "UNRESTRICTED")
	f.certificateMap = addString(fs, "certificate-map", "Certificate map of the proxy.")
	if forUpdate {
		fs.BoolVar(&f.clearSSLPolicy, "clear-ssl-policy", false, "Remove the proxy's SSL policy.")
	}
	return f
}

func (a *app) proxyCreateCommand(rt *resourceType, https bool) *cobra.Command {
	var f *proxyFlags
	cmd := a.resourceCommand(rt, "create", "Create a "+rt.noun+".", "create", func(s *session, t target) error {
		if !f.urlMap.set {
			return errors.New("argument --url-map: Must be specified.")
		}
		urlMap := resourceRef(t.project, t.loc, "urlMaps", f.urlMap.value)
		if !https {
			p := api.TargetHttpProxy{Meta: api.Meta{Name: t.name, Description: f.description.value}, URLMap: urlMap}
			f.keepAlive.apply(&p.HTTPKeepAliveTimeoutSec)
			return s.insert(rt, t.loc, &p, t.name)
		}
		if !f.certificates.set && !f.certificateMap.set {
			return errors.New("Exactly one of (--certificate-map | --ssl-certificates) must be specified.")
		}
		p := api.TargetHttpsProxy{Meta: api.Meta{Name: t.name, Description: f.description.value}, URLMap: urlMap,
			SslCertificates: refs(t.project, t.loc, "sslCertificates", f.certificates.items)}
		f.keepAlive.apply(&p.HTTPKeepAliveTimeoutSec)
		f.quicOverride.apply(&p.QuicOverride)
		f.tlsEarlyData.apply(&p.TLSEarlyData)
		if f.sslPolicy.set {
			p.SslPolicy = resourceRef(t.project, t.loc, "sslPolicies", f.sslPolicy.value)
		}
		f.certificateMap.apply(&p.CertificateMap)
		return s.insert(rt, t.loc, &p, t.name)
	})
	f = addProxyFlags(cmd.Flags(), https, false)
	return cmd
}

// proxyUpdateCommand changes a proxy with GCP's dedicated methods (setSslCertificates,
// setUrlMap, setQuicOverride, setSslPolicy) and a PATCH for the other fields.
func (a *app) proxyUpdateCommand(rt *resourceType, https bool) *cobra.Command {
	var f *proxyFlags
	cmd := a.resourceCommand(rt, "update", "Update a "+rt.noun+".", "update", func(s *session, t target) error {
		calls := f.updateCalls(t, rt.collection)
		if len(calls) == 0 {
			return errNoChange
		}
		var last *api.Operation
		for _, call := range calls {
			var err error
			if last, err = s.client.mutate(s.ctx, call.method, call.path, call.body); err != nil {
				return err
			}
		}
		s.status("Updated [%s].", last.TargetLink)
		return nil
	})
	f = addProxyFlags(cmd.Flags(), https, true)
	return cmd
}

// apiCall is one request of a multi-step update.
type apiCall struct {
	method, path string
	body         any
}

// updateCalls are the requests an update makes, in gcloud's order.
func (f *proxyFlags) updateCalls(t target, collection string) []apiCall {
	var calls []apiCall
	if f.certificates.set {
		calls = append(calls, apiCall{http.MethodPost, proxyActionPath(t, collection, "setSslCertificates"),
			map[string]any{"sslCertificates": refs(t.project, t.loc, "sslCertificates", f.certificates.items)}})
	}
	if f.urlMap.set {
		calls = append(calls, apiCall{http.MethodPost, proxyActionPath(t, collection, "setUrlMap"),
			map[string]any{"urlMap": resourceRef(t.project, t.loc, "urlMaps", f.urlMap.value)}})
	}
	if f.quicOverride.set {
		calls = append(calls, apiCall{http.MethodPost, t.path(collection, "setQuicOverride"), map[string]any{"quicOverride": f.quicOverride.value}})
	}
	if f.sslPolicy.set {
		calls = append(calls, apiCall{http.MethodPost, t.path(collection, "setSslPolicy"),
			map[string]any{"sslPolicy": resourceRef(t.project, t.loc, "sslPolicies", f.sslPolicy.value)}})
	}
	if f.clearSSLPolicy {
		calls = append(calls, apiCall{http.MethodPost, t.path(collection, "setSslPolicy"), map[string]any{}})
	}
	// A JSON merge patch (RFC 7386) of the remaining fields; null removes a field.
	patch := map[string]any{}
	if f.keepAlive.set {
		patch["httpKeepAliveTimeoutSec"] = f.keepAlive.value
	}
	if f.clearKeepAlive {
		patch["httpKeepAliveTimeoutSec"] = nil
	}
	if f.tlsEarlyData.set {
		patch["tlsEarlyData"] = f.tlsEarlyData.value
	}
	if f.certificateMap.set {
		patch["certificateMap"] = f.certificateMap.value
	}
	if len(patch) > 0 {
		calls = append(calls, apiCall{http.MethodPatch, t.path(collection), patch})
	}
	return calls
}

// proxyActionPath is where GCP keeps setUrlMap and setSslCertificates of global
// proxies: projects/{p}/targetHttpsProxies/{name}/{action}, without "global".
func proxyActionPath(t target, collection, action string) string {
	if t.loc.isGlobal() {
		return joinPath("compute", "v1", "projects", t.project, collection, t.name, action)
	}
	return t.path(collection, action)
}
