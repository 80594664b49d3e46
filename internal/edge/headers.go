package edge

import (
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"

	"meridian/api"
	"meridian/internal/geo"
)

// applyHeaderActions applies URL map header actions, outermost first, to a request's
// or a response's headers.
func applyHeaderActions(h http.Header, actions []*api.HttpHeaderAction, request bool) {
	for _, a := range actions {
		remove, add := a.ResponseHeadersToRemove, a.ResponseHeadersToAdd
		if request {
			remove, add = a.RequestHeadersToRemove, a.RequestHeadersToAdd
		}
		for _, name := range remove {
			h.Del(name)
		}
		for _, o := range add {
			if o.Replace {
				h.Set(o.HeaderName, o.HeaderValue)
			} else {
				h.Add(o.HeaderName, o.HeaderValue)
			}
		}
	}
}

// applyCustomHeaders sets a backend service's customRequestHeaders or
// customResponseHeaders ("Name: value"), expanding GCP's variables ([HDR]).
func applyCustomHeaders(h http.Header, custom []string, r *http.Request, regions *geo.ClientRegions) {
	for _, line := range custom {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h.Add(strings.TrimSpace(name), expandVariables(strings.TrimSpace(value), r, regions))
	}
}

// expandVariables replaces {variable} with its value for this request. Variables with
// no value here (client geography without --client-regions, RTT) expand to nothing, as GCP does when a value is
// unknown; the CDN's {cdn_cache_status} and {cdn_cache_id} come with the CDN.
func expandVariables(v string, r *http.Request, regions *geo.ClientRegions) string {
	if !strings.Contains(v, "{") {
		return v
	}
	ip, port, _ := net.SplitHostPort(r.RemoteAddr)
	vars := map[string]string{
		"client_ip_address":     ip,
		"client_port":           port,
		"origin_request_header": r.Header.Get("Origin"),
	}
	if strings.Contains(v, "{client_region}") {
		vars["client_region"] = regions.Lookup(clientAddr(r.RemoteAddr)) // "" without a table
	}
	if rtt, ok := clientRTT(r); ok {
		vars["client_rtt_msec"] = strconv.Itoa(rtt)
	}
	if cv, ok := r.Context().Value(cdnVarsKey{}).(cdnVars); ok {
		vars["cdn_cache_status"], vars["cdn_cache_id"] = cv.status, cv.id
	}
	if r.TLS != nil {
		vars["tls_version"] = tlsVersionName(r.TLS.Version)
		vars["tls_cipher_suite"] = tls.CipherSuiteName(r.TLS.CipherSuite)
		vars["tls_sni_hostname"] = r.TLS.ServerName
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(v, '{')
		end := strings.IndexByte(v[max(open, 0):], '}') + max(open, 0)
		if open < 0 || end < open {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:open])
		b.WriteString(vars[v[open+1:end]])
		v = v[end+1:]
	}
}

// connKey is the context key under which the server stores a request's connection.
type connKey struct{}

// clientRTT is the round-trip time of the client's TCP connection.
func clientRTT(r *http.Request) (int, bool) {
	c, ok := r.Context().Value(connKey{}).(net.Conn)
	if !ok {
		return 0, false
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return connRTT(c)
}

// tlsVersionName names a TLS version as GCP's logs and header variables do ("TLSv1.3").
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1.0"
	}
	return strings.Replace(tls.VersionName(v), "TLS 1.", "TLSv1.", 1)
}
