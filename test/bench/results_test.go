package bench

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// formatResults is the table written to stdout and test/bench/results/<date>-<commit>-convergence.md.
func formatResults(results []result, idle time.Duration, started time.Time, tree, controlPlane string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "svcmux convergence benchmark (test/bench; make bench-e2e)\n")
	fmt.Fprintf(&b, "run %s, %d CPUs (GOMAXPROCS %d), %s, control plane %s, idle window %v\n",
		started.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(),
		controlPlane, idle)
	fmt.Fprintf(&b, "tree: %s\n", tree)
	fmt.Fprintf(&b, "agent: real binary, --workers 4 --channel-write-concurrency 32 (defaults); floor and channel creation: %d client workers\n\n", workers)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCHANNELS\tMUXES\tAGENT QPS/BURST\tCREATE\tCONVERGE\tFROM\tFLOOR\tRATIO\tWRITES\tMIN\tBY KIND ch/mux/state/slice\tCONFLICTS\tEVENTS\tPASSES\tIDLE WRITES\tLOAD 1m")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%.2fx\t%d\t%d\t%d/%d/%d/%d\t%d\t%d\t%d\t%d\t%s -> %s\n",
			r.name, r.channels(), r.muxes, r.limits(), secs(r.create), secs(r.converge), r.from(), secs(r.floor),
			r.converge.Seconds()/r.floor.Seconds(), r.totalWrites(), r.minWrites(),
			r.writes["channel"], r.writes["mux"], r.writes["state"], r.writes["endpointslice"]+r.writes["endpoints"],
			r.conflicts, r.events, r.passes, r.idleWrites+r.idleSvcMod, r.loadBefore, r.loadAfter)
	}
	_ = tw.Flush()
	b.WriteString(`
CREATE       time to create the channels (16 workers), first request to last answer.
CONVERGE     from FROM until every channel has its ports annotation, Accepted=True and its mux's
             address, and every mux has all its spec.ports (seen by the benchmark's own watch).
             "last create": the agent runs while the channels are created, and the time is from the
             last create answered. "agent start" (-cold): the channels and their EndpointSlices exist
             first; the time is from launching the agent process (it lists, syncs, then converges).
FLOOR        a bare client (16 workers, no client rate limit) making the same minimum writes for as many
             throwaway Services of the same shape, in the agent's order and patch types: every ports
             annotation (merge patch), then every status (strategic merge patch: ingress + Accepted
             condition). Same shapes under another key prefix, so the agent leaves them alone.
RATIO        CONVERGE / FLOOR; the aim is <= 2x.
WRITES       the agent's svcmux_writes_total during convergence (Events not included); MIN = 2 per
             channel + 2 per mux (one mux patch, one state ConfigMap write).
CONFLICTS    svcmux_write_conflicts_total (each one fails a pass, which is retried).
EVENTS       svcmux_events_total (Events posted); PASSES: mux passes (svcmux_passes_total{kind="mux"}).
IDLE WRITES  agent writes + Events posted + Service updates seen by a watch in the idle window; must be 0.
LOAD 1m      1-minute load average before -> after the scenario (the machine is shared).
`)
	return b.String()
}

// gitTree names the commit the agent was built from, and whether the work tree
// had changes.
func gitTree() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	tree := strings.TrimSpace(string(head))
	if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
		tree += " + uncommitted changes"
	}
	return tree
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
