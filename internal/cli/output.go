package cli

import (
	"io"

	"meridian/internal/cli/format"
)

// render prints items in a gcloud --format expression.
func render(w io.Writer, expr string, items []any, single bool) error {
	f, err := format.Parse(expr)
	if err != nil {
		return err
	}
	return f.Render(w, items, single)
}
