package bench

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nowakeai/svcmux/test/benchreport"
)

// report is what TestConvergence writes to test/bench/results/<date>-<commit>.md,
// with its charts beside it.
type report struct {
	started            time.Time
	loadStart, loadEnd string
	tree, controlPlane string
	idle               time.Duration
	results            []result
	planner            []plannerPoint
	plannerErr         error
	agentHelp          string
	components         map[string]string // the control plane's command lines
}

// write draws the charts to base-*.png and the report to base.md, and returns
// the report. A chart that cannot be drawn is named in the report.
func (rep report) write(base string) (string, error) {
	var charts []string
	for _, c := range []struct {
		suffix, title string
		draw          func(string) error
	}{
		{"-convergence.png", "Cold-start convergence vs the write floor", func(p string) error { return convergenceChart(rep.results, p) }},
		{"-planner.png", "Planner time vs channel count", func(p string) error { return plannerChart(rep.planner, p) }},
		{"-writes.png", "Writes per scenario vs the minimum", func(p string) error { return writesChart(rep.results, p) }},
	} {
		if err := c.draw(base + c.suffix); err != nil {
			charts = append(charts, fmt.Sprintf("- %s: not drawn (%v)", c.title, err))
			continue
		}
		charts = append(charts, fmt.Sprintf("![%s](%s)", c.title, filepath.Base(base+c.suffix)))
	}
	md := rep.markdown(charts)
	return md, os.WriteFile(base+".md", []byte(md), 0o644)
}

// componentFlags lists each control-plane component's flags as it ran.
func componentFlags(components map[string]string) string {
	if len(components) == 0 {
		return "- control plane: its command lines could not be read\n\n"
	}
	var b strings.Builder
	b.WriteString("- control plane: each component with the flags it ran with (one a line, sorted, the run directory as `<run>`):\n\n")
	for _, name := range slices.Sorted(maps.Keys(components)) {
		fmt.Fprintf(&b, "<details><summary>%s</summary>\n\n```\n%s\n```\n</details>\n\n", name, components[name])
	}
	return b.String()
}

func (rep report) markdown(charts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# svcmux convergence at production size, %s\n\n", rep.started.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Written by `make bench-e2e` (test/bench `TestConvergence`) on the real control plane " +
		"(etcd, kube-apiserver, kube-controller-manager) with the real agent binary. The figures are reported, " +
		"not asserted; the only assertion is 0 writes when idle.\n\n")
	b.WriteString("## Machine and flags\n\n")
	fmt.Fprintf(&b, "- CPU: %s\n", benchreport.Machine())
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) at start: %s; at end: %s. The machine is shared: other work may have been running.\n",
		rep.loadStart, rep.loadEnd)
	fmt.Fprintf(&b, "- %s; control plane %s; tree %s\n", runtime.Version(), rep.controlPlane, rep.tree)
	fmt.Fprintf(&b, "- bench: %d client workers create the channels and make the floor's writes; idle window %v; environment: %s\n",
		workers, rep.idle, benchreport.Env())
	fmt.Fprintf(&b, "- agent: `%s` (agentrun adds `--kubeconfig`, `--leader-elect=false` and loopback metrics and probe addresses); "+
		"every other flag at its default, as its `--help` prints them:\n\n", strings.Join(agentArgs("<scenario namespace>", "info"), " "))
	fmt.Fprintf(&b, "<details><summary>svcmux-agent --help</summary>\n\n```\n%s\n```\n</details>\n\n", rep.agentHelp)
	b.WriteString(componentFlags(rep.components))
	b.WriteString("## Goals (issue 17)\n\n" + goalsTable(rep.results) + "\n")
	b.WriteString("## Cold start: every channel exists, then the agent starts\n\n" + coldTable(rep.results) + "\n")
	b.WriteString("## Changes while the agent runs, from the last change\n\n" + changeTable(rep.results) + "\n")
	b.WriteString("## The agent process and the idle window\n\n" + processTable(rep.results) + "\n")
	b.WriteString("## Planner\n\n" + plannerTable(rep.planner, rep.plannerErr) + "\n")
	b.WriteString("## Charts\n\n" + strings.Join(charts, "\n\n") + "\n\n")
	b.WriteString(definitions)
	return b.String()
}

const definitions = `## Definitions

- **floor**: SPEC §9's write floor: the faster of two runs of a bare client (16 workers, no client rate
  limit) making, for as many fresh throwaway Services and muxes of the same shapes, two writes per channel,
  with the agent's patch types: per mux one merge patch of spec.ports (its channels' ports; the API server allocates
  their NodePorts, as for the agent's mux) and its channels annotation, and one create of its state ConfigMap
  (pkg/state's encoding of the claims); per channel its ports annotation (merge patch) and its status
  (strategic merge patch: ingress + Accepted condition). **together**: every write sharing the workers, the mux
  writes first in line; **its longest mux write**: the slowest single mux patch of that run. **mux first**:
  the mux and state writes alone, then the channel writes; **channel writes alone** is that second phase, the
  floor of reports written before the mux and state writes were timed in it. **one write per channel**: the
  channel phase again on a third set of Services, as the agent now sends it: one strategic merge patch of the
  status subresource carrying the ports annotation too; **own requests** = the mux phase + that, the agent's
  own requests at a bare client's pace (reported beside the floor, not instead of it). A mux patch of many new ports
  allocates their NodePorts one after another and takes several times as long beside other writes as alone,
  so which order is faster depends on the scenario. Each run is on its own fresh objects (a first write to a
  Service costs more than a later one), measured in the same scenario just before the agent's run, under
  another key prefix so the agent leaves them alone.
- **converged**: every expected channel has its ports annotation, Accepted=True and its mux's address, and
  every mux serves exactly its channels' ports, as the bench's own watch sees them.
- **from start**: from launching the agent process; **from first LIST**: from the agent's
  ` + "`svcmux_startup_timestamp_seconds{phase=\"list\"}`" + ` (its informers start); **LIST→synced**: until
  its caches had synced (phase=synced). No pass, hence no write, happens before that.
- **writes**: the agent's ` + "`svcmux_writes_total`" + ` during the phase (Events not included), by kind
  channel/mux/state/endpointslice+endpoints. **min**: 1 per channel (its status write, carrying the ports annotation) + 2 per mux (one
  spec.ports/annotations patch, one state ConfigMap write); the channels have no pods, so no mux endpoints
  change. The agent makes one more state write per new mux: nodeports.json, the NodePorts the API server
  gave the new mux ports (SPEC §10), known only once the mux patch is answered, written by the next pass. For churn, min is 1 per created channel + 2 per mux: a lower bound (all of a mux's changes in one
  pass) that changes spread over the window cannot reach.
- **events**: ` + "`svcmux_events_total`" + ` (Events posted); **passes**: mux passes.
- **peak RSS**: VmHWM of the agent process at the end of the scenario; **CPU**: its utime+stime during the phase.
- **idle**: agent writes + Events + Service updates seen by the bench's watch while nothing changes, checked
  after a pass of a mux that began after the window (the agent looked).
`

func goalsTable(results []result) string {
	tab := newTable("goal", "scenario", "measured", "met")
	row := func(goal, name, measured string, ok bool) {
		met := "yes"
		if !ok {
			met = "**no**"
		}
		tab.row(goal, name, measured, met)
	}
	for _, r := range results {
		if r.cold {
			x := r.fromList.Seconds() / r.floor.Seconds()
			row("cold convergence ≤ 1.25× floor, from the first LIST", r.name, fmt.Sprintf("%s / %s = %.2f×", secs(r.fromList), secs(r.floor), x), x <= 1.25)
			x = r.fromStart.Seconds() / r.floor.Seconds()
			row("cold convergence ≤ 1.25× floor, from process start", r.name, fmt.Sprintf("%s / %s = %.2f×", secs(r.fromStart), secs(r.floor), x), x <= 1.25)
			x = r.fromList.Seconds() / r.floors.ownRequests.Seconds()
			row("the same against the agent's own requests at a bare client's pace (mux first, one write per channel)", r.name,
				fmt.Sprintf("%s / %s = %.2f×", secs(r.fromList), secs(r.floors.ownRequests), x), x <= 1.25)
		}
	}
	for _, r := range results {
		x := float64(r.conv.totalWrites()) / float64(r.minWrites())
		row("writes ≤ 1.02× the minimum", r.name, fmt.Sprintf("%d / %d = %.3f×", r.conv.totalWrites(), r.minWrites(), x), x <= 1.02)
		if c := r.churn; c != nil {
			x := float64(c.writes.totalWrites()) / float64(c.minWrites(r.muxes))
			row("writes ≤ 1.02× the minimum (churn: lower bound)", r.name+" churn",
				fmt.Sprintf("%d / %d = %.3f×", c.writes.totalWrites(), c.minWrites(r.muxes), x), x <= 1.02)
		}
	}
	for _, r := range results {
		if r.channels() >= 5000 {
			row("agent peak RSS at 5,000 channels ≤ 150 MB", r.name, mib(r.peakRSSKiB), r.peakRSSKiB*1024 <= 150e6)
		}
	}
	for _, r := range results {
		row(fmt.Sprintf("idle %v: 0 writes", r.idle), r.name, fmt.Sprintf("%d", r.idleWrites+r.idleSvcMod), r.idleWrites+r.idleSvcMod == 0)
	}
	return tab.String()
}

func coldTable(results []result) string {
	tab := newTable(append([]string{"scenario", "channels:", "muxes:", "floor:", "together:", "its longest mux write:", "mux first:", "channel writes alone:", "one write per channel:", "from start:", "×floor:",
		"from first LIST:", "×floor:", "×own requests:", "start→LIST:", "LIST→synced:"}, writeColumns...)...)
	for _, r := range results {
		if !r.cold {
			continue
		}
		tab.row(r.name, r.channels(), r.muxes, secs(r.floor), secs(r.floors.together), secs(r.floors.longestMux),
			secs(r.floors.muxFirst), secs(r.floors.channels), secs(r.floors.ownChannels), secs(r.fromStart),
			times(r.fromStart.Seconds()/r.floor.Seconds()), secs(r.fromList), times(r.fromList.Seconds()/r.floor.Seconds()),
			times(r.fromList.Seconds()/r.floors.ownRequests.Seconds()), secs(r.startToList), secs(r.listSynced),
			writeCols(r.conv, r.minWrites()), secs(r.cpu))
	}
	return tab.String()
}

// writeColumns are the columns of writeCols, and the CPU time after them.
var writeColumns = []string{"writes:", "min:", "×min:", "ch/mux/state/slice", "conflicts:", "events:", "passes:", "CPU:"}

// times is a ratio as the tables print it: 1.25×.
func times(x float64) string { return fmt.Sprintf("%.2f×", x) }

// writeCols is writes | min | ×min | by kind | conflicts | events | passes.
func writeCols(m agentMetrics, least int) string {
	return fmt.Sprintf("%d | %d | %.3f× | %d/%d/%d/%d | %d | %d | %d", m.totalWrites(), least,
		float64(m.totalWrites())/float64(least), m.writes["channel"], m.writes["mux"], m.writes["state"],
		m.writes["endpointslice"]+m.writes["endpoints"], m.conflicts, m.events, m.passes)
}

func changeTable(results []result) string {
	tab := newTable(append([]string{"scenario", "channels:", "muxes:", "change", "took:", "from last change:"}, writeColumns...)...)
	for _, r := range results {
		if !r.cold {
			tab.row(r.name, r.channels(), r.muxes, fmt.Sprintf("%d created while it runs (%d workers)", r.channels(), workers),
				secs(r.create), secs(r.fromChange), writeCols(r.conv, r.minWrites()), secs(r.cpu))
		}
		if c := r.churn; c != nil {
			tab.row(r.name, r.channels(), r.muxes,
				fmt.Sprintf("%s: %d created, %d deleted (%.1f/s achieved)", churnLabel(r.scenario), c.created, c.deleted, c.rate()),
				secs(c.took), secs(c.fromChange), writeCols(c.writes, c.minWrites(r.muxes)), secs(c.cpu))
		}
	}
	return tab.String()
}

func processTable(results []result) string {
	tab := newTable("scenario", "channels:", "peak RSS:", "CPU converging:", "idle window:", "idle writes + Events:",
		"idle Service updates:", "idle CPU:", "load 1m before → after")
	for _, r := range results {
		tab.row(r.name, r.channels(), mib(r.peakRSSKiB), secs(r.cpu), r.idle, r.idleWrites, r.idleSvcMod, secs(r.idleCPU),
			r.loadBefore+" → "+r.loadAfter)
	}
	return tab.String()
}

func plannerTable(points []plannerPoint, err error) string {
	if err != nil {
		return fmt.Sprintf("Not measured: %v\n", err)
	}
	var b strings.Builder
	b.WriteString("`go test -bench ^BenchmarkCompute$ -benchmem ./pkg/plan`, run by the bench after the scenarios: one plan " +
		"of a mux whose channels have 2 ports each (http static, grpc auto). Python: the Python controller's " +
		"published planning time, an external reference measured on this machine class, not re-run.\n\n")
	tab := newTable("channels:", "cold plan:", "steady plan:", "cold allocs:", "Python (published):", "Python / svcmux cold:")
	sizes := map[int]bool{}
	for _, p := range points {
		sizes[p.channels] = true
	}
	for _, ref := range pythonPlanning {
		sizes[ref.channels] = true
	}
	for _, n := range slices.Sorted(maps.Keys(sizes)) {
		var cold, steady *plannerPoint
		for i := range points {
			if points[i].channels == n && points[i].mode == "cold" {
				cold = &points[i]
			} else if points[i].channels == n {
				steady = &points[i]
			}
		}
		py, ratio := "", ""
		for _, ref := range pythonPlanning {
			if ref.channels == n {
				py = fmt.Sprintf("%.0f ms", ref.ms)
				if cold != nil {
					ratio = fmt.Sprintf("%.0f×", ref.ms/cold.ms())
				}
			}
		}
		tab.row(n, msOf(cold), msOf(steady), allocsOf(cold), py, ratio)
	}
	return b.String() + tab.String()
}

func msOf(p *plannerPoint) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%.1f ms", p.ms())
}

func allocsOf(p *plannerPoint) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%.0f", p.allocsPerOp)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func mib(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
