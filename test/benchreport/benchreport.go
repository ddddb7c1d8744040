// Package benchreport is what every bench report written under
// test/bench/results says about where its numbers come from: the machine
// (CPU model, cores, kernel) and its load, the tree measured (commit, and
// whether it had uncommitted changes), the environment that changes what the
// agent does, and the file the report goes to. test/bench, test/faults and
// test/traffic share it so that their reports describe a run the same way.
package benchreport

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nowakeai/svcmux/test/agentrun"
)

// Machine is the CPU model, its cores, GOMAXPROCS and the kernel:
// "AMD EPYC 7B13, 2 cores (GOMAXPROCS 2), Linux 6.8.0".
func Machine() string {
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), Linux %s", CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), Kernel())
}

// CPUModel is /proc/cpuinfo's first model name.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Kernel is the kernel release.
func Kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// LoadAvg is the 1, 5 and 15 minute load averages: "0.52 0.61 0.70". The
// machine is shared, so a report says what else was running around it.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// Commit is HEAD's short hash, or "unknown" outside a git checkout.
func Commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// Dirty reports whether tracked files have uncommitted changes. When git
// cannot tell, it says they have: a report must not claim a clean tree it
// did not see.
func Dirty() bool {
	out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return err != nil || len(strings.TrimSpace(string(out))) > 0
}

// Tree names the commit measured and whether the work tree had changes:
// "9100339" or "9100339 + uncommitted changes".
func Tree() string {
	commit := Commit()
	if commit == "unknown" {
		return commit
	}
	if Dirty() {
		commit += " + uncommitted changes"
	}
	return commit
}

// Env is the environment that changes what a bench or the agent does, each
// variable quoted as Markdown code: SVCMUX_* (the agent reads SVCMUX_<FLAG>
// for flags not given), GOMAXPROCS, GOFLAGS and CI.
func Env() string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SVCMUX_") || k == "GOMAXPROCS" || k == "GOFLAGS" || k == "CI" {
			out = append(out, "`"+kv+"`")
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// ControlPlane names the control plane binaries' versions from their
// directory, test/.cache/k8s-<version>-etcd-<version>/bin (the
// controlplane package's BinDir): "k8s-v1.37.2-etcd-v3.6.16".
func ControlPlane(binDir string) string { return filepath.Base(filepath.Dir(binDir)) }

// AgentHelp is the agent binary's --help: every flag with its default, so a
// report that names only the flags given also shows the rest in force.
func AgentHelp() string {
	bin, err := agentrun.Binary()
	if err != nil {
		return "(agent not built: " + err.Error() + ")"
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return strings.TrimSpace(string(out))
}

// ResultsPath is where a report of this run goes:
// <module root>/test/bench/results/<UTC date>-<short commit><suffix>. The
// module root is the nearest directory above the working directory (a test's
// package directory) holding go.mod, so every package finds the same
// results directory.
func ResultsPath(suffix string) (string, error) {
	dir, err := ResultsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, time.Now().UTC().Format("2006-01-02")+"-"+Commit()+suffix), nil
}

// ResultsDir is the module root's test/bench/results directory.
func ResultsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			results := filepath.Join(dir, "test", "bench", "results")
			if fi, err := os.Stat(results); err != nil || !fi.IsDir() {
				return "", fmt.Errorf("benchreport: %s is not a directory", results)
			}
			return results, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("benchreport: no go.mod above " + wd)
		}
	}
}
