package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/version"
)

// AgentSelector finds the agent's Deployment (the chart's labels).
const AgentSelector = "app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux"

// VersionOptions are the flags of `kubectl svcmux version`.
type VersionOptions struct {
	genericiooptions.IOStreams
	g      *Globals
	Output string
	// Client skips the cluster: only the plugin's own version.
	Client bool
}

// Version is the `-o json` document of `kubectl svcmux version`.
type Version struct {
	TypeMeta
	Plugin BuildVersion `json:"plugin"`
	Agent  AgentVersion `json:"agent"`
}

// BuildVersion is a binary's version and commit.
type BuildVersion struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// AgentVersion is the agent's version read from its Deployment.
type AgentVersion struct {
	Version   string `json:"version"`
	Found     bool   `json:"found"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// NewCmdVersion builds `kubectl svcmux version`.
func NewCmdVersion(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &VersionOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version and the agent's, when its Deployment is found",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			doc := Version{TypeMeta: typeMeta("Version"), Plugin: BuildVersion{Version: version.Version, Commit: version.Commit}}
			if !o.Client {
				doc.Agent = o.agent(cmd)
			}
			if ok, err := printDocument(o.Out, o.Output, doc); ok {
				return err
			}
			fmt.Fprintf(o.Out, "plugin: %s (commit %s)\n", doc.Plugin.Version, doc.Plugin.Commit)
			switch {
			case o.Client:
			case doc.Agent.Found:
				fmt.Fprintf(o.Out, "agent:  %s (deployment %s/%s)\n", doc.Agent.Version, doc.Agent.Namespace, doc.Agent.Name)
			default:
				fmt.Fprintln(o.Out, "agent:  not found (no Deployment labelled "+AgentSelector+")")
			}
			return nil
		},
	}
	addOutputFlag(cmd, &o.Output, outputTable, outputJSON, outputYAML)
	cmd.Flags().BoolVar(&o.Client, "client", false, "print only the plugin's version; do not contact the cluster")
	return cmd
}

// agent finds the agent Deployment; an unreachable cluster or a refused read means
// "not found": version shows what it can.
func (o *VersionOptions) agent(cmd *cobra.Command) AgentVersion {
	c, err := o.g.client()
	if err != nil {
		return AgentVersion{}
	}
	list, err := c.AppsV1().Deployments("").List(cmd.Context(), metav1.ListOptions{LabelSelector: AgentSelector})
	if err != nil || len(list.Items) == 0 {
		return AgentVersion{}
	}
	d := list.Items[0]
	return AgentVersion{Version: d.Labels["app.kubernetes.io/version"], Found: true, Namespace: d.Namespace, Name: d.Name}
}
