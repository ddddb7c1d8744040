package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/nowakeai/svcmux/pkg/repair"
)

// print writes one RepairPlan for a named mux, a RepairPlanList otherwise, or the
// table: per mux what is wrong, the claims kept and dropped, refusals, leftovers,
// the diff, and what --apply wrote.
func (o *RepairOptions) print(targets []*repairTarget, named bool) error {
	docs := make([]RepairPlan, len(targets))
	for i, t := range targets {
		docs[i] = t.doc
	}
	var doc any = RepairPlanList{TypeMeta: typeMeta("RepairPlanList"), Items: docs}
	if named && len(docs) == 1 {
		doc = docs[0]
	}
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	pending := false
	for i, t := range targets {
		if i > 0 {
			fmt.Fprintln(o.Out)
		}
		printRepairTarget(o.Out, t.doc)
		pending = pending || o.pending(t.doc)
	}
	switch {
	case o.Apply:
	case pending:
		fmt.Fprintln(o.Out, "\nDry run: nothing was written. Run again with --apply to write it (the old state ConfigMap is saved first).")
	default:
		fmt.Fprintln(o.Out, "\nNothing to repair.")
	}
	return nil
}

// pending reports whether --apply would write something for this mux.
func (o *RepairOptions) pending(d RepairPlan) bool {
	if len(d.Refused) > 0 {
		return false
	}
	return d.State.Action != repair.ActionNone ||
		(o.StripFinalizers && len(d.Finalizers) > 0) || (o.DeleteLegacyEndpoints && len(d.LegacyEndpoints) > 0)
}

func printRepairTarget(w io.Writer, d RepairPlan) {
	st := d.State
	what := st.Action
	if len(st.Problems) > 0 {
		what += " (" + strings.Join(st.Problems, ", ") + ")"
	}
	fmt.Fprintf(w, "mux %s/%s: state ConfigMap %s/%s: %s\n", d.Mux.Namespace, d.Mux.Name, st.Namespace, st.Name, what)
	if st.Detail != "" {
		fmt.Fprintf(w, "  %s\n", st.Detail)
	}
	for _, k := range d.Kept {
		fmt.Fprintf(w, "  keep     %s  (%s)\n", k, k.Evidence)
	}
	for _, k := range d.Dropped {
		fmt.Fprintf(w, "  drop     %s  %s: %s\n", k.Kept, k.Reason, k.Detail)
	}
	for _, r := range d.Refused {
		fmt.Fprintf(w, "  REFUSED  %s: %s\n", r.Reason, r.Message)
	}
	for _, f := range d.Finalizers {
		fmt.Fprintf(w, "  leftover %s has the previous controller's finalizer (--strip-finalizers removes it)\n", f)
	}
	for _, e := range d.LegacyEndpoints {
		fmt.Fprintf(w, "  leftover %s of the previous controller (--delete-legacy-endpoints deletes it)\n", e)
	}
	if st.Diff != "" {
		fmt.Fprint(w, st.Diff)
	}
	for _, wr := range d.Writes {
		fmt.Fprintf(w, "  wrote    %s\n", writeText(wr))
	}
}

func writeText(wr RepairWrite) string {
	s := wr.Verb + " " + wr.Object.String()
	switch {
	case wr.File != "":
		s = "saved " + wr.Object.String() + " to " + wr.File
	case wr.Precondition != "":
		s += " (resourceVersion " + wr.Precondition + ")"
	}
	if wr.Error != "" {
		s += ": FAILED: " + wr.Error
	}
	return s
}
