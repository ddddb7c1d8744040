package traffic

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/dataplane"
)

// gitopsManager is the field manager of the GitOps tool in these tests.
const gitopsManager = "argocd-controller"

// While a GitOps tool writes the placeholder spec.ports back onto the mux,
// and while the agent is restarted, a probe loop through the mux (cluster
// IP, node port and load-balancer IP of a default and an auto channel)
// keeps succeeding. The longest interruption of each disturbance is logged;
// a restart and a server-side apply must cause none.
func TestTrafficSurvivesGitOpsAndAgentRestart(t *testing.T) {
	w := newWorld(t, "")
	w.createMux("mux", map[string]string{prefix + "port-range": "23000-23009"})
	web := w.addPod("web-0", "web", tcp("http", 8080))
	adm := w.addPod("admin-0", "admin", tcp("http", 7070))
	w.createChannel("web", "mux", nil, svcPort("http", 21080, intstr.FromInt32(8080), corev1.ProtocolTCP))
	w.createChannel("admin", "mux", map[string]string{prefix + "external-ports": "http:auto"},
		svcPort("http", 80, intstr.FromInt32(7070), corev1.ProtocolTCP))
	agent := w.startAgent()
	channels := []struct {
		name   string
		public int32
		want   dataplane.Answer
	}{
		{"web", 21080, answer(web, 8080, corev1.ProtocolTCP)},
		{"admin", 23000, answer(adm, 7070, corev1.ProtocolTCP)},
	}
	for _, ch := range channels {
		mux, sp := w.muxPort("mux", ch.public, corev1.ProtocolTCP)
		for _, via := range dataplane.Vias {
			w.expectReach(via, mux, sp, ch.want)
		}
	}
	steady := w.muxPortSet()

	// targets are the mux's current addresses (node ports may change).
	targets := func() []dataplane.Target {
		var out []dataplane.Target
		for _, ch := range channels {
			mux, sp := w.muxPort("mux", ch.public, corev1.ProtocolTCP)
			for _, via := range dataplane.Vias {
				addr, err := w.node.Address(via, mux, sp)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, dataplane.Target{Name: ch.name + " " + string(via), Via: via,
					Proto: corev1.ProtocolTCP, Addr: addr, Want: ch.want})
			}
		}
		return out
	}

	type result struct {
		name     string
		longest  map[dataplane.Via]time.Duration
		probes   int
		failures int
		lost     []string // targets that never answered again (old node ports)
		note     string
	}
	var results []result
	// disturb runs action under a probe loop and waits until the mux is back
	// to its steady ports and kube-proxy has had time to sync that.
	disturb := func(name string, action func()) result {
		t.Helper()
		before := w.nodePorts()
		loop := w.node.StartProbeLoop(w.ctx(), 20*time.Millisecond, targets()...)
		time.Sleep(500 * time.Millisecond)
		began := time.Now()
		action()
		controlplane.Eventually(t, converge, func() (bool, string) {
			got := w.muxPortSet()
			return got == steady, "mux ports " + got + ", want " + steady
		})
		// Node ports lost with the ports come back as new numbers: traffic
		// to the old ones never recovers (a cloud load balancer has to be
		// re-pointed). Measure when the new ones answer.
		var note string
		if after := w.nodePorts(); after != before {
			var ready time.Duration
			for _, tg := range targets() {
				if tg.Via != dataplane.ViaNodePort {
					continue
				}
				controlplane.Eventually(t, converge, func() (bool, string) {
					got, err := w.node.Ask(w.ctx(), tg.Via, tg.Proto, tg.Addr, dataplane.DefaultTimeout)
					return err == nil && got == tg.Want, fmt.Sprint(got, err)
				})
				ready = max(ready, time.Since(began))
			}
			note = fmt.Sprintf("node ports renumbered %s -> %s (new ones answer %v after the write)",
				before, after, ready.Round(time.Millisecond))
		}
		time.Sleep(time.Until(began.Add(3 * time.Second))) // > kube-proxy's 1 s min sync period
		loop.Stop()
		r := result{name: name, longest: map[dataplane.Via]time.Duration{}, note: note}
		r.probes, _ = loop.Counts()
		for _, o := range loop.Outages(time.Time{}, time.Time{}) {
			via := dataplane.Via(o.Target[strings.LastIndexByte(o.Target, ' ')+1:])
			r.failures += o.Failures
			if o.End.IsZero() {
				t.Logf("  %s: %s: no answer since %v (%d failed probes, first: %s)", name, o.Target,
					o.Start.Sub(began).Round(time.Millisecond), o.Failures, o.FirstErr)
				r.lost = append(r.lost, o.Target)
				continue
			}
			r.longest[via] = max(r.longest[via], o.Duration())
			t.Logf("  %s: %s interrupted for %v (%d failed probes, first: %s)", name, o.Target,
				o.Duration().Round(time.Millisecond), o.Failures, o.FirstErr)
		}
		results = append(results, r)
		return r
	}

	for i := range 2 {
		r := disturb(fmt.Sprintf("server-side apply #%d", i+1), func() { w.gitopsApplyPlaceholder() })
		if r.failures > 0 {
			t.Errorf("%s interrupted traffic: %v", r.name, r.longest)
		}
	}
	// A whole-object update takes the ports away until the agent puts them
	// back: traffic must come back within the agent's reaction plus
	// kube-proxy's sync rate limit (1 s) — node-port traffic too, on the same
	// node ports, since the agent restores the NodePorts it remembered (SPEC
	// §10), so a cloud load balancer routing to them needs no reprogramming.
	const putBound = 5 * time.Second
	checkPut := func(r result) {
		if r.note != "" {
			t.Errorf("%s: %s; want the same node ports back", r.name, r.note)
		}
		for _, via := range []dataplane.Via{dataplane.ViaClusterIP, dataplane.ViaNodePort, dataplane.ViaLoadBalancer} {
			for _, lost := range r.lost {
				if strings.HasSuffix(lost, " "+string(via)) {
					t.Errorf("%s: %s never answered again", r.name, lost)
				}
			}
			if r.longest[via] > putBound {
				t.Errorf("%s: %s interrupted for %v, want ≤ %v", r.name, via, r.longest[via], putBound)
			}
		}
	}
	for i := range 3 {
		checkPut(disturb(fmt.Sprintf("update (PUT) #%d", i+1), func() { w.gitopsUpdatePlaceholder() }))
	}
	for i := range 2 {
		r := disturb(fmt.Sprintf("agent restart #%d", i+1), func() {
			agent.Stop()
			agent = agentrun.Start(t, w.cp.KubeconfigPath())
		})
		if r.failures > 0 {
			t.Errorf("%s interrupted traffic: %v", r.name, r.longest)
		}
		results[len(results)-1].note = fmt.Sprintf("(new agent's writes: %d)", agent.Writes(t))
	}
	checkPut(disturb("agent killed, placeholder PUT while down, agent started", func() {
		agent.Kill()
		w.gitopsUpdatePlaceholder()
		time.Sleep(time.Second)
		agent = agentrun.Start(t, w.cp.KubeconfigPath())
	}))

	t.Logf("longest interruption per disturbance (probe every 20 ms, each probe ≤ %v):", dataplane.DefaultTimeout)
	for _, r := range results {
		var parts []string
		for _, via := range dataplane.Vias {
			lost := slices.ContainsFunc(r.lost, func(s string) bool { return strings.HasSuffix(s, " "+string(via)) })
			if lost {
				parts = append(parts, fmt.Sprintf("%s: old port dead", via))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %v", via, r.longest[via].Round(time.Millisecond)))
		}
		t.Logf("  %-56s %s (%d probes, %d failed) %s", r.name, strings.Join(parts, ", "), r.probes, r.failures, r.note)
	}
}

// muxPortSet is the mux's public ports as "name:port/proto ..." (sorted).
func (w *world) muxPortSet() string {
	mux, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range mux.Spec.Ports {
		out = append(out, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// nodePorts is the mux's node ports as "port:nodePort ..." (sorted).
func (w *world) nodePorts() string {
	mux, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	return nodePortSet(mux)
}

// nodePortSet is svc's ports as "port:nodePort ..." (sorted).
func nodePortSet(svc *corev1.Service) string {
	var out []string
	for _, p := range svc.Spec.Ports {
		out = append(out, fmt.Sprintf("%d:%d", p.Port, p.NodePort))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// gitopsApplyPlaceholder server-side-applies the mux as committed in Git
// (placeholder port), forcing conflicts, as Argo CD (ServerSideApply=true)
// or Flux do.
func (w *world) gitopsApplyPlaceholder() {
	w.t.Helper()
	ac := corev1ac.Service("mux", w.ns).
		WithAnnotations(map[string]string{prefix + "multiplexer": "true", prefix + "port-range": "23000-23009"}).
		WithSpec(corev1ac.ServiceSpec().WithType(corev1.ServiceTypeLoadBalancer).
			WithPorts(corev1ac.ServicePort().WithName("placeholder").WithPort(101).WithProtocol(corev1.ProtocolTCP)))
	out, err := w.c.CoreV1().Services(w.ns).Apply(w.ctx(), ac, metav1.ApplyOptions{FieldManager: gitopsManager, Force: true})
	if err != nil {
		w.t.Fatalf("server-side apply of the mux: %v", err)
	}
	w.t.Logf("  after the server-side apply the mux has ports %s", portList(out.Spec.Ports))
}

// gitopsUpdatePlaceholder replaces spec.ports with the placeholder in one
// update, as a tool that replaces whole objects does (Argo CD Replace=true,
// kubectl replace, a client-side apply whose last-applied lists the ports).
func (w *world) gitopsUpdatePlaceholder() {
	w.t.Helper()
	mux, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	mux.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
	if _, err := w.c.CoreV1().Services(w.ns).Update(w.ctx(), mux, metav1.UpdateOptions{FieldManager: gitopsManager}); err != nil {
		w.t.Fatalf("update of the mux: %v", err)
	}
}
