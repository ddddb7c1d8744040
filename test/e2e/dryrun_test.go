package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// TestDryRunWritesNothing runs the agent with --dry-run over a mux with
// plenty to do — new ports, endpoints, a missing state ConfigMap, a leftover
// Python finalizer and a port conflict that would post a Warning — and checks
// the cluster: every object keeps its resourceVersion, nothing is created and
// no Event comes from svcmux (SPEC §7 Dry-run). The writes metric only counts
// what would have been written: that it counted writes of every kind is the
// proof the agent planned them.
func TestDryRunWritesNothing(t *testing.T) {
	w := world.New(t)
	w.DropFinalizersAtEnd("mux") // the dry-run agent leaves it, as it should
	mux := w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.Namespace, Finalizers: []string{w.Key("finalizer")},
			Annotations: map[string]string{w.Key("multiplexer"): "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	})
	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.30")
	web := w.CreateChannel("web", "mux", nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	// Asks for web's port and sorts after it: a MuxPortConflict Warning, were events posted.
	dupObject := w.ChannelObject("zz-dup", "mux", w.ExternalPorts("http:8080"), world.TCP("http", 9999))
	dupObject.Spec.Selector = map[string]string{"app": "dup"}
	dup := w.CreateService(dupObject)
	node := w.Node("192.0.2.20")
	w.Pod("web-0", map[string]string{"app": "web"}, node, "10.244.5.1", true)
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		n := len(world.Endpoints(w.SlicesOf("web", world.ClusterSliceManager), false))
		return n == 1, fmt.Sprintf("%d channel endpoints", n)
	})
	rv := map[string]string{}
	for _, name := range []string{"mux", "web", "zz-dup"} {
		rv[name] = w.Service(name).ResourceVersion
	}

	a := w.StartAgent("--dry-run")
	// The agent has planned: it counted the writes it would have made.
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		return a.Writes(t, "kind=mux") > 0 && a.Writes(t, "kind=endpointslice") > 0 && a.Writes(t, "kind=state") > 0 &&
				a.Writes(t, "kind=channel") > 0,
			fmt.Sprintf("would-be writes so far: %d\n%s", a.Writes(t), a.LogTail(20))
	})
	// The positive signal, without a poke (every version must stay): the
	// agent's first pass of the mux has ended, Events stage included, so
	// whatever it would have written or posted, it would have by now.
	w.AwaitPasses(a, "mux", 1)
	for name, want := range rv {
		if got := w.Service(name).ResourceVersion; got != want {
			t.Errorf("service %s written in dry-run: rv %s -> %s: %s", name, want, got, w.DescribeAll(w.Service(name)))
		}
	}
	if cm := w.ConfigMap(world.StateName("mux")); cm != nil {
		t.Errorf("state ConfigMap created in dry-run: %v", cm.Data)
	}
	if s := w.MuxSlices("mux"); len(s) != 0 {
		t.Errorf("mux slices written in dry-run: %+v", world.Endpoints(s, true))
	}
	// Counted as the agent hands an Event to the recorder, before it is posted.
	if n, err := a.Metric("svcmux_events_total"); err != nil || n != 0 {
		t.Errorf("dry-run agent posted %v event(s) (%v), want 0", n, err)
	}
	if evs := w.SvcmuxEvents(); len(evs) != 0 {
		t.Errorf("events posted in dry-run:%s", world.EventsText(evs))
	}
	// Spelled out, for the reader: still exactly as the user left them.
	m := w.Service("mux")
	if len(m.Finalizers) != 1 || world.PortIDs(m)[0] != "placeholder 101/TCP" || m.Annotations[w.Key("summary")] != "" {
		t.Errorf("mux changed in dry-run: finalizers %v ports %v annotations %v", m.Finalizers, world.PortIDs(m), m.Annotations)
	}
	for _, s := range []*corev1.Service{w.Service(web.Name), w.Service(dup.Name)} {
		if _, has := s.Annotations[w.Key("ports")]; has || w.Accepted(s) != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("channel %s changed in dry-run: %s", s.Name, w.DescribeAll(s))
		}
	}
	t.Logf("would-be writes: %d", a.Writes(t))
}
