package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/benchreport"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/pluginrun"
)

// EnvPluginSize overrides the plugin benchmark's muxes x channels per mux ("30x100").
const EnvPluginSize = "SVCMUX_BENCH_PLUGIN_SIZE"

// pluginRuns is how many times each command is timed; the median is reported.
const pluginRuns = 7

// TestPluginReadsAgainstKubectlGet times `kubectl svcmux topology -A -o json` and
// `doctor` over a converged cluster of 3,000 channels on 30 muxes, beside the
// yardstick measured in the same run: `kubectl get svc,endpointslices,cm -A -o json`
// (the same objects the plugin lists, printed by kubectl).
func TestPluginReadsAgainstKubectlGet(t *testing.T) {
	if os.Getenv(EnvBench) != "1" {
		t.Skipf("plugin benchmark: set %s=1 (make bench-e2e)", EnvBench)
	}
	sc := scenario{name: "plugin-30x100", muxes: 30, perMux: 100, cold: true}
	if v := os.Getenv(EnvPluginSize); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &sc.muxes, &sc.perMux); err != nil {
			t.Fatalf("%s=%q: want MUXESxPERMUX", EnvPluginSize, v)
		}
		sc.name = "plugin-" + v
	}
	cp := controlplane.Get(t)
	c := fastClient(t, cp)
	// Registered before the namespace, so it runs after the namespace's own
	// cleanup has asked for its deletion (cleanups run last registered first).
	var namespaces []string
	t.Cleanup(func() { waitNamespacesGone(t, c, namespaces) })
	ns := cp.Namespace(t)
	namespaces = append(namespaces, ns)
	for m := range sc.muxes {
		if _, err := c.CoreV1().Services(ns).Create(t.Context(), muxService(ns, fmt.Sprintf("mux-%02d", m)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := parallel(sc.channels(), workers, func(i int) error {
		_, err := c.CoreV1().Services(ns).Create(t.Context(), channelService(ns, sc, i), metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitSlices(t, c, ns, sc.channels())
	agent, _ := startAgent(t, cp, sc, ns)
	waitQuiet(t, cp, c, agent, ns, sc.muxes, func(m int) string { return firstOn(sc, 0, m) })

	bin, err := pluginrun.Binary()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := "--kubeconfig=" + cp.KubeconfigPath()
	commands := []struct {
		name string
		argv []string
	}{
		{"kubectl get svc,endpointslices,cm -A -o json", []string{cp.Binary("kubectl"), kubeconfig, "get", "svc,endpointslices,cm", "-A", "-o", "json"}},
		{"kubectl svcmux topology -A -o json", []string{bin, kubeconfig, "topology", "-A", "-o", "json"}},
		{"kubectl svcmux topology -A", []string{bin, kubeconfig, "topology", "-A"}},
		{"kubectl svcmux doctor", []string{bin, kubeconfig, "doctor"}},
		{"kubectl svcmux claims -A", []string{bin, kubeconfig, "claims", "-A"}},
	}
	var rows []benchRow
	for _, cmd := range commands {
		if strings.HasSuffix(cmd.name, "doctor") && !pluginHas(bin, "doctor") {
			continue
		}
		rows = append(rows, timeCommand(t, cmd.name, cmd.argv))
	}
	report := formatPluginReport(sc, rows)
	fmt.Print("\n" + report)
	path, err := benchreport.ResultsPath("-plugin.md")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		t.Errorf("write %s: %v", path, err)
	}
}

type benchRow struct {
	name   string
	median time.Duration
	min    time.Duration
	bytes  int
}

// timeCommand runs argv pluginRuns times (exit 0 or 1: a finding is not a failure).
func timeCommand(t *testing.T, name string, argv []string) benchRow {
	var times []time.Duration
	var size int
	for range pluginRuns {
		var out bytes.Buffer
		cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		times = append(times, time.Since(start))
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 1) {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
		size = out.Len()
	}
	slices.Sort(times)
	return benchRow{name: name, median: times[len(times)/2], min: times[0], bytes: size}
}

func pluginHas(bin, command string) bool {
	out, _ := exec.Command(bin, "--help").Output()
	return strings.Contains(string(out), "\n  "+command+" ")
}

func formatPluginReport(sc scenario, rows []benchRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# kubectl svcmux read benchmark (test/bench TestPluginReadsAgainstKubectlGet; make bench-e2e)\n\n")
	fmt.Fprintf(&b, "- run %s, %d CPUs, %s, tree %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), benchreport.Tree())
	fmt.Fprintf(&b, "- cluster: %d channels on %d muxes, converged by the real agent; plugin built by `go build` (no ldflags)\n", sc.channels(), sc.muxes)
	fmt.Fprintf(&b, "- each command run %d times, median and fastest wall time of the whole process; yardstick: the first row\n\n", pluginRuns)
	tab := newTable("command", "median", "fastest", "output bytes", "median / yardstick")
	for _, r := range rows {
		tab.row("`"+r.name+"`", secs(r.median), secs(r.min), r.bytes, fmt.Sprintf("%.2fx", r.median.Seconds()/rows[0].median.Seconds()))
	}
	b.WriteString(tab.String())
	b.WriteString("\nAim (issue 15): topology ≤ 1.5× the yardstick and ≤ 1 s.\n")
	return b.String()
}
