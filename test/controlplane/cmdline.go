package controlplane

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// component is one running process of this control plane, found in /proc.
type component struct {
	pid  int
	name string   // the program's base name: etcd, kube-apiserver, ...
	args []string // its arguments, without the program
}

// components are this control plane's running etcd and kube-* processes: every
// one whose command line names the run directory. envtest does not expose its
// processes, so they are read back from /proc; none where /proc is not there.
func (cp *ControlPlane) components() []component {
	var out []component
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), cp.runDir) {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		name := filepath.Base(argv[0])
		if name != "etcd" && !strings.HasPrefix(name, "kube-") {
			continue // a test's own helper that was handed a path in the run directory
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		out = append(out, component{pid: pid, name: name, args: argv[1:]})
	}
	return out
}

// CommandLines are the command lines of this control plane's running components,
// keyed by program name, one flag a line, sorted (envtest builds them from a map:
// a stable order to compare runs by), with this run's directory shown as <run>:
// the flags in force, as a bench report lists them.
func (cp *ControlPlane) CommandLines() map[string]string {
	out := map[string]string{}
	for _, c := range cp.components() {
		args := slices.Clone(c.args)
		sort.Strings(args)
		out[c.name] = strings.ReplaceAll(strings.Join(args, "\n"), cp.runDir, "<run>")
	}
	return out
}
