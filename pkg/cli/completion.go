package cli

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// binaryName is the plugin's executable, the command a completion script completes.
const binaryName = "kubectl-svcmux"

// NewCmdCompletion builds `kubectl svcmux completion bash|zsh|fish|powershell`.
// kubectl itself completes `kubectl svcmux <TAB>` through the kubectl_complete-svcmux
// script shipped beside the binary, which calls the hidden __complete command.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script for " + binaryName,
		Long: `Print a shell completion script for the ` + binaryName + ` command. kubectl 1.26 and later
complete "kubectl svcmux <TAB>" themselves when kubectl_complete-svcmux (shipped beside
the binary) is on PATH.`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			// cobra names the program by Use's first word: "kubectl" (Use reads "kubectl
			// svcmux" for help) would make the script take over kubectl's own completion.
			use := root.Use
			root.Use = binaryName
			defer func() { root.Use = use }()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(streams.Out, true)
			case "zsh":
				return root.GenZshCompletion(streams.Out)
			case "fish":
				return root.GenFishCompletion(streams.Out, true)
			}
			return root.GenPowerShellCompletionWithDesc(streams.Out)
		},
	}
	return cmd
}

// completeMuxes completes a MUX argument with the names of the muxes in scope.
func completeMuxes(g *Globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cl, err := g.loadCluster(cmd.Context(), g.namespaceScope(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, m := range cl.Muxes {
			out = append(out, m.Mux.Name, m.key())
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
