package cli

import (
	"fmt"
	"io"
	"strings"
)

// printDoctorReport writes each finding as a block: the code, severity and object,
// then the message and the fix indented beneath, so a long message stays readable
// and the fix can be copied whole. Skipped checks follow, then one summary line.
func printDoctorReport(w io.Writer, doc DoctorReport) error {
	var b strings.Builder
	for _, f := range doc.Findings {
		fmt.Fprintf(&b, "%s %s %s\n", f.Code, strings.ToUpper(string(f.Severity)), f.Object)
		fmt.Fprintf(&b, "  %s\n", f.Message)
		fmt.Fprintf(&b, "  fix: %s\n", f.Fix)
		fmt.Fprintf(&b, "  see: %s\n\n", f.Docs)
	}
	for _, s := range doc.Skipped {
		fmt.Fprintf(&b, "could not check %s: %s\n", s.Check, s.Why)
	}
	if len(doc.Skipped) > 0 {
		b.WriteString("\n")
	}
	if len(doc.Findings) == 0 {
		b.WriteString("No findings")
	} else {
		fmt.Fprintf(&b, "%d finding(s): %s", len(doc.Findings), severityCounts(doc.Findings))
	}
	if len(doc.Skipped) > 0 {
		fmt.Fprintf(&b, "; %d check(s) skipped", len(doc.Skipped))
	}
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// printDoctorCodes is the catalog as a table.
func printDoctorCodes(w io.Writer, doc DoctorCodes) error {
	t := newTable(w, "CODE", "SEVERITY", "CHECK", "TITLE")
	for _, e := range doc.Codes {
		if err := t.Append([]string{e.Code, string(e.Severity), e.Check, e.Title}); err != nil {
			return err
		}
	}
	return t.Render()
}
