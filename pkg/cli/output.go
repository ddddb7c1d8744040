package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// APIVersion versions every JSON and YAML document the plugin prints (SPEC §8).
const APIVersion = "svcmux.nowake.ai/v1alpha1"

// TypeMeta heads every document: {"apiVersion": …, "kind": …}.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func typeMeta(kind string) TypeMeta { return TypeMeta{APIVersion: APIVersion, Kind: kind} }

// Output formats.
const (
	outputTable = "table"
	outputWide  = "wide"
	outputJSON  = "json"
	outputYAML  = "yaml"
	outputDot   = "dot"
)

// addOutputFlag binds -o with the formats a command supports (table first, the default).
func addOutputFlag(cmd *cobra.Command, target *string, formats ...string) {
	if len(formats) == 0 {
		formats = []string{outputTable, outputWide, outputJSON, outputYAML}
	}
	cmd.Flags().StringVarP(target, "output", "o", outputTable, "output format: "+strings.Join(formats, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	cmd.Annotations = map[string]string{"output-formats": strings.Join(formats, ",")}
}

// validateOutput refuses a format the command does not print.
func validateOutput(cmd *cobra.Command, format string) error {
	formats := strings.Split(cmd.Annotations["output-formats"], ",")
	if slices.Contains(formats, format) {
		return nil
	}
	return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(formats, ", "))}
}

// printDocument writes doc as indented JSON or YAML; it reports whether format was one of them.
func printDocument(w io.Writer, format string, doc any) (bool, error) {
	switch format {
	case outputJSON:
		// No HTML escaping: ports read "http:8080->20000", not "http:8080-\u003e20000".
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return true, enc.Encode(doc)
	case outputYAML:
		b, err := yaml.Marshal(doc)
		if err != nil {
			return true, err
		}
		_, err = w.Write(b)
		return true, err
	}
	return false, nil
}

// table is a kubectl-looking table: upper-case headers, no borders, columns
// separated by three spaces, left aligned, no trailing blanks.
type table struct {
	t   *tablewriter.Table
	buf bytes.Buffer
	w   io.Writer
}

// Append adds one row.
func (t *table) Append(row []string) error { return t.t.Append(row) }

// Render writes the table, each line without the padding of its last column.
func (t *table) Render() error {
	if err := t.t.Render(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(t.w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// newTable starts a table with the given header.
func newTable(w io.Writer, header ...string) *table {
	out := &table{w: w}
	out.t = tablewriter.NewTable(&out.buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.On},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
		}),
	)
	out.t.Header(header)
	return out
}
