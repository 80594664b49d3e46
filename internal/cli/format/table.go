package format

import (
	"bytes"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// table is a laid-out table: gcloud's table printer minus terminal-width wrapping.
type table struct {
	heading []string   // nil when there is none
	rows    [][]string // cells, which may hold several lines
	widths  []int
	align   []string
	pad     int       // spaces between columns without a box
	box     *boxChars // nil without a box
	allBox  bool      // rules between rows too
	title   string
	titled  bool
}

// boxChars draws a table's box.
type boxChars struct {
	h, v, dr, dl, ur, ul, vr, vl, hd, hu, vh string
}

func boxLines(ascii bool) *boxChars {
	if ascii {
		return &boxChars{h: "-", v: "|", dr: "+", dl: "+", ur: "+", ul: "+", vr: "+", vl: "+", hd: "+", hu: "+", vh: "+"}
	}
	return &boxChars{h: "─", v: "│", dr: "┌", dl: "┐", ur: "└", ul: "┘", vr: "├", vl: "┤", hd: "┬", hu: "┴", vh: "┼"}
}

// renderTable prints left-aligned columns under an upper-case heading, two spaces
// apart, trailing space trimmed. An empty list prints nothing, not even the heading,
// as in gcloud.
func (f *Format) renderTable(buf *bytes.Buffer, items []any) {
	if len(items) == 0 {
		return
	}
	raw := make([][]any, len(items))
	for i, it := range items {
		raw[i] = f.row(it)
	}
	t := f.layout(f.sortRows(raw))
	if t == nil {
		return
	}
	t.write(buf)
}

// sortRows orders rows by the :sort and :reverse columns the way gcloud's table
// printer does: keys by sort rank, runs of keys with the same direction sorted
// stably from the least significant, reversed runs by reversing around the sort.
func (f *Format) sortRows(rows [][]any) [][]any {
	type sortKey struct {
		rank, index int
		reverse     bool
	}
	var keys []sortKey
	for i, c := range f.columns {
		if c.order > 0 || c.reverse {
			rank := c.order
			if rank == 0 {
				rank = math.MaxInt
			}
			keys = append(keys, sortKey{rank, i, c.reverse})
		}
	}
	sort.SliceStable(keys, func(a, b int) bool { return keys[a].rank < keys[b].rank })
	for end := len(keys); end > 0; {
		start := end - 1
		for start > 0 && keys[start-1].reverse == keys[end-1].reverse {
			start--
		}
		reverse := keys[start].reverse
		if reverse {
			slices.Reverse(rows)
		}
		for k := end - 1; k >= start; k-- {
			col := keys[k].index
			sort.SliceStable(rows, func(a, b int) bool { return compareValues(rows[a][col], rows[b][col]) < 0 })
		}
		if reverse {
			slices.Reverse(rows)
		}
		end = start
	}
	return rows
}

// layout turns rows of values into a table: cell text, the visible columns (an
// :optional column with no data is dropped), headings and widths.
func (f *Format) layout(raw [][]any) *table {
	t := &table{pad: 2, title: f.attrOr("title", "")}
	_, t.titled = f.attr("title")
	if f.has("box") || f.has("all-box") {
		t.box, t.allBox, t.pad = boxLines(f.has("ascii")), f.has("all-box"), 1
	} else if p, ok := f.attr("pad"); ok {
		t.pad, _ = strconv.Atoi(p) // validated by Parse
	}
	cells := make([][]string, len(raw))
	for i, r := range raw {
		cells[i] = make([]string, len(r))
		for j, v := range r {
			cells[i][j] = cellText(v)
		}
	}
	var visible []int
	for j, c := range f.columns {
		if !c.optional || slices.ContainsFunc(cells, func(row []string) bool { return row[j] != "" }) {
			visible = append(visible, j)
		}
	}
	if len(visible) == 0 {
		return nil
	}
	labels, hasHeading := f.labels()
	hasHeading = hasHeading && !f.has("no-heading")
	for _, row := range cells {
		t.rows = append(t.rows, pick(row, visible))
	}
	if hasHeading {
		t.heading = pick(labels, visible)
	}
	for _, j := range visible {
		t.align = append(t.align, f.columns[j].align)
		t.widths = append(t.widths, f.columns[j].width)
	}
	for _, row := range append(slices.Clone(t.rows), t.heading) {
		for i, cell := range row {
			t.widths[i] = max(t.widths[i], cellWidth(cell))
		}
	}
	return t
}

func pick(row []string, columns []int) []string {
	out := make([]string, len(columns))
	for i, j := range columns {
		out[i] = row[j]
	}
	return out
}

// cellWidth is the width of a cell's widest line.
func cellWidth(cell string) int {
	w := 0
	for _, line := range strings.Split(cell, "\n") {
		w = max(w, width(line))
	}
	return w
}

func (t *table) write(buf *bytes.Buffer) {
	if t.titled {
		t.writeTitle(buf)
	}
	if t.box == nil {
		if t.heading != nil {
			t.writePlain(buf, t.heading)
		}
		for _, row := range t.rows {
			t.writePlain(buf, row)
		}
		return
	}
	t.writeBoxed(buf)
}

// writeTitle prints the title centered over the table, widening the columns when
// the title is wider than they are.
func (t *table) writeTitle(buf *bytes.Buffer) {
	n := len(t.widths)
	total := 0
	for _, w := range t.widths {
		total += w
	}
	if tw := width(t.title); total < tw {
		extra := (tw + n - 1) / n
		total += n * extra
		for i := range t.widths {
			t.widths[i] += extra
		}
	}
	if t.box == nil {
		total += t.pad * (n - 1)
		buf.WriteString(strings.TrimRight(justify(t.title, total, "center"), " ") + "\n")
		return
	}
	total += 3*n - 1
	buf.WriteString(t.box.dr + strings.Repeat(t.box.h, total) + t.box.dl + "\n")
	buf.WriteString(t.box.v + justify(t.title, total, "center") + t.box.v + "\n")
}

// writePlain prints one row, a line per line of its tallest cell.
func (t *table) writePlain(buf *bytes.Buffer, row []string) {
	for _, line := range rowLines(row) {
		var b strings.Builder
		for i, cell := range line {
			if i > 0 {
				pad(&b, t.pad)
			}
			b.WriteString(justify(cell, t.widths[i], t.align[i]))
		}
		buf.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
}

// rowLines splits a row's cells into lines: line i holds each cell's i-th line.
func rowLines(row []string) [][]string {
	split := make([][]string, len(row))
	height := 1
	for i, cell := range row {
		split[i] = strings.Split(cell, "\n")
		height = max(height, len(split[i]))
	}
	lines := make([][]string, height)
	for l := range lines {
		lines[l] = make([]string, len(row))
		for i := range row {
			if l < len(split[i]) {
				lines[l][i] = split[i][l]
			}
		}
	}
	return lines
}

// writeBoxed prints the table in a box: ┌─┬─┐ rules, │ between cells, headings
// centered.
func (t *table) writeBoxed(buf *bytes.Buffer) {
	b := t.box
	mid, last := b.vr, b.ur
	top, topEnd := b.dr, b.dl
	if t.titled {
		top, topEnd = b.vr, b.vl
	}
	rule := func(left, sep, right string) string {
		var s strings.Builder
		for i, w := range t.widths {
			if i == 0 {
				s.WriteString(left)
			} else {
				s.WriteString(sep)
			}
			s.WriteString(strings.Repeat(b.h, w+2))
		}
		return s.String() + right + "\n"
	}
	buf.WriteString(rule(top, b.hd, topEnd))
	middle := rule(mid, b.vh, b.vl)
	if t.heading != nil {
		centered := slices.Repeat([]string{"center"}, len(t.widths))
		t.writeBoxLines(buf, t.heading, centered)
		buf.WriteString(middle)
	}
	for i, row := range t.rows {
		if i > 0 && t.allBox {
			buf.WriteString(middle)
		}
		t.writeBoxLines(buf, row, t.align)
	}
	buf.WriteString(rule(last, b.hu, b.ul))
}

func (t *table) writeBoxLines(buf *bytes.Buffer, row, align []string) {
	for _, line := range rowLines(row) {
		var s strings.Builder
		for i, cell := range line {
			s.WriteString(t.box.v + " " + justify(cell, t.widths[i], align[i]))
			pad(&s, t.pad)
		}
		buf.WriteString(s.String() + t.box.v + "\n")
	}
}
