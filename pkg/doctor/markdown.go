package doctor

import (
	"fmt"
	"strings"
)

// Markers around the generated catalog in DocsPage; TestDocsPageShowsTheCatalog
// keeps what is between them equal to CatalogMarkdown.
const (
	BeginGenerated = "<!-- BEGIN GENERATED: doctor catalog (go test ./pkg/doctor -run TestDocsPage -update) -->"
	EndGenerated   = "<!-- END GENERATED: doctor catalog -->"
)

// CatalogMarkdown is the catalog as a Markdown table, one row per code, each code
// carrying its anchor.
func CatalogMarkdown() string {
	var b strings.Builder
	b.WriteString("| code | severity | check | title | message | fix |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, e := range Catalog() {
		fmt.Fprintf(&b, "| <a id=\"%s\"></a>`%s` | %s | %s | %s | %s | %s |\n",
			strings.ToLower(e.Code), e.Code, e.Severity, e.Check, cell(e.Title), cell(e.Message), code(e.Fix))
	}
	return b.String()
}

// cell escapes what would break a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// code writes s as inline code; a backtick-free fix never needs more than one fence.
func code(s string) string { return "`" + cell(s) + "`" }

// ReplaceGenerated returns page with the block between the markers set to body.
func ReplaceGenerated(page, body string) (string, error) {
	begin := strings.Index(page, BeginGenerated)
	end := strings.Index(page, EndGenerated)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("%s: markers %q and %q not found in order", DocsPage, BeginGenerated, EndGenerated)
	}
	return page[:begin+len(BeginGenerated)] + "\n" + body + page[end:], nil
}
