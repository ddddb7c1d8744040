package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/nowakeai/svcmux/pkg/api"
)

func init() { extraCommands = append(extraCommands, NewCmdGitOps) }

// GitOpsOptions are the flags of `kubectl svcmux gitops`.
type GitOpsOptions struct {
	genericiooptions.IOStreams
	g    *Globals
	Tool string
}

// Tools gitops writes rules for.
const (
	toolArgoCD = "argocd"
	toolFlux   = "flux"
)

// NewCmdGitOps builds `kubectl svcmux gitops [MUX] [--tool argocd|flux]`.
func NewCmdGitOps(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &GitOpsOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "gitops [MUX]",
		Short: "Print ready-to-paste Argo CD or Flux ignore rules for the fields the agent owns",
		Long: `Print the ignore rules a GitOps tool needs so it never fights the agent over the
fields the agent owns: mux spec.ports and the agent's annotations, channel ports
annotations and status. Argo CD: ignoreDifferences (with managedFieldsManagers and
RespectIgnoreDifferences). Flux: HelmRelease drift-detection ignores, and the
Kustomization annotation for a plain-YAML mux. Keys use the prefix in force.`,
		Example: `  kubectl svcmux gitops --tool argocd
  kubectl svcmux gitops mux -n svc-mux --tool flux`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeMuxes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Tool != toolArgoCD && o.Tool != toolFlux {
				return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("--tool %q: use argocd or flux", o.Tool)}
			}
			cl, muxes, err := g.loadMuxes(cmd, args)
			if err != nil {
				return err
			}
			var doc any
			if o.Tool == toolArgoCD {
				doc = argoRules(cl.Keys, muxes)
			} else {
				doc = fluxRules(cl.Keys, muxes)
			}
			b, err := yaml.Marshal(doc)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "# %s ignore rules for %d mux(es), prefix %s (kubectl svcmux gitops)\n%s", o.Tool, len(muxes), cl.Keys.Prefix, b)
			return err
		},
	}
	cmd.Flags().StringVar(&o.Tool, "tool", toolArgoCD, "GitOps tool: argocd|flux")
	_ = cmd.RegisterFlagCompletionFunc("tool", cobra.FixedCompletions([]string{toolArgoCD, toolFlux}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// pointer escapes an annotation key for a JSON pointer ("/" is "~1").
func pointer(key string) string {
	return "/metadata/annotations/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// muxPointers are the mux fields the agent owns (SPEC §5).
func muxPointers(keys api.Keys) []string {
	out := []string{"/spec/ports"}
	for _, k := range []string{keys.Channels, keys.Topology, keys.Summary, keys.AggregatedExternalDNS} {
		out = append(out, pointer(k))
	}
	for _, k := range api.AggregatedExternalDNSKeys {
		out = append(out, pointer(k))
	}
	return out
}

type argoIgnore struct {
	Group                 string   `json:"group"`
	Kind                  string   `json:"kind"`
	Name                  string   `json:"name,omitempty"`
	Namespace             string   `json:"namespace,omitempty"`
	JSONPointers          []string `json:"jsonPointers,omitempty"`
	ManagedFieldsManagers []string `json:"managedFieldsManagers,omitempty"`
}

// argoRules is the spec fragment of an Argo CD Application.
func argoRules(keys api.Keys, muxes []MuxView) map[string]any {
	var ignores []argoIgnore
	for _, m := range muxes {
		ignores = append(ignores, argoIgnore{Group: "", Kind: "Service", Name: m.Mux.Name, Namespace: m.Mux.Namespace,
			JSONPointers: muxPointers(keys)})
	}
	// Channels: the agent's annotation and status, wherever the channel lives; and
	// anything else the agent's field manager owns.
	ignores = append(ignores, argoIgnore{Group: "", Kind: "Service", JSONPointers: []string{pointer(keys.Ports), "/status"},
		ManagedFieldsManagers: []string{api.FieldManager}})
	return map[string]any{"spec": map[string]any{
		"ignoreDifferences": ignores,
		"syncPolicy":        map[string]any{"syncOptions": []string{"RespectIgnoreDifferences=true"}},
	}}
}

// fluxRules are the HelmRelease drift ignores, and the annotation for a mux that a
// Kustomization applies as plain YAML (Kustomizations have no per-field ignore).
func fluxRules(keys api.Keys, muxes []MuxView) map[string]any {
	var ignores []map[string]any
	for _, m := range muxes {
		ignores = append(ignores, map[string]any{
			"target": map[string]string{"kind": "Service", "name": m.Mux.Name, "namespace": m.Mux.Namespace},
			"paths":  muxPointers(keys),
		})
	}
	ignores = append(ignores, map[string]any{
		"target": map[string]string{"kind": "Service"},
		"paths":  []string{pointer(keys.Ports)},
	})
	return map[string]any{
		"helmRelease":                 map[string]any{"spec": map[string]any{"driftDetection": map[string]any{"mode": "enabled", "ignore": ignores}}},
		"kustomizationMuxAnnotations": map[string]string{"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"},
	}
}
