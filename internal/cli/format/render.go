package format

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Render prints items: one resource when single (describe, create), else a list.
func (f *Format) Render(w io.Writer, items []any, single bool) error {
	if f.columns != nil && (f.name == "json" || f.name == "yaml" || f.name == "text" || f.name == "flattened") {
		projected := make([]any, len(items))
		for i, it := range items {
			projected[i] = f.project(it)
		}
		items = projected
	}
	switch f.name {
	case "none":
		return nil
	case "json":
		return renderJSON(w, items, single)
	case "yaml", "default", "list":
		return renderYAML(w, items)
	case "text", "flattened":
		return renderFlattened(w, items)
	case "value":
		return f.renderValue(w, f.rows(items))
	case "csv":
		return f.renderCSV(w, f.rows(items))
	case "table":
		return f.renderTable(w, f.rows(items))
	}
	return fmt.Errorf("format: cannot render %q", f.name)
}

func renderJSON(w io.Writer, items []any, single bool) error {
	var v any = items
	if single && len(items) == 1 {
		v = items[0]
	}
	if v == nil || (!single && len(items) == 0) {
		v = []any{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// renderYAML prints each resource as a YAML document, with gcloud's "---" between them.
func renderYAML(w io.Writer, items []any) error {
	for i, it := range items {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		data, err := yaml.Marshal(it)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// renderFlattened prints "key.path: value" lines, gcloud's text format.
func renderFlattened(w io.Writer, items []any) error {
	for i, it := range items {
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		var lines []string
		flatten("", it, &lines)
		sort.Strings(lines)
		for _, l := range lines {
			if _, err := fmt.Fprintln(w, l); err != nil {
				return err
			}
		}
	}
	return nil
}

func flatten(prefix string, v any, out *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			flatten(join(prefix, k), child, out)
		}
	case []any:
		for i, child := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), child, out)
		}
	default:
		*out = append(*out, prefix+": "+scalar(v))
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// project builds a resource holding only the projected keys, as json(…) and yaml(…)
// print.
func (f *Format) project(item any) any {
	out := map[string]any{}
	for _, c := range f.columns {
		v := c.value(item)
		if v == nil {
			continue
		}
		m := out
		for i, part := range c.key {
			if i == len(c.key)-1 {
				m[part.name] = v
				break
			}
			next, ok := m[part.name].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part.name] = next
			}
			m = next
		}
	}
	return out
}

// rows evaluates the projection for every item and sorts by the :sort keys.
func (f *Format) rows(items []any) [][]any {
	rows := make([][]any, len(items))
	for i, it := range items {
		if f.columns == nil {
			rows[i] = []any{it}
			continue
		}
		row := make([]any, len(f.columns))
		for j, c := range f.columns {
			row[j] = c.value(it)
		}
		rows[i] = row
	}
	keys := f.sortKeys()
	if len(keys) > 0 {
		sort.SliceStable(rows, func(a, b int) bool {
			for _, k := range keys {
				x, y := scalar(rows[a][k]), scalar(rows[b][k])
				if x != y {
					return (x < y) != f.columns[k].reverse
				}
			}
			return false
		})
	}
	return rows
}

func (f *Format) sortKeys() []int {
	var keys []int
	for i, c := range f.columns {
		if c.sort > 0 {
			keys = append(keys, i)
		}
	}
	sort.SliceStable(keys, func(a, b int) bool { return f.columns[keys[a]].sort < f.columns[keys[b]].sort })
	return keys
}

func (f *Format) renderValue(w io.Writer, rows [][]any) error {
	sep, ok := f.attrs["separator"]
	if !ok {
		sep = "\t"
	}
	term, ok := f.attrs["terminator"]
	if !ok {
		term = "\n"
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v, ";")
		}
		if _, err := io.WriteString(w, strings.Join(cells, sep)+term); err != nil {
			return err
		}
	}
	return nil
}

func (f *Format) renderCSV(w io.Writer, rows [][]any) error {
	cw := csv.NewWriter(w)
	if sep := f.attrs["separator"]; len(sep) == 1 {
		cw.Comma = rune(sep[0])
	}
	if _, noHeading := f.attrs["no-heading"]; !noHeading && f.columns != nil {
		heading := make([]string, len(f.columns))
		for i, c := range f.columns {
			heading[i] = c.label
			if heading[i] == "" {
				heading[i] = c.keyString()
			}
		}
		cw.Write(heading)
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v, ";")
		}
		cw.Write(cells)
	}
	cw.Flush()
	return cw.Error()
}

// renderTable prints gcloud's plain table: an upper-case heading and columns padded to
// their widest cell, two spaces apart.
func (f *Format) renderTable(w io.Writer, rows [][]any) error {
	var lines [][]string
	if _, noHeading := f.attrs["no-heading"]; !noHeading && f.columns != nil {
		heading := make([]string, len(f.columns))
		for i, c := range f.columns {
			heading[i] = c.heading()
		}
		lines = append(lines, heading)
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v, ",")
		}
		lines = append(lines, cells)
	}
	if len(lines) == 0 {
		return nil
	}
	widths := make([]int, len(lines[0]))
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], len(c))
		}
	}
	var buf bytes.Buffer
	for _, l := range lines {
		var line strings.Builder
		for i, c := range l {
			line.WriteString(c)
			if i < len(l)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len(c)+2))
			}
		}
		buf.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// heading is the column's label, or its last key in gcloud's SNAKE_CASE capitals
// (networkEndpointType → NETWORK_ENDPOINT_TYPE).
func (c column) heading() string {
	if c.label != "" {
		return c.label
	}
	if len(c.key) == 0 {
		return ""
	}
	return snakeUpper(c.key[len(c.key)-1].name)
}

func (c column) keyString() string {
	parts := make([]string, len(c.key))
	for i, p := range c.key {
		parts[i] = p.name
	}
	return strings.Join(parts, ".")
}

func snakeUpper(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		upper := 'A' <= c && c <= 'Z'
		if upper && i > 0 {
			prevLower := 'a' <= s[i-1] && s[i-1] <= 'z' || '0' <= s[i-1] && s[i-1] <= '9'
			nextLower := i+1 < len(s) && 'a' <= s[i+1] && s[i+1] <= 'z'
			prevUpper := 'A' <= s[i-1] && s[i-1] <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				b.WriteByte('_')
			}
		}
		if c == '-' {
			c = '_'
		}
		b.WriteString(strings.ToUpper(string(c)))
	}
	return b.String()
}

// cell renders a value in a value, table or csv cell: lists joined with sep, maps as
// key=value pairs, booleans as Python spells them (gcloud is written in Python).
func cell(v any, sep string) string {
	switch t := v.(type) {
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = cell(e, sep)
		}
		return strings.Join(parts, sep)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + cell(t[k], sep)
		}
		return strings.Join(parts, sep)
	}
	return scalar(v)
}

func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return t.String()
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case []any, map[string]any:
		return cell(t, ";")
	}
	return fmt.Sprint(v)
}
