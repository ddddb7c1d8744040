package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/repair"
)

func init() { extraCommands = append(extraCommands, NewCmdRepair) }

// RepairFieldManager is the field manager of repair's writes: not the agent's, so
// `drift` and managedFields show a human ran a repair.
const RepairFieldManager = "svcmux-repair"

// repairClock stamps backup names; tests pin it.
var repairClock = time.Now

// RepairOptions are the flags of `kubectl svcmux repair`.
type RepairOptions struct {
	genericiooptions.IOStreams
	g                     *Globals
	Output                string
	Apply                 bool
	BackupFile            string
	StripFinalizers       bool
	DeleteLegacyEndpoints bool
}

// NewCmdRepair builds `kubectl svcmux repair [MUX] [--apply]`.
func NewCmdRepair(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &RepairOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "repair [MUX]",
		Short: "Rebuild a mux's state ConfigMap from the live mux, never moving a live port",
		Long: `Rebuild each mux's state ConfigMap (allocations.json) the way the agent's precedence
implies from live evidence: the live mux ports, the channels' ports annotations and
the claims of the old document that agree with them. It repairs invalid JSON, a
missing, foreign, unlabelled or older-format ConfigMap and stale or conflicting
claims, and prints a unified diff of allocations.json.

Repair never moves a live port: it plans the mux with the rebuilt document and
refuses (exit 1) when any live mux port would move or lose its owner.

Without --apply nothing is written. With --apply the old ConfigMap is saved first
(a ConfigMap <name>-backup-<unix time> the agent does not read, or --backup-file),
then the new one is written with a resourceVersion precondition, so a concurrent
change makes repair fail instead of overwriting it. Stop the agent (scale it to 0)
while repairing a state it refuses to write.`,
		Example: `  kubectl svcmux repair mux -n svc-mux
  kubectl svcmux repair mux -n svc-mux --apply
  kubectl svcmux repair --apply --backup-file state-backup.yaml
  kubectl svcmux repair --strip-finalizers --delete-legacy-endpoints --apply`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			return o.Run(cmd.Context(), g.namespaceScope(cmd), args)
		},
		ValidArgsFunction: completeMuxes(g),
	}
	addOutputFlag(cmd, &o.Output, outputTable, outputJSON, outputYAML)
	f := cmd.Flags()
	f.BoolVar(&o.Apply, "apply", false, "write the repair (after saving the old state ConfigMap)")
	f.StringVar(&o.BackupFile, "backup-file", "", "save the old state ConfigMaps to this new file instead of backup ConfigMaps")
	f.BoolVar(&o.StripFinalizers, "strip-finalizers", false, "remove the Python controller's leftover finalizer from muxes and channels in scope")
	f.BoolVar(&o.DeleteLegacyEndpoints, "delete-legacy-endpoints", false,
		"delete the Python controller's labelled Endpoints named like each mux (when the agent writes EndpointSlices, its default)")
	return cmd
}

// RepairPlan is the `-o json` document of one mux.
type RepairPlan struct {
	TypeMeta
	Mux MuxName `json:"mux"`
	repair.Plan
	// Finalizers are the objects carrying the Python controller's finalizer.
	Finalizers []ObjectName `json:"finalizers"`
	// LegacyEndpoints is the Python controller's Endpoints object of the mux, if any.
	LegacyEndpoints []ObjectName `json:"legacyEndpoints"`
	// Applied is true when --apply was given; Writes are what was written, in order.
	Applied bool          `json:"applied"`
	Writes  []RepairWrite `json:"writes"`
}

// RepairPlanList is the document of several muxes (no MUX argument).
type RepairPlanList struct {
	TypeMeta
	Items []RepairPlan `json:"items"`
}

// MuxName is a mux's namespace and name.
type MuxName struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ObjectName names one object.
type ObjectName struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (n ObjectName) String() string { return n.Kind + " " + n.Namespace + "/" + n.Name }

// RepairWrite is one write of --apply.
type RepairWrite struct {
	Verb   string     `json:"verb"` // create, update, patch, delete, backup-file
	Object ObjectName `json:"object"`
	// Precondition is the resourceVersion the write required ("" for a create).
	Precondition string `json:"precondition,omitempty"`
	// File is where backup-file saved the object.
	File  string `json:"file,omitempty"`
	Error string `json:"error,omitempty"`
}

// repairTarget is one mux's repair with the objects it reads and writes.
type repairTarget struct {
	doc      RepairPlan
	old      *corev1.ConfigMap
	mux      MuxView
	services map[string]*corev1.Service // finalizer holders by "ns/name"
}

// Run reads the cluster, computes every mux's repair, applies it when asked and prints.
func (o *RepairOptions) Run(ctx context.Context, namespace string, args []string) error {
	c, err := o.g.client()
	if err != nil {
		return err
	}
	l, err := readLists(ctx, c, o.g.Keys())
	if err != nil {
		return err
	}
	cl, err := o.g.planLists(l, namespace)
	if err != nil {
		return err
	}
	muxes, err := cl.selectMuxes(args)
	if err != nil {
		return err
	}
	targets := make([]*repairTarget, 0, len(muxes))
	for _, m := range muxes {
		t, err := o.target(ctx, c, cl, m)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	var writeErr error
	if o.Apply {
		writeErr = o.apply(ctx, c, targets)
	}
	if err := o.print(targets, len(args) == 1); err != nil {
		return err
	}
	if writeErr != nil {
		return &ExitError{Code: ExitCannotRun, Err: writeErr}
	}
	refused := false
	for _, t := range targets {
		refused = refused || len(t.doc.Refused) > 0
	}
	return found(refused)
}

// target computes one mux's repair. The plugin's ConfigMap List is label-filtered,
// as the agent's informer is; a state ConfigMap that lost its label is still the
// mux's state, so it is read with one Get for the mux's state name.
func (o *RepairOptions) target(ctx context.Context, c kubernetes.Interface, cl *Cluster, m MuxView) (*repairTarget, error) {
	snap := m.Snapshot
	name := plan.StateConfigMapName(m.Mux, cl.Keys)
	if snap.StateConfigMap == nil {
		cm, err := c.CoreV1().ConfigMaps(m.Mux.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			snap.StateConfigMap = cm
		case !apierrors.IsNotFound(err):
			return nil, &ReadError{Resource: "configmap " + m.Mux.Namespace + "/" + name, Err: err}
		}
	}
	others, err := cl.Reader.MuxesWithStateConfigMap(m.Mux.Namespace, name)
	if err != nil {
		return nil, err
	}
	var shared []api.MuxRef
	for _, other := range others {
		if other.Name != m.Mux.Name {
			shared = append(shared, api.MuxRef{Namespace: other.Namespace, Name: other.Name})
		}
	}
	rp := repair.Compute(repair.Input{Snapshot: snap, Options: cl.Opts, SharedWith: shared})
	t := &repairTarget{old: snap.StateConfigMap, mux: m, services: map[string]*corev1.Service{}, doc: RepairPlan{
		TypeMeta: typeMeta("RepairPlan"), Mux: MuxName{Namespace: m.Mux.Namespace, Name: m.Mux.Name}, Plan: rp,
		Finalizers: []ObjectName{}, LegacyEndpoints: []ObjectName{}, Applied: o.Apply, Writes: []RepairWrite{},
	}}
	t.services[m.key()] = m.Mux
	for _, ch := range snap.Channels {
		t.services[ch.Namespace+"/"+ch.Name] = ch
	}
	for _, ref := range m.Plan.StripFinalizers {
		t.doc.Finalizers = append(t.doc.Finalizers, ObjectName{Kind: "Service", Namespace: ref.Namespace, Name: ref.Name})
	}
	if m.Plan.DeleteLegacyEndpoints && snap.MuxEndpoints != nil {
		t.doc.LegacyEndpoints = append(t.doc.LegacyEndpoints, ObjectName{Kind: "Endpoints", Namespace: snap.MuxEndpoints.Namespace, Name: snap.MuxEndpoints.Name})
	}
	return t, nil
}
