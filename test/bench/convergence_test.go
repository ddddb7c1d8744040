package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// scenario is one measurement: muxes × perMux one-port channels, and the agent's
// client rate limits (0: the agent's defaults, 200/400).
type scenario struct {
	name   string
	muxes  int
	perMux int
	qps    int
	burst  int
	// cold: the channels exist before the agent starts (an agent restart, or
	// installing svcmux on a cluster full of channels), and convergence is timed
	// from its start. Otherwise the agent runs first and the channels are
	// created as fast as the API server takes them, timed from the last create.
	cold bool
}

// from is what CONVERGE is measured from.
func (s scenario) from() string {
	if s.cold {
		return "agent start"
	}
	return "last create"
}

func (s scenario) channels() int { return s.muxes * s.perMux }

func (s scenario) limits() string {
	if s.qps == 0 {
		return "200/400 (default)"
	}
	return fmt.Sprintf("%d/%d", s.qps, s.burst)
}

// The three sizes, channels created while the agent runs; then the two
// large ones with the channels already there when the agent starts (all work at
// once: where the client rate limits could matter), at the agent's default
// limits and at 5x.
var scenarios = []scenario{
	{name: "a-100x1", muxes: 1, perMux: 100},
	{name: "b-1000x1", muxes: 1, perMux: 1000},
	{name: "c-2000x20", muxes: 20, perMux: 100},
	{name: "a-100x1-cold", muxes: 1, perMux: 100, cold: true},
	{name: "b-1000x1-cold", muxes: 1, perMux: 1000, cold: true},
	{name: "b-1000x1-cold-qps1000", muxes: 1, perMux: 1000, qps: 1000, burst: 2000, cold: true},
	{name: "c-2000x20-cold", muxes: 20, perMux: 100, cold: true},
	{name: "c-2000x20-cold-qps1000", muxes: 20, perMux: 100, qps: 1000, burst: 2000, cold: true},
}

const (
	// workers is the client concurrency of the floor and of creating channels.
	workers = 16
	// basePort is the first channel port; channel i of a mux uses basePort+i
	// (default mapping: the mux public port is the same).
	basePort   = 10000
	portName   = "p"
	floorClass = "bench.invalid/floor" // not svcmux's prefix: the agent ignores these
	benchField = "svcmux-bench"
	convergeBy = 15 * time.Minute
)

var keys = api.NewKeys(api.DefaultPrefix)

// floorKeys name the floor's annotation and condition: the same shapes under
// another prefix. With svcmux's own keys the agent would (rightly) take the
// throwaway Services for former channels and strip them.
var floorKeys = api.NewKeys("floor.svc-mux.invalid")

// writeKinds are the values of svcmux_writes_total's kind label.
var writeKinds = []string{"channel", "mux", "state", "endpointslice", "endpoints"}

type result struct {
	scenario
	floor      time.Duration // bare client: the same minimum writes for as many Services
	create     time.Duration // first channel create sent → last create answered
	converge   time.Duration // last create answered → everything converged
	writes     map[string]int
	conflicts  int
	events     int
	passes     int
	idle       time.Duration
	idleWrites int // agent writes + events posted in the idle window
	idleSvcMod int // Service updates our own watch saw in the idle window
	loadBefore string
	loadAfter  string
}

func (r result) totalWrites() int {
	n := 0
	for _, v := range r.writes {
		n += v
	}
	return n
}

// minWrites is what convergence cannot do with less: per channel the ports
// annotation and the status; per mux one patch of spec.ports and annotations and
// one write of the state ConfigMap (a patch when the agent has already seen the
// mux empty, the create on a cold start).
func (r result) minWrites() int { return 2*r.channels() + 2*r.muxes }

func TestConvergence(t *testing.T) {
	if os.Getenv(EnvBench) != "1" {
		t.Skipf("convergence benchmark: set %s=1 (make bench-e2e)", EnvBench)
	}
	cp := controlplane.Get(t)
	// agentrun builds the agent once per process into its own temporary
	// directory and leaves it there; remove it once every agent has stopped.
	t.Cleanup(func() {
		if bin, err := agentrun.Binary(); err == nil && strings.HasPrefix(filepath.Base(filepath.Dir(bin)), "svcmux-agent-bin-") {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	})
	idle := 60 * time.Second
	if v := os.Getenv(EnvIdle); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvIdle, v, err)
		}
		idle = d
	}
	started, tree := time.Now(), gitTree() // the tree the agent is built from
	var results []result
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			results = append(results, runScenario(t, cp, sc, idle))
		})
	}
	if len(results) == 0 {
		return
	}
	table := formatResults(results, idle, started, tree, filepath.Base(filepath.Dir(cp.BinDir())))
	fmt.Print("\n" + table)
	path := filepath.Join("results", time.Now().UTC().Format("2006-01-02")+"-"+gitShort()+"-convergence.md")
	if err := os.WriteFile(path, []byte("```\n"+table+"```\n"), 0o644); err != nil {
		t.Errorf("writing %s: %v", path, err)
	}
	for _, r := range results {
		if r.idleWrites != 0 || r.idleSvcMod != 0 {
			t.Errorf("%s: %d agent writes/events and %d Service updates in the %v idle window; want 0",
				r.name, r.idleWrites, r.idleSvcMod, r.idle)
		}
	}
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
		name := fmt.Sprintf("mux-%02d", m)
		mux, err := c.CoreV1().Services(ns).Create(ctx, muxService(ns, name), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ingress[name] = fmt.Sprintf("203.0.113.%d", m+1)
		cp.SetLoadBalancerIngress(t, mux, ingress[name])
	}

	r.floor = measureFloor(t, c, floorNS, sc.channels())
	t.Logf("floor: %d annotation + %d status patches in %v", sc.channels(), sc.channels(), r.floor.Round(time.Millisecond))

	createChannels := func() {
		first := time.Now()
		err := parallel(sc.channels(), workers, func(i int) error {
			_, err := c.CoreV1().Services(ns).Create(ctx, channelService(ns, sc, i), metav1.CreateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("creating channels: %v", err)
		}
		r.create = time.Since(first)
	}
	var agent *agentrun.Agent
	var w *watcher
	var from time.Time
	before := agentMetrics{writes: map[string]int{}}
	if sc.cold {
		// Everything exists before the agent starts, and the controller manager
		// is done with the channels: the agent faces all of them at once.
		createChannels()
		waitSlices(t, c, ns, sc.channels())
		w = watchConvergence(t, c, ns, sc, ingress)
		from = time.Now()
		agent = startAgent(t, cp, sc, ns)
	} else {
		agent = startAgent(t, cp, sc, ns)
		waitQuiet(t, c, agent, ns, sc.muxes)
		before = snapshotMetrics(t, agent)
		w = watchConvergence(t, c, ns, sc, ingress)
		createChannels()
		from = time.Now() // every create has been answered
	}
	select {
	case <-w.done:
	case <-time.After(convergeBy):
		t.Fatalf("not converged within %v: %s\n%s", convergeBy, w.describe(), agent.LogTail(30))
	case <-ctx.Done():
		t.Fatal("interrupted")
	}
	r.converge = max(w.doneAt.Sub(from), 0)
	// A pass counts its writes when it ends, a moment after its last write
	// landed: let the counters settle before reading them.
	waitQuiet(t, c, agent, ns, sc.muxes)
	after := snapshotMetrics(t, agent)
	r.writes = map[string]int{}
	for _, k := range writeKinds {
		r.writes[k] = after.writes[k] - before.writes[k]
	}
	r.conflicts = after.conflicts - before.conflicts
	r.events = after.events - before.events
	r.passes = after.passes - before.passes
	t.Logf("created %d channels in %v; converged %v after %s; %d writes %v, %d conflicts, %d events, %d mux passes",
		sc.channels(), r.create.Round(time.Millisecond), r.converge.Round(time.Millisecond), r.from(), r.totalWrites(), r.writes,
		r.conflicts, r.events, r.passes)

	// Idle: nothing changes, so nothing may be written.
	mod0 := w.updates.Load()
	time.Sleep(idle)
	final := snapshotMetrics(t, agent)
	r.idleWrites = final.total() - after.total()
	r.idleSvcMod = int(w.updates.Load() - mod0)
	r.loadAfter = loadAvg()
	t.Logf("idle %v: %d agent writes/events, %d Service updates seen (%s)", idle, r.idleWrites, r.idleSvcMod, final.diff(after))
	if r.idleWrites != 0 || r.idleSvcMod != 0 {
		t.Logf("agent log (last lines):\n%s", agent.LogTail(40))
	}
	return r
}

// --- objects -----------------------------------------------------------------

func muxService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{keys.Multiplexer: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
}

func channelName(i int) string { return fmt.Sprintf("ch-%04d", i) }

func muxOf(sc scenario, i int) string { return fmt.Sprintf("mux-%02d", i/sc.perMux) }

func portOf(sc scenario, i int) int32 { return int32(basePort + i%sc.perMux) }

// oneShape is the Service both the channels and the floor's throwaway Services
// have: LoadBalancer, no node ports, a selector, one named port.
func oneShape(ns, name, class string, port int32) *corev1.Service {
	allocate := false
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass:             &class,
			AllocateLoadBalancerNodePorts: &allocate,
			Selector:                      map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: portName, Port: port, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func channelService(ns string, sc scenario, i int) *corev1.Service {
	return oneShape(ns, channelName(i), keys.ClassPrefix()+muxOf(sc, i)+"."+ns, portOf(sc, i))
}

// --- the write floor -----------------------------------------------------------

// measureFloor creates n throwaway Services of the channels' shape, waits for
// the controller manager to be done with them, then times a bare client making
// the agent's minimum writes for each, in the agent's order and shapes: every
// ports annotation (merge patch), then every status (strategic merge patch of
// the ingress and the Accepted condition, as pkg/apply sends it).
func measureFloor(t *testing.T, c kubernetes.Interface, ns string, n int) time.Duration {
	ctx := t.Context()
	svcs := c.CoreV1().Services(ns)
	name := func(i int) string { return fmt.Sprintf("floor-%04d", i) }
	port := func(i int) int { return basePort + i%1000 }
	err := parallel(n, workers, func(i int) error {
		_, err := svcs.Create(ctx, oneShape(ns, name(i), floorClass, int32(port(i))), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("creating floor Services: %v", err)
	}
	waitSlices(t, c, ns, n)

	opts := metav1.PatchOptions{FieldManager: benchField}
	proxy := corev1.LoadBalancerIPModeProxy
	start := time.Now()
	err = parallel(2*n, workers, func(j int) error {
		i := j % n
		if j < n {
			ann, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				floorKeys.Ports: fmt.Sprintf("%s:%d->%d", portName, port(i), port(i))}}})
			_, err := svcs.Patch(ctx, name(i), types.MergePatchType, ann, opts)
			return err
		}
		status, _ := json.Marshal(map[string]any{"status": map[string]any{
			"loadBalancer": map[string]any{"ingress": []corev1.LoadBalancerIngress{{IP: "203.0.113.250", IPMode: &proxy}}},
			"conditions": []metav1.Condition{{Type: floorKeys.AcceptedCondition, Status: metav1.ConditionTrue,
				Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: metav1.Now(),
				Message: fmt.Sprintf("channel %s/%s is served by mux %s/mux-00: %s:%d->%d", ns, name(i), ns, portName, port(i), port(i))}},
		}})
		_, err := svcs.Patch(ctx, name(i), types.StrategicMergePatchType, status, opts, "status")
		return err
	})
	if err != nil {
		t.Fatalf("floor writes: %v", err)
	}
	return time.Since(start)
}

// waitSlices waits until the endpointslice controller has made a slice for
// each of n Services in ns, so its work does not overlap the floor.
func waitSlices(t *testing.T, c kubernetes.Interface, ns string, n int) {
	controlplane.Eventually(t, 3*time.Minute, func() (bool, string) {
		list, err := c.DiscoveryV1().EndpointSlices(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) >= n, fmt.Sprintf("%d of %d EndpointSlices", len(list.Items), n)
	})
	time.Sleep(time.Second)
}

// --- the agent ---------------------------------------------------------------

// startAgent runs the agent for one scenario. Its log goes to
// $SVCMUX_BENCH_LOGDIR/<scenario>-agent.log at debug level when that is set
// (debug logging costs time: a diagnosis aid, not for the numbers), else to a
// temporary file at info level.
func startAgent(t *testing.T, cp *controlplane.ControlPlane, sc scenario, ns string) *agentrun.Agent {
	level, logPath := "info", filepath.Join(t.TempDir(), "agent.log")
	if dir := os.Getenv(EnvLogDir); dir != "" {
		level, logPath = "debug", filepath.Join(dir, sc.name+"-agent.log")
	}
	args := []string{"--log-level=" + level, "--default-mux-namespace=" + ns}
	if sc.qps != 0 {
		args = append(args, fmt.Sprintf("--kube-api-qps=%d", sc.qps), fmt.Sprintf("--kube-api-burst=%d", sc.burst))
	}
	a, err := agentrun.StartProcess(cp.KubeconfigPath(), logPath, args...)
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	t.Cleanup(a.Stop)
	if err := a.WaitReady(time.Minute); err != nil {
		t.Fatalf("agent not ready: %v\n%s", err, a.LogTail(40))
	}
	return a
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

// diff names the counters that moved since prev.
func (m agentMetrics) diff(prev agentMetrics) string {
	var out []string
	for _, k := range writeKinds {
		if d := m.writes[k] - prev.writes[k]; d != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, d))
		}
	}
	if d := m.events - prev.events; d != 0 {
		out = append(out, fmt.Sprintf("events=%d", d))
	}
	if d := m.conflicts - prev.conflicts; d != 0 {
		out = append(out, fmt.Sprintf("conflicts=%d", d))
	}
	if d := m.passes - prev.passes; d != 0 {
		out = append(out, fmt.Sprintf("mux passes=%d", d))
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

// waitQuiet waits until the agent has reconciled every mux at least once (its
// state ConfigMap exists) and has then made no write and posted no Event for
// two seconds.
func waitQuiet(t *testing.T, c kubernetes.Interface, a *agentrun.Agent, ns string, muxes int) {
	controlplane.Eventually(t, 2*time.Minute, func() (bool, string) {
		list, err := c.CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{
			LabelSelector: api.LabelComponent + "=" + api.ComponentMuxState})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == muxes, fmt.Sprintf("%d of %d state ConfigMaps", len(list.Items), muxes)
	})
	prev, quiet := -1, 0
	controlplane.Eventually(t, 2*time.Minute, func() (bool, string) {
		time.Sleep(time.Second)
		n := snapshotMetrics(t, a).total()
		if n == prev {
			quiet++
		} else {
			quiet = 0
		}
		prev = n
		return quiet >= 2, fmt.Sprintf("%d writes and events so far, still changing", n)
	})
}

// --- convergence -------------------------------------------------------------
