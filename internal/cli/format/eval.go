package format

import (
	"strconv"
	"strings"
)

// value evaluates the column's key and transforms on one resource.
func (c column) value(item any) any {
	v := lookup(item, c.key)
	for _, t := range c.transforms {
		v = t.apply(v)
	}
	return v
}

// lookup follows a key: members of maps, [i] into lists (negative from the end), and
// [] or a bare key on a list fanning out over its elements.
func lookup(v any, key []keyPart) any {
	if len(key) == 0 {
		return v
	}
	if list, ok := v.([]any); ok {
		out := make([]any, 0, len(list))
		for _, e := range list {
			if r := lookup(e, key); r != nil {
				out = append(out, r)
			}
		}
		return out
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	part := key[0]
	child, ok := m[part.name]
	if !ok {
		return nil
	}
	if part.index != nil {
		list, ok := child.([]any)
		if !ok {
			return nil
		}
		i := *part.index
		if i < 0 {
			i += len(list)
		}
		if i < 0 || i >= len(list) {
			return nil
		}
		child = list[i]
	}
	return lookup(child, key[1:])
}

// apply runs a transform; on a list, transforms of single values map over it.
func (t transform) apply(v any) any {
	switch t.name {
	case "len", "size":
		switch x := v.(type) {
		case []any:
			return float64(len(x))
		case map[string]any:
			return float64(len(x))
		case string:
			return float64(len(x))
		}
		return float64(0)
	case "list", "join":
		sep := ","
		if len(t.args) > 0 {
			sep = t.args[0]
		}
		if list, ok := v.([]any); ok {
			return cell(list, sep)
		}
		return v
	case "yesno":
		yes, no := "yes", "no"
		for i, a := range t.args {
			k, val, named := strings.Cut(a, "=")
			switch {
			case named && k == "yes", !named && i == 0:
				yes = val
				if !named {
					yes = a
				}
			case named && k == "no", !named && i == 1:
				no = val
				if !named {
					no = a
				}
			}
		}
		if truthy(v) {
			return yes
		}
		return no
	}
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = t.apply(e)
		}
		return out
	}
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch t.name {
	case "basename":
		return s[strings.LastIndexByte(s, '/')+1:]
	case "lower":
		return strings.ToLower(s)
	case "upper":
		return strings.ToUpper(s)
	case "segment":
		return segment(s, t.args)
	case "sub":
		return strings.ReplaceAll(s, t.args[0], t.args[1])
	case "scoped_suffixes":
		return scopedSuffix(s)
	}
	return s // date(), uri(): the value as it is
}

func segment(s string, args []string) string {
	parts := strings.Split(s, "/")
	n := -1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil {
			return ""
		}
	}
	if n < 0 {
		n += len(parts)
	}
	if n < 0 || n >= len(parts) {
		return ""
	}
	return parts[n]
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// scopedSuffix shortens a resource URL as gcloud's scoped_suffixes() does: what follows
// "projects/{p}/global/" or "projects/{p}/regions/", e.g. "backendServices/web" or
// "us-central1/networkEndpointGroups/neg". Anything else is returned unchanged.
func scopedSuffix(s string) string {
	i := strings.Index(s, "projects/")
	if i < 0 || (i > 0 && s[i-1] != '/') {
		return s
	}
	rest := s[i+len("projects/"):]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return s
	}
	rest = rest[j+1:]
	for _, scope := range []string{"global/", "regions/", "zones/"} {
		if r, ok := strings.CutPrefix(rest, scope); ok {
			return r
		}
	}
	return rest
}
