package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The demo's report is the plugin's own view of the cluster: the real
// kubectl-svcmux binary (built by `make demo` into the state directory's bin/,
// version-stamped), run with the demo's kubeconfig, so what the report shows is
// what an operator would see.

// pluginResult is one run of the plugin.
type pluginResult struct {
	Out, ErrOut string
	Code        int
}

// runPlugin runs `kubectl-svcmux --kubeconfig <demo> args…`. Exit codes 0 (clean)
// and 1 (found something, e.g. a rejected channel) are results; 2 or a failure to
// start is an error.
func (d *demo) runPlugin(ctx context.Context, args ...string) (pluginResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.plugin, append([]string{"--kubeconfig", d.path(kubeconfigFile)}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := pluginResult{Out: out.String(), ErrOut: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		r.Code = 1
	case err != nil:
		return r, fmt.Errorf("kubectl-svcmux %s: %w\n%s", strings.Join(args, " "), err, r.ErrOut)
	}
	return r, nil
}

// pluginCommands are the subcommands the built plugin's --help lists, so the
// hints only suggest commands this build has.
func (d *demo) pluginCommands(ctx context.Context) (map[string]bool, error) {
	r, err := d.runPlugin(ctx, "--help")
	if err != nil {
		return nil, err
	}
	cmds := map[string]bool{}
	listing := false
	sc := bufio.NewScanner(strings.NewReader(r.Out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Available Commands:":
			listing = true
		case listing && strings.TrimSpace(line) == "":
			listing = false
		case listing:
			cmds[strings.Fields(line)[0]] = true
		}
	}
	return cmds, nil
}

// writeTopology prints `kubectl svcmux topology -o wide` as the report's body.
func (d *demo) writeTopology(ctx context.Context, w io.Writer) error {
	r, err := d.runPlugin(ctx, "topology", "-o", "wide")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "svcmux demo: %s\n\n", strings.Join(d.timings, ", "))
	fmt.Fprintln(w, "kubectl svcmux topology -o wide:")
	fmt.Fprintln(w, indent(strings.TrimRight(r.Out, "\n"), "  "))
	fmt.Fprintln(w)
	return nil
}

// writeHints ends the report with what to run next against the demo cluster,
// spelled as it works from the repository root; a command this build of the
// plugin does not have is not suggested.
func (d *demo) writeHints(ctx context.Context, w io.Writer) error {
	cmds, err := d.pluginCommands(ctx)
	if err != nil {
		return err
	}
	plugin := fmt.Sprintf("%s --kubeconfig %s", fromRoot(d.plugin), fromRoot(d.path(kubeconfigFile)))
	fmt.Fprintf(w, "\nNext, the plugin on this cluster (from the repository root):\n")
	for _, h := range []struct{ cmd, args, why string }{
		{"doctor", "doctor", "every check; finds " + rejected.name + "'s conflict and says how to fix it"},
		{"claims", "claims", "persisted port claims beside the live mux ports"},
		{"who-has", fmt.Sprintf("who-has %d", autoPort()), "which channel owns a public port"},
		{"check", "check -f examples/", "what the agent would do with the example manifests, before applying them"},
		{"topology", "topology -o json", "the same topology as a versioned document"},
	} {
		if cmds[h.cmd] {
			fmt.Fprintf(w, "  %s %-20s # %s\n", plugin, h.args, h.why)
		}
	}
	kubectl := fromRoot(d.cp.Binary("kubectl"))
	fmt.Fprintf(w, "As `kubectl svcmux` (kubectl runs kubectl-svcmux from PATH; kubectl_complete-svcmux beside it completes `kubectl svcmux <TAB>`):\n")
	fmt.Fprintf(w, "  export KUBECONFIG=%s PATH=%s:$PATH\n", d.path(kubeconfigFile), filepath.Dir(d.plugin))
	fmt.Fprintf(w, "  %s svcmux topology\n", kubectl)
	fmt.Fprintf(w, "  %s get svc -A\n", kubectl)
	fmt.Fprintf(w, "  %s describe svc -n %s %s\n", kubectl, channelNamespace, rejected.name)
	fmt.Fprintf(w, "  %s get events -n %s\n", kubectl, channelNamespace)
	fmt.Fprintf(w, "Logs: %s (agent), %s/ (etcd, kube-apiserver, kube-controller-manager), %s\n",
		d.path(agentLogFile), d.path(cpLogsLink), d.path("demo.log"))
	return nil
}

// fromRoot is path relative to the working directory (the repository root under
// make) when it lies below it, else path.
func fromRoot(path string) string {
	wd, err := filepath.Abs(".")
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
