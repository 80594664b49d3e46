// Package router matches requests against a URL map, as the global external
// Application Load Balancer does: a host rule picks a path matcher (exact host, then the
// longest "*." wildcard, then "*"), whose path rules (longest match) or route rules
// (lowest priority first; prefix, full-path, regex and template matches with header and
// query conditions) pick a backend service, weighted services or a redirect.
//
// Compile checks and precomputes a URL map once; Match is then a pure function of the
// request, safe for concurrent use. The edge routes with it, and the control plane runs
// a URL map's tests[] with it before storing the map.
package router

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"meridian/api"
)

// Request is what routing looks at.
type Request struct {
	Scheme string // "http" or "https"
	Host   string // the Host header, possibly with a port
	Path   string // the URL path, not decoded further
	Query  string // the raw query, without "?"
	Header http.Header
}

// Result is the routing decision for one request.
type Result struct {
	// Service is the backend service (relative path) when one is chosen directly.
	Service string
	// Weighted holds the services of routeAction.weightedBackendServices; the caller
	// picks one by weight.
	Weighted []api.WeightedBackendService
	// Redirect is set when the request is answered with a redirect.
	Redirect *Redirect
	// Action is the matched rule's routeAction (rewrites, timeout, retries), if any.
	Action *api.HttpRouteAction
	// HeaderActions apply from the outermost (URL map) to the innermost (route rule).
	HeaderActions []*api.HttpHeaderAction
	// Rewritten is the host and path forwarded to the backend after urlRewrite.
	RewrittenHost, RewrittenPath string
}

// Redirect is a redirect answer.
type Redirect struct {
	Location string
	Code     int
}

// Table is a compiled URL map.
type Table struct {
	def       target
	headers   *api.HttpHeaderAction
	exact     map[string]*matcher // lower-cased host (with or without port)
	wildcards []wildcardHost      // longest suffix first
	any       *matcher            // "*"
}

type wildcardHost struct {
	suffix string // ".example.com" for "*.example.com"; "-foo.com" for "*-foo.com"
	m      *matcher
}

// target is what a rule or default routes to.
type target struct {
	service  string
	action   *api.HttpRouteAction
	redirect *api.HttpRedirectAction
	headers  *api.HttpHeaderAction
	vars     map[string]string // captured by a pathTemplateMatch, for pathTemplateRewrite
}

type matcher struct {
	def        target
	headers    *api.HttpHeaderAction
	pathRules  []pathRule
	routeRules []routeRule
}

type pathRule struct {
	path   string // without the trailing "*"
	prefix bool
	target target
}

type routeRule struct {
	priority int64
	matches  []compiledMatch
	target   target
}

type compiledMatch struct {
	m        api.HttpRouteRuleMatch
	regex    *regexp.Regexp
	template []api.PathTemplateSegment
	headers  []compiledHeader
	query    []compiledQuery
}

type compiledHeader struct {
	m     api.HttpHeaderMatch
	regex *regexp.Regexp
}

type compiledQuery struct {
	m     api.HttpQueryParameterMatch
	regex *regexp.Regexp
}

// Compile builds the routing table of a validated URL map.
func Compile(um *api.UrlMap) (*Table, error) {
	t := &Table{
		def:     target{service: um.DefaultService, action: um.DefaultRouteAction, redirect: um.DefaultURLRedirect},
		headers: um.HeaderAction,
		exact:   map[string]*matcher{},
	}
	matchers := map[string]*matcher{}
	for i := range um.PathMatchers {
		m, err := compileMatcher(&um.PathMatchers[i])
		if err != nil {
			return nil, err
		}
		matchers[um.PathMatchers[i].Name] = m
	}
	for _, hr := range um.HostRules {
		m, ok := matchers[hr.PathMatcher]
		if !ok {
			return nil, fmt.Errorf("router: host rule names unknown path matcher %q", hr.PathMatcher)
		}
		for _, h := range hr.Hosts {
			h = strings.ToLower(h)
			switch {
			case h == "*":
				t.any = m
			case strings.HasPrefix(h, "*"):
				t.wildcards = append(t.wildcards, wildcardHost{suffix: h[1:], m: m})
			default:
				t.exact[h] = m
			}
		}
	}
	sort.SliceStable(t.wildcards, func(a, b int) bool { return len(t.wildcards[a].suffix) > len(t.wildcards[b].suffix) })
	return t, nil
}

func compileMatcher(pm *api.PathMatcher) (*matcher, error) {
	m := &matcher{def: target{service: pm.DefaultService, action: pm.DefaultRouteAction, redirect: pm.DefaultURLRedirect}, headers: pm.HeaderAction}
	for _, pr := range pm.PathRules {
		for _, p := range pr.Paths {
			rule := pathRule{path: p, target: target{service: pr.Service, action: pr.RouteAction, redirect: pr.URLRedirect}}
			if strings.HasSuffix(p, "*") {
				rule.path, rule.prefix = strings.TrimSuffix(p, "*"), true
			}
			m.pathRules = append(m.pathRules, rule)
		}
	}
	for _, rr := range pm.RouteRules {
		rule := routeRule{priority: rr.Priority, target: target{service: rr.Service, action: rr.RouteAction, redirect: rr.URLRedirect, headers: rr.HeaderAction}}
		for _, mr := range rr.MatchRules {
			cm, err := compileMatch(mr)
			if err != nil {
				return nil, err
			}
			rule.matches = append(rule.matches, cm)
		}
		m.routeRules = append(m.routeRules, rule)
	}
	sort.SliceStable(m.routeRules, func(a, b int) bool { return m.routeRules[a].priority < m.routeRules[b].priority })
	return m, nil
}

func compileMatch(mr api.HttpRouteRuleMatch) (compiledMatch, error) {
	cm := compiledMatch{m: mr}
	var err error
	if mr.RegexMatch != "" {
		if cm.regex, err = regexp.Compile("^(?:" + mr.RegexMatch + ")$"); err != nil {
			return cm, fmt.Errorf("router: regexMatch %q: %w", mr.RegexMatch, err)
		}
	}
	if mr.PathTemplateMatch != "" {
		if cm.template, err = api.ParsePathTemplate(mr.PathTemplateMatch); err != nil {
			return cm, fmt.Errorf("router: pathTemplateMatch %q: %w", mr.PathTemplateMatch, err)
		}
	}
	for _, h := range mr.HeaderMatches {
		ch := compiledHeader{m: h}
		if h.RegexMatch != "" {
			if ch.regex, err = regexp.Compile("^(?:" + h.RegexMatch + ")$"); err != nil {
				return cm, fmt.Errorf("router: header regexMatch %q: %w", h.RegexMatch, err)
			}
		}
		cm.headers = append(cm.headers, ch)
	}
	for _, q := range mr.QueryParameterMatches {
		cq := compiledQuery{m: q}
		if q.RegexMatch != "" {
			if cq.regex, err = regexp.Compile("^(?:" + q.RegexMatch + ")$"); err != nil {
				return cm, fmt.Errorf("router: query regexMatch %q: %w", q.RegexMatch, err)
			}
		}
		cm.query = append(cm.query, cq)
	}
	return cm, nil
}

// Match routes a request.
func (t *Table) Match(req Request) Result {
	res := Result{}
	if t.headers != nil {
		res.HeaderActions = append(res.HeaderActions, t.headers)
	}
	m := t.matcherFor(req.Host)
	if m == nil {
		return t.finish(req, res, t.def, "")
	}
	if m.headers != nil {
		res.HeaderActions = append(res.HeaderActions, m.headers)
	}
	if tg, prefix, ok := m.matchPathRules(req.Path); ok {
		return t.finish(req, res, tg, prefix)
	}
	if tg, cm, ok := m.matchRouteRules(req); ok {
		if cm != nil && cm.template != nil {
			tg.vars, _ = MatchTemplate(cm.template, req.Path)
		}
		prefix := ""
		if cm != nil {
			prefix = cm.m.PrefixMatch
		}
		return t.finish(req, res, tg, prefix)
	}
	return t.finish(req, res, m.def, "")
}

// matcherFor picks the path matcher of a host: an exact host (with its port, then
// without), then the longest wildcard suffix, then "*".
func (t *Table) matcherFor(hostport string) *matcher {
	hostport = strings.ToLower(hostport)
	host := hostport
	if h, _, ok := strings.Cut(hostport, ":"); ok && !strings.Contains(hostport, "]") {
		host = h
	}
	if m, ok := t.exact[hostport]; ok {
		return m
	}
	if m, ok := t.exact[host]; ok {
		return m
	}
	for _, w := range t.wildcards {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return w.m
		}
	}
	return t.any
}

// matchPathRules applies the longest match; an exact path beats a prefix of the same
// length.
func (m *matcher) matchPathRules(path string) (target, string, bool) {
	best, bestLen := -1, -1
	for i, r := range m.pathRules {
		l := -1
		switch {
		case r.prefix && strings.HasPrefix(path, r.path):
			l = 2 * len(r.path)
		case !r.prefix && path == r.path:
			l = 2*len(r.path) + 1
		}
		if l > bestLen {
			best, bestLen = i, l
		}
	}
	if best < 0 {
		return target{}, "", false
	}
	r := m.pathRules[best]
	prefix := ""
	if r.prefix {
		prefix = r.path
	}
	return r.target, prefix, true
}

// matchRouteRules returns the first rule, by priority, one of whose match rules holds,
// and that match rule (nil for a rule without any, which matches everything).
func (m *matcher) matchRouteRules(req Request) (target, *compiledMatch, bool) {
	for _, r := range m.routeRules {
		if len(r.matches) == 0 {
			return r.target, nil, true
		}
		for i := range r.matches {
			if r.matches[i].matches(req) {
				return r.target, &r.matches[i], true
			}
		}
	}
	return target{}, nil, false
}

func (cm *compiledMatch) matches(req Request) bool {
	path := req.Path
	m := cm.m
	switch {
	case m.PrefixMatch != "":
		if !hasPrefix(path, m.PrefixMatch, m.IgnoreCase) {
			return false
		}
	case m.FullPathMatch != "":
		if !(path == m.FullPathMatch || (m.IgnoreCase && strings.EqualFold(path, m.FullPathMatch))) {
			return false
		}
	case cm.regex != nil:
		if !cm.regex.MatchString(path) {
			return false
		}
	case cm.template != nil:
		if _, ok := MatchTemplate(cm.template, path); !ok {
			return false
		}
	}
	for _, h := range cm.headers {
		if !h.matches(req.Header) {
			return false
		}
	}
	if len(cm.query) > 0 {
		q, _ := url.ParseQuery(req.Query)
		for _, qm := range cm.query {
			if !qm.matches(q) {
				return false
			}
		}
	}
	return true
}

func hasPrefix(s, prefix string, ignoreCase bool) bool {
	if ignoreCase {
		return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
	}
	return strings.HasPrefix(s, prefix)
}

func (h compiledHeader) matches(header http.Header) bool {
	values, present := header[http.CanonicalHeaderKey(h.m.HeaderName)]
	v := strings.Join(values, ",")
	var ok bool
	switch m := h.m; {
	case m.PresentMatch != nil:
		ok = present == *m.PresentMatch
	case !present:
		ok = false
	case m.ExactMatch != "":
		ok = v == m.ExactMatch
	case m.PrefixMatch != "":
		ok = strings.HasPrefix(v, m.PrefixMatch)
	case m.SuffixMatch != "":
		ok = strings.HasSuffix(v, m.SuffixMatch)
	case h.regex != nil:
		ok = h.regex.MatchString(v)
	case m.RangeMatch != nil:
		n, err := strconv.ParseInt(v, 10, 64)
		ok = err == nil && n >= m.RangeMatch.RangeStart && n < m.RangeMatch.RangeEnd
	}
	return ok != h.m.InvertMatch
}

func (q compiledQuery) matches(values url.Values) bool {
	vs, present := values[q.m.Name]
	switch {
	case q.m.PresentMatch != nil:
		return present == *q.m.PresentMatch
	case !present:
		return false
	case q.m.ExactMatch != "":
		return vs[0] == q.m.ExactMatch
	case q.regex != nil:
		return q.regex.MatchString(vs[0])
	}
	return false
}

// MatchTemplate matches a path against a parsed pathTemplateMatch and returns the
// variables it captured.
func MatchTemplate(segs []api.PathTemplateSegment, path string) (map[string]string, bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, false
	}
	parts := strings.Split(path[1:], "/")
	vars := map[string]string{}
	for i, s := range segs {
		if s.Wildcard == "**" {
			if s.Variable != "" {
				vars[s.Variable] = strings.Join(parts[min(i, len(parts)):], "/")
			}
			return vars, true
		}
		if i >= len(parts) || parts[i] == "" {
			return nil, false
		}
		switch {
		case s.Literal != "" && parts[i] != s.Literal:
			return nil, false
		case s.Variable != "":
			vars[s.Variable] = parts[i]
		}
	}
	return vars, len(parts) == len(segs)
}

// finish turns the chosen target into a Result: a redirect, or a service with the
// rule's route action and the rewritten host and path.
func (t *Table) finish(req Request, res Result, tg target, matchedPrefix string) Result {
	if tg.headers != nil {
		res.HeaderActions = append(res.HeaderActions, tg.headers)
	}
	if tg.redirect != nil {
		res.Redirect = redirect(req, tg.redirect, matchedPrefix)
		return res
	}
	res.Service, res.Action = tg.service, tg.action
	if tg.action != nil {
		res.Weighted = tg.action.WeightedBackendServices
	}
	res.RewrittenHost, res.RewrittenPath = req.Host, req.Path
	if tg.action != nil && tg.action.URLRewrite != nil {
		rw := tg.action.URLRewrite
		if rw.HostRewrite != "" {
			res.RewrittenHost = rw.HostRewrite
		}
		switch {
		case rw.PathPrefixRewrite != "" && matchedPrefix != "":
			res.RewrittenPath = rw.PathPrefixRewrite + strings.TrimPrefix(req.Path, matchedPrefix)
		case rw.PathPrefixRewrite != "":
			res.RewrittenPath = rw.PathPrefixRewrite // an exact match is replaced whole
		case rw.PathTemplateRewrite != "":
			res.RewrittenPath = expandTemplate(rw.PathTemplateRewrite, tg.vars)
		}
	}
	return res
}

// redirectCodes maps GCP's redirectResponseCode to HTTP status codes.
var redirectCodes = map[string]int{"": 301, "MOVED_PERMANENTLY_DEFAULT": 301, "FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308}

func redirect(req Request, r *api.HttpRedirectAction, matchedPrefix string) *Redirect {
	scheme, host, path, query := req.Scheme, req.Host, req.Path, req.Query
	if scheme == "" {
		scheme = "http"
	}
	if r.HTTPSRedirect {
		scheme = "https"
	}
	if r.HostRedirect != "" {
		host = r.HostRedirect
	}
	switch {
	case r.PathRedirect != "":
		path = r.PathRedirect
	case r.PrefixRedirect != "":
		path = r.PrefixRedirect + strings.TrimPrefix(path, matchedPrefix)
	}
	loc := scheme + "://" + host + path
	if !r.StripQuery && query != "" {
		loc += "?" + query
	}
	return &Redirect{Location: loc, Code: redirectCodes[r.RedirectResponseCode]}
}

// expandTemplate fills a pathTemplateRewrite such as "/{format}/videos/{id}" with the
// variables the pathTemplateMatch captured.
func expandTemplate(tmpl string, vars map[string]string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(tmpl, '{')
		end := strings.IndexByte(tmpl, '}')
		if open < 0 || end < open {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:open])
		b.WriteString(vars[tmpl[open+1:end]])
		tmpl = tmpl[end+1:]
	}
}
