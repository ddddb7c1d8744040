package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/drift"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func init() { extraCommands = append(extraCommands, NewCmdDrift) }

// DriftOptions are the flags of `kubectl svcmux drift`.
type DriftOptions struct {
	genericiooptions.IOStreams
	g             *Globals
	Output        string
	EndpointsMode string
}

// DriftReport is the `-o json` document of `kubectl svcmux drift`.
type DriftReport struct {
	TypeMeta
	Drifts []DriftRow `json:"drifts"`
	// Notes say what was not compared and why (a frozen mux).
	Notes []string `json:"notes"`
}

// DriftRow is one agent-owned field whose live value is not the planned one, and
// the managedFields entry that owns the live value.
type DriftRow struct {
	// Object is "kind/namespace/name" (service, endpointslice, endpoints, configmap).
	Object string `json:"object"`
	// Field is the field path, or (missing), (extra), (different) for a whole object.
	Field   string `json:"field"`
	Desired string `json:"desired"`
	Live    string `json:"live"`
	// Manager, Operation, Subresource and Time are the owning managedFields entry,
	// empty (time null) when no entry owns the live value.
	Manager     string       `json:"manager"`
	Operation   string       `json:"operation"`
	Subresource string       `json:"subresource"`
	Time        *metav1.Time `json:"time"`
	// Writer is the manager's kind: agent, previous-controller, gitops, kubectl,
	// other, or unknown.
	Writer string `json:"writer"`
}

// NewCmdDrift builds `kubectl svcmux drift [MUX]`.
func NewCmdDrift(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &DriftOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "drift [MUX]",
		Short: "Show agent-owned fields whose live value is not the plan's, and who wrote them",
		Long: `Compare every field the svcmux agent owns with what its planner wants now: mux
spec.ports and annotations (channels, topology, summary, the external-dns keys it
owns), the mux EndpointSlices (and the legacy Endpoints with --endpoints-mode), each
channel's ports annotation, status.loadBalancer and Accepted condition, and each state
ConfigMap's allocations.json (compared semantically). For each field that differs it
names who last wrote the live value, from the object's managedFields: the agent, the
previous controller (kr8s, kopf), a GitOps tool, kubectl, or another manager.
A drift is what the agent changes on its next pass; one that comes back after the
agent ran is another writer fighting it. Exit 1 when any field drifts.`,
		Example: `  kubectl svcmux drift
  kubectl svcmux drift mux -n svc-mux -o wide
  kubectl svcmux drift -o json | jq '.drifts[] | select(.writer == "gitops")'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeMuxes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(cmd); err != nil {
				return err
			}
			cl, muxes, err := g.loadMuxes(cmd, args)
			if err != nil {
				return err
			}
			doc := o.build(cl, muxes, len(args) == 0)
			if err := o.print(doc); err != nil {
				return err
			}
			return found(len(doc.Drifts) > 0)
		},
	}
	addOutputFlag(cmd, &o.Output)
	cmd.Flags().StringVar(&o.EndpointsMode, "endpoints-mode", string(plan.EndpointsModeSlices),
		"the agent's --endpoints-mode: slices, endpoints or both (which endpoint objects it owns)")
	return cmd
}

func (o *DriftOptions) validate(cmd *cobra.Command) error {
	if err := validateOutput(cmd, o.Output); err != nil {
		return err
	}
	if !plan.EndpointsMode(o.EndpointsMode).Valid() {
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("unknown --endpoints-mode %q: use slices, endpoints or both", o.EndpointsMode)}
	}
	return nil
}

// build compares every mux in scope (and, without a MUX argument, the channels no
// mux covers) with the plan the agent would compute in the agent's endpoints mode.
func (o *DriftOptions) build(cl *Cluster, muxes []MuxView, withOrphans bool) DriftReport {
	doc := DriftReport{TypeMeta: typeMeta("DriftReport"), Drifts: []DriftRow{}, Notes: []string{}}
	opts := cl.Opts
	opts.EndpointsMode = plan.EndpointsMode(o.EndpointsMode)
	for _, m := range muxes {
		p := m.Plan
		if opts.EndpointsMode != plan.EndpointsModeSlices {
			p = plan.Compute(m.Snapshot, opts) // the shared load plans in the default mode
		}
		if p.Frozen {
			doc.Notes = append(doc.Notes, frozenNote(m.key(), p))
			continue
		}
		doc.Drifts = appendDrifts(doc.Drifts, drift.Mux(p, m.Snapshot))
		if p.State.Problem != "" {
			doc.Notes = append(doc.Notes, fmt.Sprintf("mux %s: its state is not compared, the agent does not write it: %s",
				m.key(), p.State.Problem))
		}
	}
	if withOrphans {
		for _, orphan := range cl.Orphans {
			doc.Drifts = appendDrifts(doc.Drifts, drift.Channel(orphan.Outcome, orphan.Service, cl.Keys))
		}
	}
	return doc
}

func frozenNote(mux string, p plan.Plan) string {
	why := p.FrozenReason
	for _, e := range p.Events {
		if e.Object == p.Mux && e.Reason == p.FrozenReason {
			why += ": " + e.Message
			break
		}
	}
	return fmt.Sprintf("mux %s is frozen (%s); the agent applies nothing to it, so no drift is reported for it", mux, why)
}

func appendDrifts(rows []DriftRow, ds []drift.Drift) []DriftRow {
	for _, d := range ds {
		rows = append(rows, DriftRow{Object: d.Object.String(), Field: d.Field, Desired: d.Desired, Live: d.Live,
			Manager: d.Writer.Manager, Operation: d.Writer.Operation, Subresource: d.Writer.Subresource,
			Time: d.Writer.Time, Writer: d.Writer.Kind})
	}
	return rows
}

func (o *DriftOptions) print(doc DriftReport) error {
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	if len(doc.Drifts) == 0 {
		msg := "No drift: every field the agent owns holds the value its planner wants."
		if len(doc.Notes) > 0 {
			msg = "No drift in the muxes compared."
		}
		if _, err := fmt.Fprintln(o.Out, msg); err != nil {
			return err
		}
	} else if err := o.printTable(doc.Drifts); err != nil {
		return err
	}
	for _, n := range doc.Notes {
		if _, err := fmt.Fprintln(o.Out, "note: "+n); err != nil {
			return err
		}
	}
	return nil
}

func (o *DriftOptions) printTable(rows []DriftRow) error {
	wide := o.Output == outputWide
	header := []string{"OBJECT", "FIELD", "WRITER", "MANAGER", "OPERATION", "TIME"}
	if wide {
		header = append(header, "DESIRED", "LIVE")
	}
	t := newTable(o.Out, header...)
	for _, r := range rows {
		op := orDash(r.Operation)
		if r.Subresource != "" {
			op += "/" + r.Subresource
		}
		when := "-"
		if r.Time != nil {
			when = r.Time.UTC().Format("2006-01-02T15:04:05Z")
		}
		row := []string{r.Object, r.Field, r.Writer, orDash(r.Manager), op, when}
		if wide {
			row = append(row, cell(r.Desired), cell(r.Live))
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	return t.Render()
}

// driftCellRunes bounds a DESIRED or LIVE cell: a topology annotation or a state
// document is pages long; -o json has the whole value.
const driftCellRunes = 48

// cell puts a value on one line (newlines shown as \n) and cuts it to
// driftCellRunes, marking the cut with "…".
func cell(v string) string {
	v = strings.ReplaceAll(v, "\n", `\n`)
	if utf8.RuneCountInString(v) <= driftCellRunes {
		return v
	}
	r := []rune(v)
	return string(r[:driftCellRunes-1]) + "…"
}
