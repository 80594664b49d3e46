package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// renderJSON prints one resource as an object, or a list as an array (gcloud prints
// [] for an empty list), indented by 2 with sorted keys.
func (f *Format) renderJSON(buf *bytes.Buffer, items []any, one bool) error {
	var v any = f.projectAll(items)
	if one {
		v = v.([]any)[0]
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // gcloud prints <, > and & as they are
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("format: json: %w", err)
	}
	return nil
}

// renderYAML prints each resource as a YAML document; in a list every document
// starts with "---", as gcloud's YAML printer does.
func (f *Format) renderYAML(buf *bytes.Buffer, items []any, one bool) error {
	for _, it := range f.projectAll(items) {
		data, err := yaml.Marshal(it)
		if err != nil {
			return fmt.Errorf("format: yaml: %w", err)
		}
		if !one {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	return nil
}

// renderFlattened prints gcloud's flattened (text) format: a "key.path: value" line
// per scalar, keys sorted, values aligned, "---" before each resource of a list.
func (f *Format) renderFlattened(buf *bytes.Buffer, items []any, one bool) {
	labels := f.flattenedLabels()
	sep := f.attrOr("separator", ": ")
	for _, it := range f.projectAll(items) {
		if !one {
			buf.WriteString("---\n")
		}
		var lines [][2]string
		flatten("", it, &lines)
		longest := 0
		for i, l := range lines {
			if label, ok := labels[l[0]]; ok {
				lines[i][0] = label
			}
			longest = max(longest, width(lines[i][0]))
		}
		for _, l := range lines {
			var b strings.Builder
			b.WriteString(l[0] + sep)
			if !f.has("no-pad") {
				pad(&b, longest-width(l[0]))
			}
			b.WriteString(flatValue(l[1]))
			buf.WriteString(b.String() + "\n")
		}
	}
}

// flattenedLabels maps a projected key to its label, lower-cased, which gcloud
// prints in place of the key.
func (f *Format) flattenedLabels() map[string]string {
	labels := map[string]string{}
	for _, c := range f.columns {
		if c.label != "" {
			labels[c.key.String()] = strings.ToLower(c.label)
		}
	}
	return labels
}

// flatten lists the scalars of v with their key paths, objects' keys in order.
func flatten(path string, v any, out *[][2]string) {
	switch x := v.(type) {
	case nil:
		// gcloud's flattened printer drops null values.
	case map[string]any:
		if len(x) == 0 {
			*out = append(*out, [2]string{path, "{}"})
		}
		for _, k := range sortedKeys(x) {
			child := k
			if path != "" {
				child = path + "." + k
			}
			flatten(child, x[k], out)
		}
	case []any:
		if len(x) == 0 {
			*out = append(*out, [2]string{path, "[]"})
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	default:
		*out = append(*out, [2]string{path, cellText(x)})
	}
}

// flatValue quotes a value that would not read back from one line: one with a
// newline or with space at either end.
func flatValue(s string) string {
	r := []rune(s)
	if !strings.Contains(s, "\n") && (len(r) == 0 || !unicode.IsSpace(r[0]) && !unicode.IsSpace(r[len(r)-1])) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '\\', '"':
			b.WriteRune('\\')
			b.WriteRune(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// renderList prints gcloud's list format: " - " and then the resource's fields (or
// projected values), one per line, indented under the dash.
func (f *Format) renderList(buf *bytes.Buffer, items []any) {
	sep := "\n   "
	if f.has("compact") {
		sep = " "
	}
	title, hasTitle := f.attr("title")
	if hasTitle && f.has("always-display-title") {
		buf.WriteString(title + "\n")
		hasTitle = false
	}
	for _, it := range items {
		if hasTitle && title != "" {
			buf.WriteString(title + "\n")
			hasTitle = false
		}
		buf.WriteString(" - " + strings.Join(f.listFields(it), sep) + "\n")
	}
}

// listFields are the lines the list format prints for one resource.
func (f *Format) listFields(it any) []string {
	var fields []string
	switch x := it.(type) {
	case map[string]any:
		if f.columns != nil {
			return nonNullStrings(f.row(x))
		}
		for _, k := range sortedKeys(x) {
			if x[k] != nil {
				fields = append(fields, k+": "+pyStr(x[k]))
			}
		}
		return fields
	case []any:
		if f.columns != nil {
			return nonNullStrings(f.row(x))
		}
		return nonNullStrings(x)
	case nil:
		return []string{""}
	}
	return []string{pyStr(it)}
}

func nonNullStrings(values []any) []string {
	var out []string
	for _, v := range values {
		if v != nil {
			out = append(out, pyStr(v))
		}
	}
	return out
}

// renderCSV prints the value and csv formats: one line per resource, values
// separated by separator, list items by delimiter; csv starts with a heading of the
// columns' labels in lower case.
func (f *Format) renderCSV(buf *bytes.Buffer, items []any) {
	w := csvWriter{delimiter: f.attrOr("delimiter", ";"), separator: ",", terminator: f.attrOr("terminator", "\n")}
	heading := !f.has("no-heading")
	if f.kind == printValue {
		w.separator, w.quote, heading = "\t", f.has("quote"), false
	} else {
		w.quote = !f.has("no-quote")
	}
	w.separator = f.attrOr("separator", w.separator)
	if heading && len(items) > 0 {
		if labels, ok := f.labels(); ok {
			for i := range labels {
				labels[i] = w.quoteField(strings.ToLower(labels[i]))
			}
			buf.WriteString(strings.Join(labels, w.separator) + w.terminator)
		}
	}
	for _, it := range items {
		row := f.row(it)
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = w.cell(v)
		}
		buf.WriteString(strings.Join(cells, w.separator) + w.terminator)
	}
}

// labels returns the column headings, and false when all are empty (gcloud prints
// no heading then).
func (f *Format) labels() ([]string, bool) {
	out := make([]string, len(f.columns))
	some := false
	for i, c := range f.columns {
		out[i] = c.label
		some = some || c.label != ""
	}
	return out, some
}

// csvWriter holds gcloud's CSV printer attributes.
type csvWriter struct {
	delimiter, separator, terminator string
	quote                            bool
}

// cell writes one value: lists joined by the delimiter, objects as key=value pairs.
func (w csvWriter) cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, w.quoteField(k+"="+pyStr(x[k])))
		}
		return strings.Join(parts, w.delimiter)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if e != nil {
				parts[i] = w.quoteField(cellText(e))
			}
		}
		return strings.Join(parts, w.delimiter)
	}
	return w.quoteField(cellText(v))
}

// quoteField double-quotes a field that holds a separator, delimiter, terminator or
// quote, or starts or ends with space, doubling quotes inside, as gcloud does.
func (w csvWriter) quoteField(s string) string {
	if s == "" || !w.quote {
		return s
	}
	r := []rune(s)
	if !strings.Contains(s, w.delimiter) && !strings.Contains(s, `"`) && !strings.Contains(s, w.separator) &&
		!strings.Contains(s, w.terminator) && !unicode.IsSpace(r[0]) && !unicode.IsSpace(r[len(r)-1]) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// projectAll applies the projection to each item for the printers that print whole
// resources (json, yaml, flattened): only the projected keys remain, transformed.
func (f *Format) projectAll(items []any) []any {
	if items == nil {
		items = []any{}
	}
	if f.columns == nil {
		return items
	}
	tree := newProjection(f.columns)
	out := make([]any, len(items))
	for i, it := range items {
		v := tree.project(it, it)
		if v == nil {
			v = map[string]any{}
		}
		out[i] = v
	}
	return out
}

// projection is a tree of the projected keys: a node per key step, with the
// column whose value ends there.
type projection struct {
	names   map[string]*projection
	indexes map[int]*projection
	slice   *projection
	col     *column
}

func newProjection(cols []*column) *projection {
	root := &projection{}
	for _, c := range cols {
		n := root
		for _, part := range c.key {
			n = n.child(part)
		}
		if n.col == nil { // the first column for a key wins, as in gcloud
			n.col = c
		}
	}
	return root
}

func (n *projection) child(part keyPart) *projection {
	switch part.kind {
	case partSlice:
		if n.slice == nil {
			n.slice = &projection{}
		}
		return n.slice
	case partIndex:
		if n.indexes == nil {
			n.indexes = map[int]*projection{}
		}
		if n.indexes[part.index] == nil {
			n.indexes[part.index] = &projection{}
		}
		return n.indexes[part.index]
	}
	if n.names == nil {
		n.names = map[string]*projection{}
	}
	if n.names[part.name] == nil {
		n.names[part.name] = &projection{}
	}
	return n.names[part.name]
}

// project returns the part of v the tree selects, or nil when it selects nothing.
func (n *projection) project(v, resource any) any {
	if n.col != nil {
		if v == nil {
			return nil
		}
		return n.col.transform(v, resource)
	}
	switch x := v.(type) {
	case map[string]any:
		return n.projectObject(x, resource)
	case []any:
		return n.projectList(x, resource)
	}
	return nil
}

func (n *projection) projectObject(m map[string]any, resource any) any {
	out := map[string]any{}
	if n.slice != nil {
		for k, v := range m {
			if pv := n.slice.project(v, resource); pv != nil {
				out[k] = pv
			}
		}
	}
	for name, child := range n.names {
		if found, v, ok := member(m, name); ok {
			if pv := child.project(v, resource); pv != nil {
				out[found] = pv
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// projectList keeps the projected items of a list. Names applied to a list project
// every item, as key lookups do.
func (n *projection) projectList(list []any, resource any) any {
	every := n.slice
	if every == nil && len(n.names) > 0 {
		every = &projection{names: n.names}
	}
	out := make([]any, len(list))
	last := -1
	for i, e := range list {
		child := every
		if n.indexes != nil {
			if c, ok := n.indexes[i]; ok {
				child = c
			} else if c, ok := n.indexes[i-len(list)]; ok {
				child = c
			}
		}
		if child == nil {
			continue
		}
		if out[i] = child.project(e, resource); out[i] != nil {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	return out[:last+1]
}
