package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/manifest"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

func init() { extraCommands = append(extraCommands, NewCmdCheck) }

// CheckOptions are the flags of `kubectl svcmux check`.
type CheckOptions struct {
	genericiooptions.IOStreams
	g         *Globals
	Filenames []string
	Recursive bool
	Offline   bool
	Output    string
}

// NewCmdCheck builds `kubectl svcmux check -f FILE|DIR|-`.
func NewCmdCheck(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &CheckOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "check -f FILE|DIR|-",
		Short: "Predict what the agent will do with manifests before they are applied",
		Long: `Read manifests (multi-document YAML or JSON; -f repeatable, - for stdin, -R to
recurse into directories), put their Services and state ConfigMaps over the live
cluster (or over nothing with --offline), and plan every mux they touch with the
agent's own planner. For every channel in the files it prints Accepted with the
exact public ports the agent will give it (auto ports included), or Rejected with
the reason and the owner it collides with, and the file and line; muxes in the
files are shown as valid or invalid, and new when the cluster does not have them.

The prediction is everything in the files applied at once: one agent pass over them
all, and the passes after it (with the agent's own writes, in memory) until a pass
writes nothing. Channels applied one by one make the earlier ones owners of their ports.

Exit 0 when every channel in the files would be accepted and every mux is valid,
1 when one would be rejected (a Kept channel — a refused edit while its last good
ports keep serving — counts as rejected: the edit would not take effect) or a mux
in the files is invalid, 2 when the files or the cluster could not be read.`,
		Example: `  kubectl svcmux check -f service.yaml
  kubectl svcmux check -R -f deploy/ -o json
  helm template my-app ./chart | kubectl svcmux check -f -
  kubectl svcmux check --offline -f examples/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			if len(o.Filenames) == 0 {
				return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("no manifests: give -f FILE, -f DIR or -f -")}
			}
			doc, err := o.Run(cmd)
			if err != nil {
				return err
			}
			if err := o.print(doc); err != nil {
				return err
			}
			return found(doc.failed())
		},
	}
	cmd.Flags().StringArrayVarP(&o.Filenames, "filename", "f", nil, "manifest file, directory or - for standard input (repeatable)")
	cmd.Flags().BoolVarP(&o.Recursive, "recursive", "R", false, "read the directories given with -f recursively")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "plan on the files alone: no cluster is read (no kubeconfig needed)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	addOutputFlag(cmd, &o.Output, outputTable, outputWide, outputJSON, outputYAML)
	return cmd
}

// Run reads the files, overlays them and plans.
func (o *CheckOptions) Run(cmd *cobra.Command) (CheckReport, error) {
	r := &manifest.Reader{Recursive: o.Recursive, Stdin: o.In}
	objs, err := r.Read(o.Filenames)
	if err != nil {
		return CheckReport{}, err
	}
	g := o.g
	namespace := o.defaultNamespace()
	files, err := sortFiles(objs, namespace, g.Keys(), g.DefaultMuxNamespace)
	if err != nil {
		return CheckReport{}, err
	}
	var live snapshot.Lists
	if !o.Offline {
		c, err := g.client()
		if err != nil {
			return CheckReport{}, err
		}
		if live, err = readLists(cmd.Context(), c, g.Keys()); err != nil {
			return CheckReport{}, err
		}
	}
	merged := overlay(live, &files, g.Keys())
	if !o.Offline && !live.NamespacesListed && needsNamespaces(merged.Services, g.Keys()) {
		// A selector mux that only the files bring: its labels come from the cluster too.
		c, err := g.client()
		if err != nil {
			return CheckReport{}, err
		}
		if err := listNamespaces(cmd.Context(), c, &live); err != nil {
			return CheckReport{}, err
		}
		merged = overlay(live, &files, g.Keys())
	}
	cl, passes, settled, err := g.settle(merged)
	if err != nil {
		return CheckReport{}, err
	}
	doc := buildCheckReport(cl, &files)
	doc.Namespace, doc.Offline, doc.Passes, doc.Settled = namespace, o.Offline, passes, settled
	return doc, nil
}

// defaultNamespace is where objects without metadata.namespace go, as kubectl apply
// puts them: -n, else the kubeconfig context's namespace, else "default" (also
// when there is no kubeconfig, as with --offline on a CI runner).
func (o *CheckOptions) defaultNamespace() string {
	cf := o.g.ConfigFlags
	if cf.Namespace != nil && *cf.Namespace != "" {
		return *cf.Namespace
	}
	if ns, _, err := cf.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

func (o *CheckOptions) print(doc CheckReport) error {
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	return printCheckTable(o.Out, doc, o.Output == outputWide)
}
