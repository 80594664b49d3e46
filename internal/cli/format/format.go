// Package format implements gcloud's --format flag for Meridian's CLI: the resource
// printers and projections described by `gcloud topic formats` and `gcloud topic
// projections`.
//
// A format expression is NAME[ATTRIBUTES](PROJECTION), for example
//
//	yaml
//	value(address)
//	value[separator=","](name,status)
//	table(name, region.basename(), networkEndpointType, size)
//	table[box,title=Backends](backends[].group.basename():label=GROUP:sort=1)
//	csv[no-heading](name, cdnPolicy.cacheMode)
//
// Contract:
//
//   - Parse never panics, whatever the input. An expression it accepts renders any
//     resource decoded from JSON (map[string]any, []any, string, float64 or
//     json.Number, bool, nil) without panicking; a malformed one is an error that
//     starts with "format: " and, for syntax errors, names the byte offset.
//   - Render prints one resource (describe, create) or a list (list) the way gcloud
//     does: json is an indented array or object with sorted keys; yaml and flattened
//     put "---" before every resource of a list; value, csv and table print one line
//     per resource, Python-style (True/False, integers without a decimal point).
//   - A Format is immutable once parsed and safe for concurrent use.
//
// Where gcloud's behaviour is an accident of Python (str() of None, transforms that
// mangle lists) the package does the evident thing instead; the tests pin down
// what is printed.
package format

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Format is a parsed --format expression.
type Format struct {
	name    string            // the printer name as the user wrote it
	kind    printerKind       // the printer the name selects
	attrs   map[string]string // printer attributes; a flag such as no-heading maps to ""
	columns []*column         // the projection; nil when there is none
}

// printerKind identifies a printer. Several names share one (text and flattened).
type printerKind int

const (
	printNone printerKind = iota
	printJSON
	printYAML
	printValue
	printCSV
	printTable
	printList
	printFlattened
)

// printerFor maps a format name to its printer, as gcloud's resource_printer does.
func printerFor(name string) (printerKind, bool) {
	switch name {
	case "json":
		return printJSON, true
	case "yaml", "default": // gcloud's default printer is its YAML printer
		return printYAML, true
	case "value":
		return printValue, true
	case "csv":
		return printCSV, true
	case "table":
		return printTable, true
	case "list":
		return printList, true
	case "flattened", "text":
		return printFlattened, true
	case "none", "disable":
		return printNone, true
	}
	return 0, false
}

// knownFormats lists the names printerFor accepts, for error messages.
const knownFormats = "csv, default, disable, flattened, json, list, none, table, text, value, yaml"

// needsProjection reports whether the printer prints columns, so that a format
// without keys, such as a bare "value", has nothing to print. gcloud rejects those
// at print time; rejecting them at parse time tells the user sooner.
func (k printerKind) needsProjection() bool {
	return k == printValue || k == printCSV || k == printTable
}

// Parse parses a --format expression such as "table(name, region.basename())".
// An empty expression is an error; see ParseDefault for commands with a default.
func Parse(expr string) (*Format, error) {
	return parse(expr)
}

// ParseDefault parses the user's --format expression, or def when the user gave
// none (expr is empty or blank). Describe commands pass "yaml", list commands their
// default table; a blank def means gcloud's default printer, yaml.
func ParseDefault(expr, def string) (*Format, error) {
	if strings.TrimSpace(expr) != "" {
		return Parse(expr)
	}
	if strings.TrimSpace(def) == "" {
		def = "default"
	}
	return Parse(def)
}

// Name returns the format's name as written, e.g. "table" or "text".
func (f *Format) Name() string { return f.name }

// Render prints items to w. With single set and exactly one item, that item is
// printed as a lone resource (a JSON object, a YAML document without "---");
// otherwise items are printed as a list. The output is written with one Write, so
// nothing is printed when rendering fails.
func (f *Format) Render(w io.Writer, items []any, single bool) error {
	var buf bytes.Buffer
	one := single && len(items) == 1
	var err error
	switch f.kind {
	case printNone:
	case printJSON:
		err = f.renderJSON(&buf, items, one)
	case printYAML:
		err = f.renderYAML(&buf, items, one)
	case printFlattened:
		f.renderFlattened(&buf, items, one)
	case printList:
		f.renderList(&buf, items)
	case printValue, printCSV:
		f.renderCSV(&buf, items)
	case printTable:
		f.renderTable(&buf, items)
	default:
		err = fmt.Errorf("format: no printer for %q", f.name)
	}
	if err != nil {
		return err
	}
	if buf.Len() == 0 {
		return nil
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// attr returns a printer attribute and whether it was given.
func (f *Format) attr(name string) (string, bool) {
	v, ok := f.attrs[name]
	return v, ok
}

// attrOr returns a printer attribute, or def when it was not given.
func (f *Format) attrOr(name, def string) string {
	if v, ok := f.attrs[name]; ok {
		return v
	}
	return def
}

// has reports whether a flag attribute such as no-heading was given.
func (f *Format) has(name string) bool {
	_, ok := f.attrs[name]
	return ok
}

// row evaluates every column of the projection on one resource.
func (f *Format) row(resource any) []any {
	out := make([]any, len(f.columns))
	for i, c := range f.columns {
		out[i] = c.value(resource)
	}
	return out
}
