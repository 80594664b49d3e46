package armor

import (
	"reflect"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// headerMap is request.headers as an expression reads it: lower-case names, repeated
// fields joined with ", ", the host among them. A lookup reads the request's header
// directly; only iterating, comparing or converting the whole map builds it.
type headerMap struct {
	req  *Request
	full traits.Mapper
}

var _ traits.Mapper = (*headerMap)(nil)

// lookup finds a lower-case name's value.
func (m *headerMap) lookup(name string) (string, bool) {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return "", false // the map's keys are lower case
		}
	}
	if name == "host" {
		return m.req.Host, m.req.Host != ""
	}
	vs := m.req.Header.Values(name)
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return vs[0], true
	}
	return strings.Join(vs, ", "), true
}

func (m *headerMap) whole() traits.Mapper {
	if m.full == nil {
		m.full = types.NewStringStringMap(types.DefaultTypeAdapter, lowerHeaders(m.req))
	}
	return m.full
}

func (m *headerMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	v, found := m.lookup(string(k))
	if !found {
		return nil, false
	}
	return types.String(v), true
}

func (m *headerMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", key)
	}
	return v
}

func (m *headerMap) Contains(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

func (m *headerMap) Iterator() traits.Iterator { return m.whole().Iterator() }
func (m *headerMap) Size() ref.Val             { return m.whole().Size() }
func (m *headerMap) ConvertToNative(t reflect.Type) (any, error) {
	return m.whole().ConvertToNative(t)
}
func (m *headerMap) ConvertToType(t ref.Type) ref.Val { return m.whole().ConvertToType(t) }
func (m *headerMap) Equal(other ref.Val) ref.Val      { return m.whole().Equal(other) }
func (m *headerMap) Type() ref.Type                   { return types.MapType }
func (m *headerMap) Value() any                       { return m.whole().Value() }

// lowerHeaders is the request's header map as Cloud Armor presents it: names in
// lower case, repeated fields joined with ", ", and the host among them.
func lowerHeaders(r *Request) map[string]string {
	m := make(map[string]string, len(r.Header)+1)
	for k, vs := range r.Header {
		m[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if r.Host != "" {
		m["host"] = r.Host
	}
	return m
}
