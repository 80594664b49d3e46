package format

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// column is one key of a projection with its transforms and attributes.
type column struct {
	key        key
	transforms []transform
	label      string // the heading; gcloud's default unless labelSet
	labelSet   bool
	order      int    // :sort=N, 0 when the column is not a sort key
	reverse    bool   // :reverse
	align      string // :align=left|center|right; "" is left
	width      int    // :width=N, the column's minimum width
	optional   bool   // :optional, a table column left out when it is empty
}

// value evaluates the column on one resource: the key's value, then the transforms.
// Transforms run even when the key is missing, so yesno() can say "No".
func (c *column) value(resource any) any {
	v := resource
	if len(c.key) > 0 {
		v = c.key.get(resource)
	}
	return c.transform(v, resource)
}

// transform applies the column's transforms to v, a value of resource.
func (c *column) transform(v, resource any) any {
	for _, t := range c.transforms {
		v = t.apply(v, resource)
	}
	return v
}

// partKind says what one step of a key does.
type partKind uint8

const (
	partName  partKind = iota // a member of a map: name
	partIndex                 // one list element: [3], or [-1] from the end
	partSlice                 // every list element: []
)

type keyPart struct {
	kind  partKind
	name  string
	index int
}

// key is a parsed resource key such as backends[].group: steps applied left to right.
// The empty key names the whole resource.
type key []keyPart

// names returns the key's member names, which make its default heading.
func (k key) names() []string {
	var out []string
	for _, p := range k {
		if p.kind == partName {
			out = append(out, p.name)
		}
	}
	return out
}

// isPlainName reports whether gcloud writes name without quotes: [-@\w]+.
func isPlainName(name string) bool {
	for _, r := range name {
		if r != '-' && r != '@' && r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return name != ""
}

// String writes the key as gcloud does: a.b[0].c[], quoting odd names.
func (k key) String() string {
	var b strings.Builder
	for i, p := range k {
		switch p.kind {
		case partIndex:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		case partSlice:
			b.WriteString("[]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if isPlainName(p.name) {
				b.WriteString(p.name)
			} else {
				b.WriteString(strconv.Quote(p.name))
			}
		}
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

// get returns the value k names in v, or nil. Like gcloud's resource_property.Get it
// is lenient: a missing member, an index out of range or a type mismatch is nil,
// not an error; [] and a member name applied to a list of objects collect a list.
func (k key) get(v any) any {
	for i, part := range k {
		switch x := v.(type) {
		case map[string]any:
			if part.kind == partSlice {
				// name[] on an object: every member's value.
				if i == len(k)-1 {
					return x
				}
				out := make([]any, 0, len(x))
				for _, name := range sortedKeys(x) {
					out = append(out, k[i+1:].get(x[name]))
				}
				return out
			}
			if part.kind == partIndex {
				return nil
			}
			_, child, ok := member(x, part.name)
			if !ok {
				return nil
			}
			v = child
		case []any:
			switch part.kind {
			case partSlice:
				if i == len(k)-1 {
					return x
				}
				out := make([]any, len(x))
				for j, e := range x {
					out[j] = k[i+1:].get(e)
				}
				return out
			case partIndex:
				j, ok := listIndex(part.index, len(x))
				if !ok {
					return nil
				}
				v = x[j]
			default:
				return fanOut(x, k[i:])
			}
		case string:
			// gcloud indexes a string as a list of characters.
			r := []rune(x)
			switch part.kind {
			case partSlice:
				if i < len(k)-1 {
					return nil
				}
			case partIndex:
				j, ok := listIndex(part.index, len(r))
				if !ok {
					return nil
				}
				v = string(r[j])
			default:
				return nil
			}
		default:
			return nil
		}
	}
	return v
}

// listIndex resolves a possibly negative index into a list of n items.
func listIndex(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// fanOut applies a key that starts with a member name to a list, as gcloud does for
// backends.group (no []): on a list of {key, value} metadata entries the name picks
// an entry; else the key applies to each item.
func fanOut(list []any, k key) any {
	if len(list) == 0 {
		return nil
	}
	if v, ok := metadataValue(list, k[0].name); ok {
		return k[1:].get(v)
	}
	first, _ := list[0].(map[string]any)
	if first == nil {
		return nil
	}
	out := make([]any, 0, len(list))
	if _, _, ok := member(first, k[0].name); ok {
		// An implicit []: one value per item, nil where an item lacks the key.
		for _, e := range list {
			out = append(out, k.get(e))
		}
		return out
	}
	// The first item lacks the key: collect the values of those that have it.
	for _, e := range list {
		if v := k.get(e); truthy(v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// metadataValue finds the entry named name in a list of {"key": k, "value": v}
// objects, the shape of compute metadata and of labels in some APIs.
func metadataValue(list []any, name string) (any, bool) {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || len(m) > 2 {
			return nil, false
		}
		k, ok := m["key"].(string)
		if !ok {
			return nil, false
		}
		if k == name {
			v, ok := m["value"]
			return v, ok
		}
	}
	return nil, false
}

// member looks name up in m as gcloud does: as written, then in camelCase, then in
// snake_case, so that network_endpoint_type finds networkEndpointType. It returns
// the name found.
func member(m map[string]any, name string) (string, any, bool) {
	for _, n := range [...]string{name, camelCase(name), snakeCase(name)} {
		if v, ok := m[n]; ok {
			return n, v, true
		}
	}
	return "", nil, false
}

// camelCase turns snake_case into snakeCase.
func camelCase(s string) string {
	var b strings.Builder
	upper := false
	for i, r := range s {
		switch {
		case r == '_' && i > 0:
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// snakeCase turns camelCase into camel_case.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// angrySnake turns a key name into gcloud's heading style with the same rule as its
// regular expression ((?<=[a-z0-9])[A-Z]+|(?!^)[A-Z](?=[a-z])) → _\1, upper-cased:
// networkEndpointType → NETWORK_ENDPOINT_TYPE, IPAddress → IP_ADDRESS.
func angrySnake(s string) string {
	var b strings.Builder
	lowerOrDigit := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case upper(c) && i > 0 && lowerOrDigit(s[i-1]):
			j := i
			for j < len(s) && upper(s[j]) {
				j++
			}
			b.WriteString("_" + s[i:j])
			i = j
			continue
		case upper(c) && i > 0 && i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z':
			b.WriteString("_" + string(c))
		default:
			b.WriteByte(c)
		}
		i++
	}
	return strings.ToUpper(b.String())
}

// sortedKeys returns m's keys in order: JSON objects have none, so output sorts them.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
