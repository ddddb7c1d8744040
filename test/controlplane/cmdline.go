package controlplane

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CommandLines are the command lines of this control plane's running components
// (etcd, kube-apiserver, kube-controller-manager), keyed by program name, with
// this run's directory shown as <run>: the flags in force, as a bench report
// lists them. envtest chooses most of them and does not expose its processes, so
// they are read back from /proc: every process whose command line names the run
// directory. Empty where /proc is not there.
func (cp *ControlPlane) CommandLines() map[string]string {
	out := map[string]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(cp.runDir)) {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		name := filepath.Base(argv[0])
		if name != "etcd" && !strings.HasPrefix(name, "kube-") {
			continue // a test's own helper that was handed a path in the run directory
		}
		args := argv[1:]
		sort.Strings(args)                                                           // envtest builds them from a map: a stable order to compare runs by
		out[name] = strings.ReplaceAll(strings.Join(args, "\n"), cp.runDir, "<run>") // one flag a line
	}
	return out
}
