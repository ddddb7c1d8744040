package bench

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/benchreport"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

type result struct {
	scenario
	floor  time.Duration // bare client: the same minimum writes for as many Services and muxes (floors.all)
	floors floorTimes    // how it was made, and the channel writes alone
	create time.Duration // first channel create sent → last create answered
	// cold: from the agent's process launch, and from its first LIST, until
	// converged; and the two start-up steps in between.
	fromStart, fromList     time.Duration
	startToList, listSynced time.Duration
	fromChange              time.Duration // not cold: last create answered → converged
	conv                    agentMetrics  // counters' growth during convergence
	cpu                     time.Duration // agent CPU time during convergence
	churn                   *churnResult
	idle                    time.Duration
	idleWrites              int // agent writes + Events posted in the idle window
	idleSvcMod              int // Service updates the bench's watch saw in it
	idleCPU                 time.Duration
	peakRSSKiB              int
	loadBefore, loadAfter   string
}

func (r result) minWrites() int { return minWrites(r.channels(), r.muxes) }

// TestConvergence is the benchmark at production size (make bench-e2e): it
// reports, and writes test/bench/results/<date>-<commit>.md and its charts; it
// asserts only that an idle cluster costs no write.
func TestConvergence(t *testing.T) {
	if os.Getenv(EnvBench) != "1" {
		t.Skipf("convergence benchmark: set %s=1 (make bench-e2e)", EnvBench)
	}
	cp := controlplane.Get(t)
	removeAgentBinary(t)
	idle := 60 * time.Second
	if v := os.Getenv(EnvIdle); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvIdle, v, err)
		}
		idle = d
	}
	rep := report{started: time.Now(), loadStart: benchreport.LoadAvg(), tree: benchreport.Tree(),
		controlPlane: benchreport.ControlPlane(cp.BinDir()), idle: idle}
	// The report is named for the start: the date and the commit measured.
	base, err := benchreport.ResultsPath("")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range benchScenarios {
		t.Run(sc.name, func(t *testing.T) {
			rep.results = append(rep.results, runScenario(t, cp, sc, idle))
		})
	}
	if len(rep.results) == 0 {
		return
	}
	rep.planner, rep.plannerErr = runPlannerBench(t)
	rep.agentHelp = benchreport.AgentHelp()
	rep.components = cp.CommandLines()
	rep.loadEnd = benchreport.LoadAvg()
	md, err := rep.write(base)
	if err != nil {
		t.Errorf("writing the report: %v", err)
	}
	fmt.Print("\n" + md)
	for _, r := range rep.results {
		if r.idleWrites != 0 || r.idleSvcMod != 0 {
			t.Errorf("%s: %d agent writes/events and %d Service updates in the %v idle window; want 0",
				r.name, r.idleWrites, r.idleSvcMod, r.idle)
		}
	}
}

// TestEachScenarioKindConvergesWithTheMinimumWritesAndIdlesWithoutWriting runs
// one small case of each kind of the benchmark in `make test`, without
// SVCMUX_BENCH: a cold start converges with exactly the writes it needs, channels
// created while the agent runs get exactly one write each, churn converges,
// and a short idle window that the agent is seen to look at costs nothing.
func TestEachScenarioKindConvergesWithTheMinimumWritesAndIdlesWithoutWriting(t *testing.T) {
	cp := controlplane.Get(t)
	removeAgentBinary(t)
	for _, sc := range smallScenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := runScenario(t, cp, sc, 2*time.Second)
			t.Log("\n" + coldTable([]result{r}) + changeTable([]result{r}))
			// A cold start: per channel one status write carrying its annotation; per mux one
			// patch and two state writes: the create (claims, before the mux is
			// written) and nodeports.json, the NodePorts the API server gave the
			// new mux ports (SPEC §10), known only once the mux patch is answered.
			want := map[string]int{"channel": sc.channels(), "mux": sc.muxes, "state": 2 * sc.muxes, "endpointslice": 0, "endpoints": 0}
			if sc.cold && (!maps.Equal(r.conv.writes, want) || r.conv.conflicts != 0) {
				t.Errorf("cold start: writes %v, %d conflicts; want exactly %v and no conflict", r.conv.writes, r.conv.conflicts, want)
			}
			if !sc.cold && r.conv.writes["channel"] != sc.channels() {
				t.Errorf("channels created while the agent runs: %d channel writes; want exactly %d (one status write carrying the annotation each)",
					r.conv.writes["channel"], sc.channels())
			}
			if c := r.churn; c != nil && c.writes.writes["channel"] != c.created {
				t.Errorf("churn: %d channel writes for %d created channels; want exactly %d",
					c.writes.writes["channel"], c.created, c.created)
			}
			if r.idleWrites != 0 || r.idleSvcMod != 0 {
				t.Errorf("idle: %d agent writes/events and %d Service updates; want 0", r.idleWrites, r.idleSvcMod)
			}
		})
	}
}

// removeAgentBinary: agentrun builds the agent once per process into its own
// temporary directory and leaves it there; remove it once every agent has stopped.
func removeAgentBinary(t *testing.T) {
	t.Cleanup(func() {
		if bin, err := agentrun.Binary(); err == nil && strings.HasPrefix(filepath.Base(filepath.Dir(bin)), "svcmux-agent-bin-") {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	})
}

func runScenario(t *testing.T, cp *controlplane.ControlPlane, sc scenario, idle time.Duration) result {
	ctx := t.Context()
	c := fastClient(t, cp)
	r := result{scenario: sc, idle: idle, loadBefore: loadAvg()}

	// Registered first, so it runs last: after the namespaces' deletion is
	// requested, wait for it, so the next scenario starts on a quiet server.
	var namespaces []string
	t.Cleanup(func() { waitNamespacesGone(t, c, namespaces) })
	ns := cp.Namespace(t)
	floorNS := cp.Namespace(t)
	namespaces = append(namespaces, ns, floorNS)

	// Muxes, each with its cloud address.
	ingress := map[string]string{}
	for m := range sc.muxes {
		mux, err := c.CoreV1().Services(ns).Create(ctx, muxService(ns, muxName(m)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ingress[muxName(m)] = fmt.Sprintf("203.0.%d.%d", 113+m/250, m%250+1)
		cp.SetLoadBalancerIngress(t, mux, ingress[muxName(m)])
	}

	f := measureFloor(t, c, floorNS, sc)
	r.floor, r.floors = f.all, f
	// The floor's objects go before the agent starts: it caches every Service and
	// EndpointSlice of the cluster, and twice as many throwaway ones as channels
	// would count in its memory and its first LIST.
	if err := c.CoreV1().Namespaces().Delete(ctx, floorNS, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the floor's namespace: %v", err)
	}
	deleting := time.Now()
	waitNamespacesGone(t, c, []string{floorNS})
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("floor: its namespace was gone %v after its deletion", ms(time.Since(deleting)))
	t.Logf("floor: %d mux + %d state + %d annotation + %d status writes in %v: together %v (the longest mux write %v), mux first %v + %v; one write per channel %v",
		sc.muxes, sc.muxes, sc.channels(), sc.channels(), ms(f.all), ms(f.together), ms(f.longestMux), ms(f.muxPhase), ms(f.channels), ms(f.ownChannels))

	createChannels := func() {
		first := time.Now()
		if err := parallel(sc.channels(), workers, func(i int) error {
			_, err := c.CoreV1().Services(ns).Create(ctx, channelService(ns, sc, i), metav1.CreateOptions{})
			return err
		}); err != nil {
			t.Fatalf("creating channels: %v", err)
		}
		r.create = time.Since(first)
	}
	var agent *agentrun.Agent
	var w *watcher
	var launched, from time.Time
	before := agentMetrics{writes: map[string]int{}}
	var cpu0 time.Duration
	if sc.cold {
		// Everything exists before the agent starts, and the controller manager
		// is done with the channels: the agent faces all of them at once.
		createChannels()
		waitSlices(t, c, ns, sc.channels())
		w = watchConvergence(t, c, ns, sc, ingress)
		agent, launched = startAgent(t, cp, sc, ns)
	} else {
		agent, _ = startAgent(t, cp, sc, ns)
		// No channel yet: each mux is poked itself (SPEC §5's annotation budget
		// has nothing to re-cut on an empty mux).
		s := waitQuiet(t, cp, c, agent, ns, sc.muxes, muxName)
		before, cpu0 = s.next, s.nextCPU
		w = watchConvergence(t, c, ns, sc, ingress)
		createChannels()
		from = time.Now() // every create has been answered
	}
	doneAt := awaitConverged(t, w, agent)
	if sc.cold {
		list, synced := startupTimes(t, agent)
		r.fromStart, r.fromList = doneAt.Sub(launched), doneAt.Sub(list)
		r.startToList, r.listSynced = list.Sub(launched), synced.Sub(list)
	} else {
		r.fromChange = max(doneAt.Sub(from), 0)
	}
	s := waitQuiet(t, cp, c, agent, ns, sc.muxes, func(m int) string { return firstOn(sc, 0, m) })
	r.conv, r.cpu = s.end.since(before), s.endCPU-cpu0
	converged := fmt.Sprintf("%v from the last create", r.fromChange.Round(time.Millisecond))
	if sc.cold {
		converged = fmt.Sprintf("%v from agent start, %v from its first LIST", r.fromStart.Round(time.Millisecond), r.fromList.Round(time.Millisecond))
	}
	t.Logf("created %d channels in %v; converged %s; %d writes (%v)",
		sc.channels(), r.create.Round(time.Millisecond), converged, r.conv.totalWrites(), r.conv)

	if sc.churnRate > 0 {
		r.churn = runChurn(t, cp, c, ns, sc, w, agent)
	}
	deleted := 0 // the churn deletes the first channels
	if r.churn != nil {
		deleted = r.churn.deleted
	}
	idleWindow(t, cp, ns, w, agent, firstOn(sc, deleted, 0), &r)
	r.peakRSSKiB = readProc(t, agent.Pid()).peakRSSKiB
	r.loadAfter = loadAvg()
	return r
}

// awaitConverged waits for the watcher's current expectation and returns when
// it was met.
func awaitConverged(t *testing.T, w *watcher, agent *agentrun.Agent) time.Time {
	done, at := w.converged()
	select {
	case <-done:
		return at()
	case <-time.After(convergeBy):
		t.Fatalf("not converged within %v: %s\n%s", convergeBy, w.describe(), agent.LogTail(30))
	case <-t.Context().Done():
		t.Fatal("interrupted")
	}
	return time.Time{}
}

// idleWindow: nothing changes for r.idle, so nothing may be written. It ends
// with the positive signal that the agent has looked: a pass of mux-00 that
// began after the window, caused by an annotation on its channel poked
// (world.AwaitPassPoking). Not on the mux itself: its annotations count against
// the size budget of the channels list and topology (SPEC §5), so on a large
// mux a new foreign annotation rightly re-cuts them, one write.
func idleWindow(t *testing.T, cp *controlplane.ControlPlane, ns string, w *watcher, agent *agentrun.Agent, poked string, r *result) {
	before, mod0, cpu0 := snapshotMetrics(t, agent), w.updates.Load(), readProc(t, agent.Pid()).cpu
	time.Sleep(r.idle) // the window measured, not a wait for something
	r.idleSvcMod = int(w.updates.Load() - mod0)
	r.idleCPU = readProc(t, agent.Pid()).cpu - cpu0
	if err := world.Open(t.Context(), cp, ns).AwaitPassPokingE(&world.Agent{Agent: agent}, muxName(0), poked); err != nil {
		t.Fatal(err)
	}
	d := snapshotMetrics(t, agent).since(before)
	r.idleWrites = d.total()
	t.Logf("idle %v: %d agent writes/events, %d Service updates seen (%v)", r.idle, r.idleWrites, r.idleSvcMod, d)
	if r.idleWrites != 0 || r.idleSvcMod != 0 {
		t.Logf("agent log (last lines):\n%s", agent.LogTail(40))
	}
}

// --- the Kubernetes side -------------------------------------------------------

// fastClient is an admin client without client-side rate limiting worth the
// name. The API server's warnings are printed once each: waitSlices lists the
// deprecated v1 Endpoints every 50 ms.
func fastClient(t *testing.T, cp *controlplane.ControlPlane) kubernetes.Interface {
	cfg := cp.Config()
	cfg.QPS, cfg.Burst = 100000, 100000
	cfg.WarningHandler = rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true})
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
