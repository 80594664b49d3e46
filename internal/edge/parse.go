package edge

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseFast reads a header block in the plain form nearly every client sends: a GET
// or HEAD request line in origin form for HTTP/1.1, and header fields each on one
// line, without Content-Length or Transfer-Encoding. It makes the *http.Request that
// http.ReadRequest would make of the block, with fewer allocations (every string of the
// request points into one copy of the block). Anything else is nil, and net/http's own
// parser decides (parseRequest), so an unusual request is read as net/http reads it.
func parseFast(raw []byte) *http.Request {
	s := string(raw)
	line, rest, ok := cutLine(s)
	if !ok {
		return nil
	}
	method, after, _ := strings.Cut(line, " ")
	if method != http.MethodGet && method != http.MethodHead {
		return nil
	}
	target, proto, _ := strings.Cut(after, " ")
	if proto != "HTTP/1.1" || target == "" || target[0] != '/' {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	// One []string per distinct field name, their backing arrays carved from one.
	lines := strings.Count(rest, "\n")
	h := make(http.Header, lines)
	values := make([]string, 0, lines)
	for {
		if line, rest, ok = cutLine(rest); !ok {
			return nil
		}
		if line == "" {
			break // the empty line that ends the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil // a folded line (obs-fold): net/http's
		}
		name, value, found := strings.Cut(line, ":")
		if !found || name == "" || !httpguts.ValidHeaderFieldName(name) {
			return nil
		}
		value = strings.Trim(value, " \t")
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length", "Transfer-Encoding":
			return nil
		}
		if vs, seen := h[key]; seen {
			h[key] = append(vs, value) // a repeated field: its own array
			continue
		}
		values = append(values, value)
		h[key] = values[len(values)-1 : len(values) : len(values)]
	}
	if rest != "" {
		return nil // bytes after the block are not part of it
	}
	hosts := h["Host"]
	if len(hosts) > 1 {
		return nil // net/http refuses it
	}
	host := ""
	if len(hosts) == 1 {
		host = hosts[0]
	}
	delete(h, "Host") // as http.ReadRequest: the request's Host field holds it
	// As http.ReadRequest: Pragma: no-cache stands for Cache-Control: no-cache.
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	return &http.Request{
		Method: method, URL: u, Proto: proto, ProtoMajor: 1, ProtoMinor: 1, Header: h, Host: host,
		RequestURI: target, Body: http.NoBody,
		Close: httpguts.HeaderValuesContainsToken(h["Connection"], "close"),
	}
}

// cutLine splits off the first line, ended by LF or CRLF; false when there is none.
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", s, false
	}
	line, rest = s[:i], s[i+1:]
	return strings.TrimSuffix(line, "\r"), rest, true
}
