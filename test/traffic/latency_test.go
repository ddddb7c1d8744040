package traffic

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/test/benchreport"
	"github.com/nowakeai/svcmux/test/dataplane"
	sw "github.com/nowakeai/svcmux/test/world"
)

const (
	// latencyChannels is how many channels TestTimeToFirstConnection creates
	// as a behaviour test (make test); latencyBenchChannels, under
	// SVCMUX_BENCH=1 (make bench-latency), for percentiles worth reading.
	latencyChannels      = 10
	latencyBenchChannels = 50
	// envBench turns the benchmark report on, as for test/bench.
	envBench = "SVCMUX_BENCH"
	// latencyPort is channel 0's public port; channel i has latencyPort+i.
	latencyPort = 24000
	// probeEvery spaces one way's probes of one channel.
	probeEvery = 20 * time.Millisecond
)

// latencyVias are the ways in a first answer is timed through.
var latencyVias = []dataplane.Via{dataplane.ViaClusterIP, dataplane.ViaLoadBalancer}

// The time from a channel created (its pod already ready) to the first
// connection through the mux that reaches that pod, over channels created
// about two per second (jittered, not waiting for each other), so each meets
// kube-proxy's 1 s sync rate limit at a random phase. Broken down: channel
// created → mux port written by the agent → mux endpoints ready (agent, after
// the endpointslice controller) → first answer via the cluster IP and via the
// load-balancer IP (kube-proxy). It asserts that every channel is answered on
// both paths within converge and that every stage was observed for every
// channel. Speed is not asserted (two shared cores make it noisy): under
// SVCMUX_BENCH=1 it times 50 channels and writes the figures to
// test/bench/results/<date>-<commit>-latency.md.
func TestTimeToFirstConnection(t *testing.T) {
	bench := os.Getenv(envBench) == "1"
	rep := latencyReport{started: time.Now(), loadStart: benchreport.LoadAvg(), tree: benchreport.Tree(), channels: latencyChannels}
	var path string
	if bench {
		rep.channels = latencyBenchChannels
		var err error
		if path, err = benchreport.ResultsPath("-latency.md"); err != nil {
			t.Fatal(err)
		}
	}
	w := newWorld(t, "")
	w.createMux("mux", nil)
	pods := make([]*dataplane.Pod, rep.channels)
	for i := range pods {
		pods[i] = w.addPod(channelName(i)+"-0", channelName(i), tcp("http", 8080))
	}
	agent := w.startAgent()
	mux, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watch := watchMux(t, w)
	created, answered := w.createAndProbe(mux, pods)
	if t.Failed() {
		return
	}
	rep.stages = watch.stages(w.ns, created, answered)
	for _, s := range rep.stages {
		// Every channel was answered, so its mux port and ready endpoints
		// existed: the watches must have seen each one, or the numbers lie.
		if len(s.d) != rep.channels {
			t.Errorf("%s: observed for %d of %d channels", s.what, len(s.d), rep.channels)
		}
	}
	if t.Failed() {
		return
	}
	rep.loadEnd = benchreport.LoadAvg()
	t.Logf("channel created → (%d channels, %s mode, created every 250-750 ms):\n%s", rep.channels, w.node.Mode, rep.table())
	if !bench {
		return
	}
	rep.controlPlane = benchreport.ControlPlane(w.cp.BinDir())
	rep.agentArgs = processArgs(agent.Pid())
	rep.agentHelp = benchreport.AgentHelp()
	rep.mode = w.node.Mode
	rep.minSyncFlag, rep.minSync = kubeProxyMinSync(w.node)
	md := rep.markdown()
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	fmt.Print("\n" + md)
	t.Logf("wrote %s", path)
}

func channelName(i int) string { return fmt.Sprintf("ch%02d", i) }

// createAndProbe creates a channel per pod, 250–750 ms apart, and probes each
// through the mux on every way in until its pod answers. It returns when each
// channel was created and, per way (latencyVias), how long each took to
// answer; a channel not answered within converge fails the test.
func (w *world) createAndProbe(mux *corev1.Service, pods []*dataplane.Pod) ([]time.Time, [][]time.Duration) {
	w.t.Helper()
	created := make([]time.Time, len(pods))
	answered := make([][]time.Duration, len(latencyVias))
	for v := range answered {
		answered[v] = make([]time.Duration, len(pods))
	}
	var wg sync.WaitGroup
	for i, pod := range pods {
		public := int32(latencyPort + i)
		want := answer(pod, 8080, corev1.ProtocolTCP)
		created[i] = time.Now()
		w.createChannel(channelName(i), "mux", nil, svcPort("http", public, intstr.FromInt32(8080), corev1.ProtocolTCP))
		for v, via := range latencyVias {
			addr, err := w.node.Address(via, mux, corev1.ServicePort{Port: public})
			if err != nil {
				w.t.Fatal(err)
			}
			wg.Go(func() {
				d, err := w.firstAnswer(via, addr, want, created[i])
				if err != nil {
					w.t.Errorf("%s via %s %s: %v", channelName(i), via, addr, err)
				}
				answered[v][i] = d // each goroutine its own element
			})
		}
		// Pacing, not a wait for anything: the next channel comes at a random
		// phase of kube-proxy's sync period.
		time.Sleep(250*time.Millisecond + rand.N(500*time.Millisecond))
	}
	wg.Wait()
	return created, answered
}

// firstAnswer probes addr via the way in, probeEvery apart, until want
// answers, and returns the time from since; it gives up after converge.
func (w *world) firstAnswer(via dataplane.Via, addr string, want dataplane.Answer, since time.Time) (time.Duration, error) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	var last string
	for time.Since(since) < converge {
		got, err := w.node.Ask(w.ctx(), via, corev1.ProtocolTCP, addr, dataplane.DefaultTimeout)
		if err == nil && got == want {
			return time.Since(since), nil
		}
		last = fmt.Sprint(got, err)
		select {
		case <-tick.C:
		case <-w.ctx().Done():
			return 0, w.ctx().Err()
		}
	}
	return 0, fmt.Errorf("no answer from %s within %v (last: %s)", want, converge, last)
}

// muxWatch times the agent's part from the test's own watch of the mux and its
// EndpointSlices: when a public port first appeared on the mux, and when a
// mux port name first had a ready endpoint.
type muxWatch struct {
	mu    sync.Mutex
	port  map[int32]time.Time
	slice map[string]time.Time
}

// watchMux starts the watch (stopped when the test ends) and returns once its
// caches have synced.
func watchMux(t *testing.T, w *world) *muxWatch {
	m := &muxWatch{port: map[int32]time.Time{}, slice: map[string]time.Time{}}
	factory := informers.NewSharedInformerFactoryWithOptions(w.c, 0, informers.WithNamespace(w.ns))
	svcInf := factory.Core().V1().Services().Informer()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	_, _ = svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: m.onService, UpdateFunc: func(_, o any) { m.onService(o) }})
	_, _ = sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: m.onSlice, UpdateFunc: func(_, o any) { m.onSlice(o) }})
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop); factory.Shutdown() })
	factory.WaitForCacheSync(stop)
	return m
}

func (m *muxWatch) onService(obj any) {
	svc, ok := obj.(*corev1.Service)
	if !ok || svc.Name != "mux" {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range svc.Spec.Ports {
		if _, ok := m.port[p.Port]; !ok {
			m.port[p.Port] = now
		}
	}
}

func (m *muxWatch) onSlice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] != "mux" {
		return
	}
	now := time.Now()
	ready := false
	for _, e := range s.Endpoints {
		ready = ready || e.Conditions.Ready == nil || *e.Conditions.Ready
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range s.Ports {
		if _, ok := m.slice[*p.Name]; !ok && ready {
			m.slice[*p.Name] = now
		}
	}
}

// latencyStage is one stage's times from channel created, sorted.
type latencyStage struct {
	what string
	d    []time.Duration
}

// stages are the four stages' times, each with one entry per channel the
// stage was observed for.
func (m *muxWatch) stages(ns string, created []time.Time, answered [][]time.Duration) []latencyStage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var port, slice []time.Duration
	for i := range created {
		if ts, ok := m.port[int32(latencyPort+i)]; ok {
			port = append(port, ts.Sub(created[i]))
		}
		if ts, ok := m.slice[sw.PortName(ns, channelName(i), "http")]; ok {
			slice = append(slice, ts.Sub(created[i]))
		}
	}
	out := []latencyStage{
		{"mux port written (agent)", port},
		{"mux endpoints ready (agent)", slice},
		{"first answer via cluster IP", answered[0]},
		{"first answer via load-balancer IP", answered[1]},
	}
	for _, s := range out {
		sortDurations(s.d)
	}
	return out
}

// kubeProxyMinSync is kube-proxy's minimum sync period, as it logged its
// flags (FLAG lines, at --v=1 and above): the flag that sets it in the mode
// (--iptables-min-sync-period in every mode but ipvs) and its value.
func kubeProxyMinSync(n *dataplane.Node) (flag, value string) {
	flag = "--iptables-min-sync-period"
	if n.Mode == "ipvs" {
		flag = "--ipvs-min-sync-period"
	}
	b, err := os.ReadFile(n.KubeProxyLog)
	if err != nil {
		return flag, "unknown (" + err.Error() + ")"
	}
	for line := range strings.Lines(string(b)) {
		if _, v, ok := strings.Cut(line, "FLAG: "+flag+"="); ok {
			return flag, strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return flag, "unknown (not in kube-proxy's log)"
}

// processArgs is a running process's command line, its program by base name.
func processArgs(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return []string{"(unknown: " + err.Error() + ")"}
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	args[0] = filepath.Base(args[0])
	return args
}

// latencyReport is what the benchmark writes.
type latencyReport struct {
	started            time.Time
	loadStart, loadEnd string
	tree, controlPlane string
	channels           int
	stages             []latencyStage
	agentArgs          []string
	agentHelp          string
	mode               dataplane.Mode
	minSyncFlag        string
	minSync            string
}

// table is the stages' n, p50, p99 and max, as a Markdown table.
func (rep latencyReport) table() string {
	var b strings.Builder
	b.WriteString("| channel created → | n | p50 | p99 | max |\n|---|--:|--:|--:|--:|\n")
	for _, s := range rep.stages {
		ms := func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds()) }
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", s.what, len(s.d),
			ms(percentile(s.d, 50)), ms(percentile(s.d, 99)), ms(s.d[len(s.d)-1]))
	}
	return b.String()
}

func (rep latencyReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# svcmux time to first connection, %s\n\n", rep.started.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Written by `make bench-latency` (test/traffic `TestTimeToFirstConnection`, SVCMUX_BENCH=1) on the real " +
		"control plane (etcd, kube-apiserver, kube-controller-manager) with the real agent binary and the real kube-proxy " +
		"in a network namespace playing the node. The figures are reported, not asserted; the test asserts that every " +
		"channel is answered on both paths within " + converge.String() + " and that every stage was observed for every channel.\n\n")
	b.WriteString("## Machine and flags\n\n")
	fmt.Fprintf(&b, "- CPU: %s\n", benchreport.Machine())
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) at start: %s; at end: %s. The machine is shared: other work may have been running.\n",
		rep.loadStart, rep.loadEnd)
	fmt.Fprintf(&b, "- %s; control plane %s; tree %s\n", runtime.Version(), rep.controlPlane, rep.tree)
	fmt.Fprintf(&b, "- test: %d channels of one mux, one port each (TCP), each with one ready pod created before the agent "+
		"started; created one every 250-750 ms (uniform), not waiting for each other; each way probed every %v "+
		"(%v timeout) from creation; environment: %s\n", rep.channels, probeEvery, dataplane.DefaultTimeout, benchreport.Env())
	fmt.Fprintf(&b, "- kube-proxy: %s mode, minimum sync period %s (`%s`, as its log's FLAG lines show it)\n", rep.mode, rep.minSync, rep.minSyncFlag)
	fmt.Fprintf(&b, "- agent: `%s` (as the test started it); every other flag at its default, as its `--help` prints them:\n\n",
		strings.Join(rep.agentArgs, " "))
	fmt.Fprintf(&b, "<details><summary>svcmux-agent --help</summary>\n\n```\n%s\n```\n</details>\n\n", rep.agentHelp)
	b.WriteString("## Channel created → each stage\n\n" + rep.table() + "\n")
	b.WriteString(latencyDefinitions)
	return b.String()
}

const latencyDefinitions = `## Definitions

- **channel created**: just before the test's create request for the channel.
- **mux port written**: the test's watch first sees the channel's public port in the mux's ` + "`spec.ports`" + `.
- **mux endpoints ready**: the test's watch first sees a mux EndpointSlice with the channel's mux port name
  and a ready endpoint.
- **first answer**: the first probe answered by the channel's own pod on its port, via the mux's cluster IP
  (from a client pod) or its load-balancer IP (from an outside client, as a cloud load balancer would send it).
- **p50, p99**: nearest rank of the n sorted times (with n = 50, p99 is the 50th: the max).
`
