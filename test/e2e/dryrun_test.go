package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// TestDryRunWritesNothing runs the agent with --dry-run over a mux with
// plenty to do — new ports, endpoints, a missing state ConfigMap, a leftover
// Python finalizer and a port conflict that would post a Warning — and checks
// the cluster: every object keeps its resourceVersion, nothing is created and
// no Event comes from svcmux (SPEC §7 Dry-run). The writes metric only counts
// what would have been written.
func TestDryRunWritesNothing(t *testing.T) {
	e := newEnvB(t)
	e.dropFinalizersAtEndB("mux") // the dry-run agent leaves it, as it should
	mux := e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: e.ns, Finalizers: []string{finalizerB},
			Annotations: map[string]string{annMultiplexerB: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	})
	e.cp.SetLoadBalancerIngress(t, mux, "203.0.113.30")
	web := e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	// Asks for web's port and sorts after it: a MuxPortConflict Warning, were events posted.
	dup := e.newChannelB("zz-dup", e.classB("mux"), map[string]string{"app": "dup"},
		map[string]string{annExternalB: "http:8080"}, tcpB("http", 9999))
	node := e.nodeB()
	e.podB("web-0", map[string]string{"app": "web"}, node, "10.244.5.1", true)
	controlplane.Eventually(t, waitB, func() (bool, string) {
		n := len(flattenB(e.slicesByManagerB("web", "endpointslice-controller.k8s.io"), false))
		return n == 1, fmt.Sprintf("%d channel endpoints", n)
	})
	rv := map[string]string{}
	for _, name := range []string{"mux", "web", "zz-dup"} {
		rv[name] = e.svcB(name).ResourceVersion
	}

	a := agentrun.Start(t, e.cp.KubeconfigPath(), "--dry-run")
	// The agent has planned: it counted the writes it would have made.
	controlplane.Eventually(t, waitB, func() (bool, string) {
		return a.Writes(t, "kind=mux") > 0 && a.Writes(t, "kind=endpointslice") > 0 && a.Writes(t, "kind=state") > 0 &&
				a.Writes(t, "kind=channel") > 0,
			fmt.Sprintf("would-be writes so far: %d\n%s", a.Writes(t), a.LogTail(20))
	})
	holdB(t, 2*time.Second, func() (bool, string) {
		for name, want := range rv {
			if got := e.svcB(name).ResourceVersion; got != want {
				return false, fmt.Sprintf("service %s written in dry-run: rv %s -> %s: %s", name, want, got, svcStateB(e.svcB(name)))
			}
		}
		if cm := e.stateCMB("mux-port-allocations"); cm != nil {
			return false, fmt.Sprintf("state ConfigMap created in dry-run: %v", cm.Data)
		}
		if s := e.muxSlicesB("mux"); len(s) != 0 {
			return false, fmt.Sprintf("mux slices written in dry-run: %+v", flattenB(s, true))
		}
		if evs := e.svcmuxEventsB(); len(evs) != 0 {
			return false, "events posted in dry-run:" + eventsStringB(evs)
		}
		return true, ""
	})
	// Spelled out, for the reader: still exactly as the user left them.
	m := e.svcB("mux")
	if len(m.Finalizers) != 1 || portIDsB(m)[0] != "placeholder 101/TCP" || m.Annotations[annSummaryB] != "" {
		t.Errorf("mux changed in dry-run: finalizers %v ports %v annotations %v", m.Finalizers, portIDsB(m), m.Annotations)
	}
	for _, s := range []*corev1.Service{e.svcB(web.Name), e.svcB(dup.Name)} {
		if _, has := s.Annotations[annPortsB]; has || acceptedB(s) != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("channel %s changed in dry-run: %s", s.Name, svcStateB(s))
		}
	}
	if log := a.LogTail(200); !strings.Contains(log, "dry-run: would write") || !strings.Contains(log, "dry-run: would post event") {
		t.Errorf("the dry-run log does not say what it would do:\n%s", log)
	}
	t.Logf("would-be writes: %d", a.Writes(t))
}
