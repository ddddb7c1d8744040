package bench

import (
	"fmt"
	"strings"
)

// mdTable is a Markdown table of the report being written: its header and
// alignment rows when made, then one row per call of row.
type mdTable struct{ b strings.Builder }

// newTable starts a table of these columns. A column written with a trailing
// ":" ("channels:") is right-aligned, as Markdown's "---:" is: the numbers.
func newTable(columns ...string) *mdTable {
	t := &mdTable{}
	names, align := make([]any, len(columns)), make([]any, len(columns))
	for i, c := range columns {
		name, right := strings.CutSuffix(c, ":")
		names[i], align[i] = name, "---"
		if right {
			align[i] = "---:"
		}
	}
	t.row(names...)
	t.row(align...)
	return t
}

// row appends a row of cells, each printed as fmt.Sprint prints it; one cell
// may stand for several already joined by " | " (writeCols).
func (t *mdTable) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintf(&t.b, "| %s |\n", strings.Join(s, " | "))
}

func (t *mdTable) String() string { return t.b.String() }
