// Package pluginrun runs the real kubectl plugin binary (cmd/kubectl-svcmux)
// against a test control plane, out of process, as a user runs
// `kubectl svcmux …`: built once per test process, given --kubeconfig, and
// observed only through its stdout, stderr and exit code (SPEC §8: 0 clean,
// 1 found something, 2 could not run).
package pluginrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nowakeai/svcmux/test/gobin"
)

// Timeout bounds one run: every command is one List per kind, so a run that
// takes longer is hung.
const Timeout = 60 * time.Second

// Binary builds cmd/kubectl-svcmux once per process and returns its path.
func Binary() (string, error) { return gobin.Build("./cmd/kubectl-svcmux") }

// Result is what one run printed and how it exited.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
}

func (r Result) String() string {
	return fmt.Sprintf("kubectl svcmux %s: exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s",
		strings.Join(r.Args, " "), r.ExitCode, r.Stdout, r.Stderr)
}

// Run runs the plugin with --kubeconfig=kubeconfig and args, stdin as its
// standard input (none when nil). A non-zero exit is not an error (it is in
// Result.ExitCode); err is for a run that could not happen (build failed,
// binary would not start, Timeout passed).
//
// The environment is the test process's without KUBECONFIG and SVCMUX_*, so
// an operator's shell never points a test at another cluster or prefix, and
// with KUBECACHEDIR in the build directory (cli-runtime's discovery cache
// stays out of $HOME).
func Run(ctx context.Context, kubeconfig string, stdin []byte, args ...string) (Result, error) {
	res := Result{Args: args}
	bin, err := Binary()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Env = env(filepath.Join(filepath.Dir(bin), "kubecache"))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("kubectl svcmux %s: %w\n%s", strings.Join(args, " "), ctx.Err(), res)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("run kubectl svcmux %s: %w", strings.Join(args, " "), err)
	}
	return res, nil
}

func env(cacheDir string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "SVCMUX_") || strings.HasPrefix(kv, "KUBECACHEDIR=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "KUBECACHEDIR="+cacheDir)
}

// MustRun is Run for tests: it fails the test when the run could not happen
// and returns the Result whatever the exit code (assert on it).
func MustRun(t testing.TB, kubeconfig string, stdin []byte, args ...string) Result {
	t.Helper()
	res, err := Run(t.Context(), kubeconfig, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
