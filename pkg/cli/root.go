// Package cli is the kubectl plugin `kubectl svcmux`: a root command with the
// standard kubectl flags and one file per subcommand. Each subcommand binds its
// flags into an Options type whose Run reads the cluster once (one List per kind),
// plans every mux in scope with pkg/plan exactly as the agent does, and prints;
// only `repair --apply` writes.
package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Environment variables that set the plugin's own global flags.
const (
	EnvAPIPrefix           = "SVCMUX_API_PREFIX"
	EnvDefaultMuxNamespace = "SVCMUX_DEFAULT_MUX_NAMESPACE"
	// DefaultMuxNamespace is where the chart installs the agent and its default mux.
	DefaultMuxNamespace = "svc-mux"
)

// Globals are the flags every command shares.
type Globals struct {
	ConfigFlags         *genericclioptions.ConfigFlags
	AllNamespaces       bool
	APIPrefix           string
	DefaultMuxNamespace string

	// NewClient builds the API client; tests replace it with a fake clientset.
	NewClient func() (kubernetes.Interface, error)
	// Getenv reads the environment (tests pin it).
	Getenv func(string) string
}

// Keys are the annotation keys under --api-prefix.
func (g *Globals) Keys() api.Keys { return api.NewKeys(g.APIPrefix) }

// namespaceScope is the namespace muxes are shown from: "" means every namespace.
// Muxes are cluster infrastructure, so without -n every mux is in scope; -n narrows.
func (g *Globals) namespaceScope(cmd *cobra.Command) string {
	if g.AllNamespaces || g.ConfigFlags.Namespace == nil || !cmd.Flags().Changed("namespace") {
		return ""
	}
	return *g.ConfigFlags.Namespace
}

func (g *Globals) client() (kubernetes.Interface, error) {
	if g.NewClient != nil {
		return g.NewClient()
	}
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-svcmux"
	// The Python controller's Endpoints are listed on purpose (takeover leftovers):
	// the API server's "v1 Endpoints is deprecated" warning would only be noise.
	cfg.WarningHandler = rest.NoWarnings{}
	// One List per kind: a handful of requests, but allow them to run together.
	cfg.QPS, cfg.Burst = 50, 100
	return kubernetes.NewForConfig(cfg)
}

// NewRootCmd builds `kubectl svcmux` with every subcommand.
func NewRootCmd(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	if g.Getenv == nil {
		g.Getenv = os.Getenv
	}
	if g.ConfigFlags == nil {
		g.ConfigFlags = genericclioptions.NewConfigFlags(true)
	}
	root := &cobra.Command{
		Use:   "kubectl svcmux",
		Short: "See, check and repair svcmux muxes and channels",
		Long: `kubectl svcmux shows what the svcmux agent does with the LoadBalancer Services
that share one cloud load balancer: which channel owns which public port, what the
agent would change, what is wrong and how to fix it. It plans with the agent's own
planner, so what it predicts is what the agent writes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Plugins are found as kubectl-<name>; help and usage say "kubectl svcmux".
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl svcmux"},
	}
	flags := root.PersistentFlags()
	g.ConfigFlags.AddFlags(flags)
	flags.BoolVarP(&g.AllNamespaces, "all-namespaces", "A", false, "show muxes in every namespace (the default unless -n is given)")
	flags.StringVar(&g.APIPrefix, "api-prefix", envOr(g.Getenv, EnvAPIPrefix, api.DefaultPrefix),
		"prefix of svcmux's annotation keys and loadBalancerClass (env "+EnvAPIPrefix+")")
	flags.StringVar(&g.DefaultMuxNamespace, "default-mux-namespace", envOr(g.Getenv, EnvDefaultMuxNamespace, DefaultMuxNamespace),
		"namespace of a mux named by a class without .<namespace>, as the agent's flag (env "+EnvDefaultMuxNamespace+")")
	addVerbosityFlag(root)

	root.AddCommand(
		NewCmdTopology(streams, g),
		NewCmdVersion(streams, g),
		NewCmdCompletion(streams),
	)
	for _, add := range extraCommands {
		root.AddCommand(add(streams, g))
	}
	return root
}

// extraCommands lets each subcommand's file register itself, so adding a command
// touches only its own file.
var extraCommands []func(genericiooptions.IOStreams, *Globals) *cobra.Command

// addVerbosityFlag exposes klog's -v and hides the rest of klog's flags.
func addVerbosityFlag(root *cobra.Command) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if v := fs.Lookup("v"); v != nil {
		root.PersistentFlags().AddGoFlag(v)
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// Execute runs the plugin with args and returns the process exit code.
func Execute(streams genericiooptions.IOStreams, args []string) int {
	return ExecuteContext(context.Background(), streams, &Globals{}, args)
}

// ExecuteContext is Execute with a context and globals (tests inject a client).
func ExecuteContext(ctx context.Context, streams genericiooptions.IOStreams, g *Globals, args []string) int {
	root := NewRootCmd(streams, g)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var e *ExitError
		if !asExit(err, &e) || e.Err != nil {
			fmt.Fprintln(streams.ErrOut, "error:", err)
		}
	}
	return exitCode(err)
}
