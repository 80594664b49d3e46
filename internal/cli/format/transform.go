package format

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// evalFunc computes a transform of v, a value of resource (uri() needs the latter).
type evalFunc func(v, resource any) any

// transform is one bound call in a column, such as basename() or join(",").
type transform struct {
	name     string
	args     []string // as written, for headings
	eval     evalFunc
	eachItem bool // the transform takes one value, so it applies to each item of a list
	mapDepth int  // set by a preceding map(N): apply to the items of N levels of lists
}

// apply runs the transform on v. map() and string transforms work on list items;
// gcloud's basename() does that too, and meridian's own default formats rely on it.
func (t transform) apply(v, resource any) any {
	if t.mapDepth == 0 {
		return t.call(v, resource)
	}
	list, ok := v.([]any)
	if !ok {
		if !truthy(v) {
			return v // as in gcloud, map() skips an empty non-list value
		}
		return t.call(v, resource)
	}
	for range t.mapDepth - 1 {
		list = flattenOnce(list)
	}
	out := make([]any, len(list))
	for i, e := range list {
		out[i] = t.call(e, resource)
	}
	return out
}

func (t transform) call(v, resource any) any {
	if list, ok := v.([]any); ok && t.eachItem {
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = t.call(e, resource)
		}
		return out
	}
	return t.eval(v, resource)
}

// flattenOnce splices the lists in list into it, for map(2) and deeper.
func flattenOnce(list []any) []any {
	var out []any
	for _, e := range list {
		if inner, ok := e.([]any); ok {
			out = append(out, inner...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// transformSpec describes a transform's parameters, in gcloud's order, and builds
// its evalFunc from the arguments of one call.
type transformSpec struct {
	params   []string // positional arguments fill these; name=value sets one by name
	required int      // how many leading params must be given
	variadic bool     // further positional arguments are allowed (gcloud's *args)
	eachItem bool     // see transform.eachItem
	build    func(a args) (evalFunc, error)
}

// lookupTransform returns the transforms gcloud documents in `gcloud topic
// projections` that make sense without a terminal or an API schema, and meridian's
// scoped_suffixes().
func lookupTransform(name string) (transformSpec, bool) {
	switch name {
	case "basename":
		return transformSpec{params: []string{"undefined"}, eachItem: true, build: buildBasename}, true
	case "date":
		return transformSpec{params: []string{"format", "unit", "undefined", "tz", "tz_default"}, build: buildDate}, true
	case "extract":
		return transformSpec{variadic: true, build: buildExtract}, true
	case "firstof":
		return transformSpec{variadic: true, build: buildFirstOf}, true
	case "iso":
		return transformSpec{params: []string{"undefined"}, build: buildISO}, true
	case "join":
		return transformSpec{params: []string{"sep", "undefined"}, build: buildJoin}, true
	case "len":
		return transformSpec{build: buildLen}, true
	case "list":
		return transformSpec{params: []string{"show", "undefined", "separator"}, build: buildList}, true
	case "lower", "upper":
		return transformSpec{eachItem: true, build: buildCase(name)}, true
	case "notnull":
		return transformSpec{build: buildNotNull}, true
	case "scope":
		return transformSpec{variadic: true, eachItem: true, build: buildScope}, true
	case "scoped_suffixes":
		return transformSpec{params: []string{"undefined"}, eachItem: true, build: buildScopedSuffixes}, true
	case "segment":
		return transformSpec{params: []string{"index", "undefined"}, eachItem: true, build: buildSegment}, true
	case "size":
		return transformSpec{params: []string{"zero", "precision", "units_in", "units_out", "min"}, build: buildSize}, true
	case "slice":
		return transformSpec{params: []string{"op", "undefined"}, build: buildSlice}, true
	case "sort":
		return transformSpec{params: []string{"attr"}, build: buildSort}, true
	case "split":
		return transformSpec{params: []string{"sep", "undefined"}, build: buildSplit}, true
	case "sub":
		return transformSpec{params: []string{"pattern", "replacement", "count", "ignorecase"}, required: 2, eachItem: true, build: buildSub}, true
	case "trailoff":
		return transformSpec{params: []string{"character_limit", "undefined"}, required: 1, eachItem: true, build: buildTrailOff}, true
	case "uri":
		return transformSpec{params: []string{"undefined"}, build: buildURI}, true
	case "yesno":
		return transformSpec{params: []string{"yes", "no"}, build: buildYesNo}, true
	}
	return transformSpec{}, false
}

// args are a call's arguments bound to parameter names.
type args struct {
	named map[string]string
	rest  []string // variadic arguments
}

// bind matches a call's arguments to the spec's parameters and builds the transform.
func (s transformSpec) bind(raw []string) (evalFunc, error) {
	a := args{named: map[string]string{}}
	next := 0
	for _, arg := range raw {
		name, value, named := strings.Cut(arg, "=")
		if !named || !slices.Contains(s.params, name) {
			if next >= len(s.params) {
				if !s.variadic {
					return nil, fmt.Errorf("takes at most %d arguments", len(s.params))
				}
				a.rest = append(a.rest, arg)
				continue
			}
			name, value = s.params[next], arg
			next++
		}
		if _, dup := a.named[name]; dup {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		a.named[name] = value
	}
	for _, p := range s.params[:s.required] {
		if _, ok := a.named[p]; !ok {
			return nil, fmt.Errorf("%s is required", p)
		}
	}
	return s.build(a)
}

func (a args) get(name, def string) string {
	if v, ok := a.named[name]; ok {
		return v
	}
	return def
}

func (a args) int(name string, def int) (int, error) {
	v, ok := a.named[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v)
	}
	return n, nil
}

func (a args) float(name string, def float64) (float64, error) {
	v, ok := a.named[name]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s=%q is not a number", name, v)
	}
	return f, nil
}

// keys parses the variadic arguments as resource keys, for firstof() and extract().
func (a args) keys() ([]key, error) {
	out := make([]key, 0, len(a.rest))
	for _, s := range a.rest {
		p := &parser{src: s}
		k, err := p.key()
		if err == nil && !p.eof() {
			err = fmt.Errorf("unexpected %q", s[p.pos:])
		}
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", s, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// boolArg reads a Boolean argument as gcloud does: "false", "0" and "" are false.
func boolArg(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "false") {
		return false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f != 0
	}
	return true
}

func buildBasename(a args) (evalFunc, error) {
	undefined := a.get("undefined", "")
	return func(v, _ any) any {
		if !truthy(v) {
			return undefined
		}
		s := pyStr(v)
		for _, sep := range []string{"/", `\`} {
			if i := strings.LastIndex(s, sep); i >= 0 {
				return s[i+1:]
			}
		}
		return s
	}, nil
}

func buildExtract(a args) (evalFunc, error) {
	keys, err := a.keys()
	if err != nil {
		return nil, err
	}
	return func(v, _ any) any {
		out := []any{}
		for _, k := range keys {
			if x := k.get(v); truthy(x) {
				out = append(out, x)
			}
		}
		return out
	}, nil
}

func buildFirstOf(a args) (evalFunc, error) {
	keys, err := a.keys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("needs at least one key")
	}
	return func(v, _ any) any {
		for _, k := range keys {
			if x := k.get(v); x != nil {
				return x
			}
		}
		return ""
	}, nil
}

func buildJoin(a args) (evalFunc, error) {
	sep, undefined := a.get("sep", "/"), a.get("undefined", "")
	return func(v, _ any) any {
		var parts []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				parts = append(parts, itemStr(e))
			}
		case string: // gcloud joins a string's characters
			parts = strings.Split(x, "")
		case map[string]any:
			parts = sortedKeys(x)
		default:
			return undefined
		}
		if s := strings.Join(parts, sep); s != "" {
			return s
		}
		return undefined
	}, nil
}

func buildLen(args) (evalFunc, error) {
	return func(v, _ any) any {
		switch x := v.(type) {
		case string:
			return float64(len([]rune(x)))
		case []any:
			return float64(len(x))
		case map[string]any:
			return float64(len(x))
		}
		return float64(0)
	}, nil
}

func buildList(a args) (evalFunc, error) {
	show, undefined, sep := a.get("show", ""), a.get("undefined", ""), a.get("separator", ",")
	return func(v, _ any) any {
		var parts []string
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				switch show {
				case "keys":
					parts = append(parts, k)
				case "values":
					parts = append(parts, itemStr(x[k]))
				default:
					parts = append(parts, k+"="+itemStr(x[k]))
				}
			}
		case []any:
			for _, e := range x {
				parts = append(parts, itemStr(e))
			}
		default:
			if truthy(v) {
				return v
			}
			return undefined
		}
		return strings.Join(parts, sep)
	}, nil
}

func buildCase(name string) func(args) (evalFunc, error) {
	convert := strings.ToLower
	if name == "upper" {
		convert = strings.ToUpper
	}
	return func(args) (evalFunc, error) {
		return func(v, _ any) any {
			if s, ok := v.(string); ok {
				return convert(s)
			}
			return v
		}, nil
	}
}

func buildNotNull(args) (evalFunc, error) {
	return func(v, _ any) any {
		out := []any{}
		list, _ := v.([]any)
		for _, e := range list {
			if e != nil {
				out = append(out, e)
			}
		}
		return out
	}, nil
}

// unquoteURL undoes %XX escapes, as gcloud does before taking URLs apart.
func unquoteURL(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func buildScope(a args) (evalFunc, error) {
	scopes := a.rest
	if len(scopes) == 0 {
		scopes = []string{"regions", "zones"}
	}
	return func(v, _ any) any {
		if !truthy(v) {
			return ""
		}
		s := unquoteURL(pyStr(v))
		if !strings.Contains(s, "/") {
			return s
		}
		for _, scope := range scopes {
			seg := "/" + scope + "/"
			if i := strings.LastIndex(s, seg); i >= 0 {
				return s[i+len(seg):]
			}
		}
		if strings.HasPrefix(s, "https://") {
			return s[strings.LastIndexByte(s, '/')+1:]
		}
		return s
	}, nil
}

// buildScopedSuffixes is meridian's version of the compute transform: it shortens a
// resource URL to what follows projects/P/global/, projects/P/regions/ or
// projects/P/zones/, e.g. "backendServices/web" or
// "us-central1/networkEndpointGroups/neg". Anything else is left as it is.
func buildScopedSuffixes(a args) (evalFunc, error) {
	undefined := a.get("undefined", "")
	return func(v, _ any) any {
		s, ok := v.(string)
		if !ok {
			if v == nil {
				return undefined
			}
			return v
		}
		return scopedSuffix(s)
	}, nil
}

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

func buildSegment(a args) (evalFunc, error) {
	index, err := a.int("index", -1)
	if err != nil {
		return nil, err
	}
	undefined := a.get("undefined", "")
	return func(v, _ any) any {
		if !truthy(v) {
			return undefined
		}
		parts := strings.Split(unquoteURL(pyStr(v)), "/")
		j, ok := listIndex(index, len(parts))
		if !ok || parts[j] == "" {
			return undefined
		}
		return parts[j]
	}, nil
}

// buildSize formats a number of bytes for people: 1536 → "1.5 KiB".
func buildSize(a args) (evalFunc, error) {
	zero := a.get("zero", "0")
	precision, err := a.int("precision", 1)
	if err != nil {
		return nil, err
	}
	if precision < 0 || precision > maxPrecision {
		return nil, fmt.Errorf("precision=%d: want 0 to %d", precision, maxPrecision)
	}
	minimum, err := a.float("min", 0)
	if err != nil {
		return nil, err
	}
	_, scaleIn := sizeUnit(a.get("units_in", ""))
	suffixOut, scaleOut := sizeUnit(a.get("units_out", ""))
	return func(v, _ any) any {
		if !truthy(v) {
			return zero
		}
		size, _ := toFloat(v)
		prefix := ""
		if size < minimum {
			size, prefix = minimum, "< "
		}
		size *= scaleIn
		if suffixOut != "" {
			return strconv.FormatFloat(size/scaleOut, 'f', precision, 64)
		}
		unit := "PiB"
		for _, u := range []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"} {
			if size < 1024 {
				unit = u
				break
			}
			if u != "PiB" {
				size /= 1024
			}
		}
		if size == math.Trunc(size) {
			return prefix + strconv.FormatFloat(size, 'f', 0, 64) + " " + unit
		}
		return prefix + strconv.FormatFloat(size, 'f', precision, 64) + " " + unit
	}, nil
}

// sizeUnit reads size()'s units_in and units_out: a number, or a suffix whose first
// letter is K, M, G, T or P (binary multiples). Anything else is 1.
func sizeUnit(s string) (string, float64) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f != 0 && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return "", f
	}
	if s == "" {
		return "", 1
	}
	if i := strings.IndexByte("KMGTP", s[0]&^0x20); i >= 0 {
		return string(s[0] &^ 0x20), math.Pow(1024, float64(i+1))
	}
	return "", 1
}

// buildSlice takes a Python slice, start:stop:step, of a list or a string.
func buildSlice(a args) (evalFunc, error) {
	bounds, err := sliceBounds(a.get("op", ":"))
	if err != nil {
		return nil, err
	}
	undefined := a.get("undefined", "")
	return func(v, _ any) any {
		var items []any
		switch x := v.(type) {
		case []any:
			items = x
		case string:
			for _, r := range x {
				items = append(items, string(r))
			}
		default:
			return undefined
		}
		out := []any{}
		for _, i := range pySliceIndexes(len(items), bounds) {
			out = append(out, items[i])
		}
		if len(out) == 0 {
			return undefined
		}
		return out
	}, nil
}

// sliceBounds parses "start:stop:step"; nil bounds are omitted. A lone index i
// means i:i+1, so that -1 is the last item.
func sliceBounds(op string) ([3]*int, error) {
	var b [3]*int
	op = strings.TrimSpace(op)
	if op == "" {
		return b, errors.New("empty slice")
	}
	parts := strings.Split(op, ":")
	if len(parts) > 3 {
		return b, fmt.Errorf("slice %q has more than three parts", op)
	}
	for i, p := range parts {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return b, fmt.Errorf("slice %q: %q is not an integer", op, p)
		}
		b[i] = &n
	}
	if len(parts) == 1 && b[0] != nil && *b[0] != -1 {
		stop := *b[0] + 1
		b[1] = &stop
	}
	if b[2] != nil && *b[2] == 0 {
		return b, fmt.Errorf("slice %q has a zero step", op)
	}
	return b, nil
}

// pySliceIndexes lists the indexes a Python slice selects from n items.
func pySliceIndexes(n int, b [3]*int) []int {
	step := 1
	if b[2] != nil {
		step = *b[2]
	}
	lower, upper := 0, n
	if step < 0 {
		lower, upper = -1, n-1
	}
	bound := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return max(lower, min(i, upper))
	}
	startDef, stopDef := lower, upper
	if step < 0 {
		startDef, stopDef = upper, lower
	}
	start, stop := bound(b[0], startDef), bound(b[1], stopDef)
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
	}
	return out
}

func buildSort(a args) (evalFunc, error) {
	var by key
	if attr := a.get("attr", ""); attr != "" {
		keys, err := args{rest: []string{attr}}.keys()
		if err != nil {
			return nil, err
		}
		by = keys[0]
	}
	return func(v, _ any) any {
		var items []any
		switch x := v.(type) {
		case []any:
			items = slices.Clone(x)
		case string:
			for _, r := range x {
				items = append(items, string(r))
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				items = append(items, k)
			}
			return items
		default:
			if !truthy(v) {
				return []any{}
			}
			return v
		}
		sort.SliceStable(items, func(i, j int) bool {
			return compareValues(by.get(items[i]), by.get(items[j])) < 0
		})
		return items
	}, nil
}

func buildSplit(a args) (evalFunc, error) {
	sep, undefined := a.get("sep", "/"), a.get("undefined", "")
	if sep == "" {
		return nil, errors.New("empty separator")
	}
	return func(v, _ any) any {
		s, ok := v.(string)
		if !ok || s == "" {
			return undefined
		}
		var out []any
		for _, part := range strings.Split(s, sep) {
			out = append(out, part)
		}
		return out
	}, nil
}

// buildSub replaces matches of a regular expression, as Python's re.sub does with
// gcloud's flags (multi-line, dot matches newline, case-insensitive by default).
func buildSub(a args) (evalFunc, error) {
	count, err := a.int("count", 0)
	if err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, fmt.Errorf("count=%d is negative", count)
	}
	flags := "(?ms"
	if boolArg(a.get("ignorecase", "true")) {
		flags += "i"
	}
	re, err := regexp.Compile(flags + ")" + a.get("pattern", ""))
	if err != nil {
		return nil, fmt.Errorf("pattern: %v", err)
	}
	template := goTemplate(a.get("replacement", ""))
	if count == 0 {
		count = -1
	}
	return func(v, _ any) any {
		s, ok := v.(string)
		if !ok {
			return v
		}
		var out []byte
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, count) {
			out = append(out, s[last:m[0]]...)
			out = re.ExpandString(out, template, s, m)
			last = m[1]
		}
		return string(append(out, s[last:]...))
	}, nil
}

// goTemplate turns a Python replacement (\1, \g<name>, \n) into a regexp.Expand
// template ($1, ${name}, a newline).
func goTemplate(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c != '\\' || i+1 == len(repl):
			b.WriteByte(c)
		case repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			for j < len(repl) && j < i+3 && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
		case strings.HasPrefix(repl[i+1:], "g<") && strings.IndexByte(repl[i:], '>') > 0:
			end := i + strings.IndexByte(repl[i:], '>')
			b.WriteString("${" + repl[i+3:end] + "}")
			i = end
		default:
			i++
			switch repl[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\':
				b.WriteByte('\\')
			default:
				b.WriteString(repl[i-1 : i+1])
			}
		}
	}
	return b.String()
}

func buildTrailOff(a args) (evalFunc, error) {
	limit, err := a.int("character_limit", 0)
	if err != nil {
		return nil, err
	}
	undefined := a.get("undefined", "")
	return func(v, _ any) any {
		if v == nil || limit <= 3 {
			return undefined
		}
		r := []rune(pyStr(v))
		if len(r) < limit {
			return string(r)
		}
		return string(r[:limit-3]) + "..."
	}, nil
}

// buildURI returns the resource's URL: gcloud's uri() looks at the whole resource,
// whatever key it follows.
func buildURI(a args) (evalFunc, error) {
	undefined := a.get("undefined", ".")
	return func(_, resource any) any {
		switch x := resource.(type) {
		case string:
			if strings.HasPrefix(x, "https://") {
				return x
			}
		case map[string]any:
			for _, name := range []string{"selfLink", "SelfLink"} {
				if s, ok := x[name].(string); ok && s != "" {
					return s
				}
			}
		}
		return undefined
	}, nil
}

func buildYesNo(a args) (evalFunc, error) {
	yes, hasYes := a.named["yes"]
	no := a.get("no", "No")
	return func(v, _ any) any {
		if !truthy(v) {
			return no
		}
		if hasYes {
			return yes
		}
		return v
	}, nil
}
