package api

import "strings"

// MatchURLMask parses a request's host and path with a serverless NEG's urlMask, a
// template such as "<tag>.example.com/<service>" or "example.com/<service>" or
// "/<service>": literal text matches exactly (the host case-insensitively), and
// <service> and <tag> each capture one non-empty host label part (no ".") or one path
// segment part (no "/"). The host part may be left out (a mask starting with "/"); the
// path part matches a prefix of the path, whole segments only, so "/<service>" takes
// "bar" from "/bar/x". The request's path is forwarded unchanged.
func MatchURLMask(mask, host, path string) (service, tag string, ok bool) {
	hostMask, pathMask, hasPath := strings.Cut(mask, "/")
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	vars := map[string]string{}
	if hostMask != "" && !matchTemplate(strings.ToLower(hostMask), strings.ToLower(host), '.', vars, true) {
		return "", "", false
	}
	if hasPath {
		p := strings.TrimPrefix(path, "/")
		// Take as many whole segments of the path as the mask has.
		n := strings.Count(pathMask, "/") + 1
		segs := strings.SplitN(p, "/", n+1)
		if len(segs) < n {
			return "", "", false
		}
		if !matchTemplate(pathMask, strings.Join(segs[:n], "/"), '/', vars, true) {
			return "", "", false
		}
	}
	return vars["service"], vars["tag"], vars["service"] != "" || vars["tag"] != ""
}

// matchTemplate matches s against a template of literals and <service>/<tag>
// placeholders; a placeholder never spans sep. whole requires all of s to match.
func matchTemplate(tmpl, s string, sep byte, vars map[string]string, whole bool) bool {
	for tmpl != "" {
		open := strings.IndexByte(tmpl, '<')
		if open != 0 {
			lit := tmpl
			if open > 0 {
				lit = tmpl[:open]
			}
			if !strings.HasPrefix(s, lit) {
				return false
			}
			tmpl, s = tmpl[len(lit):], s[len(lit):]
			continue
		}
		end := strings.IndexByte(tmpl, '>')
		if end < 0 {
			return false
		}
		name := tmpl[1:end]
		if name != "service" && name != "tag" {
			return false
		}
		tmpl = tmpl[end+1:]
		// The placeholder runs to the next literal (or to sep, or the end).
		stop := len(s)
		if i := strings.IndexByte(s, sep); i >= 0 {
			stop = i
		}
		if tmpl != "" && tmpl[0] != '<' {
			next := tmpl
			if i := strings.IndexByte(next, '<'); i >= 0 {
				next = next[:i]
			}
			if i := strings.IndexByte(next, sep); i >= 0 {
				next = next[:i] // the placeholder cannot reach past sep anyway
			}
			if next != "" {
				i := strings.Index(s[:stop], next)
				if i < 0 {
					return false
				}
				stop = i
			}
		}
		if stop == 0 {
			return false
		}
		vars[name] = s[:stop]
		s = s[stop:]
	}
	return !whole || s == ""
}
