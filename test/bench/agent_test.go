package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// agentArgs are the flags the bench gives every agent on top of agentrun's
// (--kubeconfig, --leader-elect=false, loopback metrics and probe addresses);
// everything else is the agent's default, listed in the report from its --help.
func agentArgs(ns, level string) []string {
	return []string{"--log-level=" + level, "--default-mux-namespace=" + ns}
}

// startAgent runs the agent for one scenario and returns it with the moment
// its process was launched. Its log goes to $SVCMUX_BENCH_LOGDIR/<scenario>-agent.log
// at debug level when that is set (debug logging costs time: a diagnosis aid,
// not for the numbers), else to a temporary file at info level.
func startAgent(t *testing.T, cp *controlplane.ControlPlane, sc scenario, ns string) (*agentrun.Agent, time.Time) {
	level, logPath := "info", filepath.Join(t.TempDir(), "agent.log")
	if dir := os.Getenv(EnvLogDir); dir != "" {
		level, logPath = "debug", filepath.Join(dir, sc.name+"-agent.log")
	}
	// Built before the clock starts: the first call compiles cmd/agent.
	if _, err := agentrun.Binary(); err != nil {
		t.Fatalf("build agent: %v", err)
	}
	launched := time.Now()
	a, err := agentrun.StartProcess(cp.KubeconfigPath(), logPath, agentArgs(ns, level)...)
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	t.Cleanup(a.Stop)
	if err := a.WaitReady(time.Minute); err != nil {
		t.Fatalf("agent not ready: %v\n%s", err, a.LogTail(40))
	}
	return a, launched
}

// startupTimes are the agent's svcmux_startup_timestamp_seconds: when it sent
// its first LIST and when its caches had synced.
func startupTimes(t *testing.T, a *agentrun.Agent) (list, synced time.Time) {
	at := func(phase string) time.Time {
		v, err := a.Metric("svcmux_startup_timestamp_seconds", "phase="+phase)
		if err != nil || v == 0 {
			t.Fatalf("agent metric svcmux_startup_timestamp_seconds{phase=%q}: %v, err %v", phase, v, err)
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9))
	}
	return at("list"), at("synced")
}

type agentMetrics struct {
	writes    map[string]int
	conflicts int
	events    int
	passes    int
}

func (m agentMetrics) total() int {
	n := m.events
	for _, v := range m.writes {
		n += v
	}
	return n
}

// since is the counters' growth from prev.
func (m agentMetrics) since(prev agentMetrics) agentMetrics {
	d := agentMetrics{writes: map[string]int{}, conflicts: m.conflicts - prev.conflicts,
		events: m.events - prev.events, passes: m.passes - prev.passes}
	for _, k := range writeKinds {
		d.writes[k] = m.writes[k] - prev.writes[k]
	}
	return d
}

func (m agentMetrics) totalWrites() int { return m.total() - m.events }

// String names the counters that are not zero.
func (m agentMetrics) String() string {
	var out []string
	for _, k := range writeKinds {
		if m.writes[k] != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, m.writes[k]))
		}
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"events", m.events}, {"conflicts", m.conflicts}, {"mux passes", m.passes}} {
		if c.n != 0 {
			out = append(out, fmt.Sprintf("%s=%d", c.name, c.n))
		}
	}
	return strings.Join(out, " ")
}

func snapshotMetrics(t *testing.T, a *agentrun.Agent) agentMetrics {
	t.Helper()
	get := func(name string, match ...string) int {
		v, err := a.Metric(name, match...)
		if err != nil {
			t.Fatalf("agent metrics: %v", err)
		}
		return int(v)
	}
	m := agentMetrics{writes: map[string]int{}}
	for _, k := range writeKinds {
		m.writes[k] = get("svcmux_writes_total", "kind="+k)
	}
	m.conflicts = get("svcmux_write_conflicts_total")
	m.events = get("svcmux_events_total")
	m.passes = get("svcmux_passes_total", "kind=mux")
	return m
}

// settled is what waitQuiet read around its last round of pokes: the counters
// and the agent's CPU time before the round (the end of the phase that came
// before) and after it (the start of the next). Only the passes and the CPU
// time differ: no write, Event or conflict is counted across the round.
type settled struct {
	end, next       agentMetrics
	endCPU, nextCPU time.Duration
}

// waitQuiet waits for the positive signal that the agent is done with the
// scenario's muxes, not for a quiet spell. First every mux has its state
// ConfigMap (its first pass wrote). Then in rounds: read the counters, have
// every mux finish a pass that began after that read (world.AwaitPassPokingE:
// poked(m), a live channel of mux m, or the mux itself while it has none), read
// them again. The first round with no write, Event or conflict counted across
// it ends the wait: each mux has looked since every earlier write and found
// nothing to do. The agent makes no write of its own in a poke's pass: only the
// test's pokes change the objects (the idle window asserts as much).
func waitQuiet(t *testing.T, cp *controlplane.ControlPlane, c kubernetes.Interface, a *agentrun.Agent, ns string, muxes int, poked func(m int) string) settled {
	controlplane.Eventually(t, 2*time.Minute, func() (bool, string) {
		list, err := c.CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{
			LabelSelector: api.LabelComponent + "=" + api.ComponentMuxState})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == muxes, fmt.Sprintf("%d of %d state ConfigMaps", len(list.Items), muxes)
	})
	w := world.Open(t.Context(), cp, ns)
	w.Client = c // cp.Client is rate limited: 2 pokes per mux per round
	var s settled
	controlplane.Eventually(t, 2*time.Minute, func() (bool, string) {
		s.end, s.endCPU = snapshotMetrics(t, a), readProc(t, a.Pid()).cpu
		err := parallel(muxes, workers, func(m int) error {
			return w.AwaitPassPokingE(&world.Agent{Agent: a}, muxName(m), poked(m))
		})
		if err != nil {
			return false, err.Error()
		}
		s.next, s.nextCPU = snapshotMetrics(t, a), readProc(t, a.Pid()).cpu
		d := s.next.since(s.end)
		return d.total() == 0 && d.conflicts == 0, fmt.Sprintf("the agent wrote during the last round of passes: %v", d)
	})
	return s
}

// firstOn names the first channel from index from on (the live ones after a
// churn that deleted the first from) that is on mux m.
func firstOn(sc scenario, from, m int) string {
	return channelName(from + ((m-from)%sc.muxes+sc.muxes)%sc.muxes)
}

// --- the agent process ---------------------------------------------------------

// procStats is what the kernel says about the agent process: its peak resident
// set (VmHWM) and the CPU time it has used (utime + stime).
type procStats struct {
	peakRSSKiB int
	cpu        time.Duration
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

func readProc(t *testing.T, pid int) procStats {
	t.Helper()
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("agent process: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			s.peakRSSKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("agent process: %v", err)
	}
	// The command name (field 2) may hold spaces: count fields after its ')'.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.Atoi(fields[11]) // field 14
	stime, _ := strconv.Atoi(fields[12]) // field 15
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return s
}
