package e2e

// Bad configuration and bad edits (SPEC §3 "(change)" rules), the GKE port cap,
// external-dns aggregation and invalid muxes and classes (SPEC §1, §5).

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// An invalid max-ports freezes the mux as it is — even when a new channel
// appears — and fixing it reconciles.
func TestInvalidMaxPortsChangesNothingOnTheMuxUntilFixed(t *testing.T) {
	w := newMuxWorld(t)
	w.waitOtherNamespacesGone() // it counts the agent's writes
	w.createMux("mux", nil)
	w.createChannel("api", "mux", nil, chanTCP("http", 8080))
	a := w.startAgent()
	w.waitAccepted("api", "http:8080->8080")
	apiPort := w.hp("api", "http", 8080)
	w.waitMuxPorts("mux", apiPort)
	cm := w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "api", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080}))
	settleWrites(t, a, 500*time.Millisecond)

	abc := "abc"
	frozen := w.setAnnotation("mux", w.key("max-ports"), &abc)
	w.waitEvent("mux", "Warning", "InvalidMaxPorts", `"abc"`)
	writes := settleWrites(t, a, 500*time.Millisecond)

	w.createChannel("late", "mux", nil, chanTCP("http", 9090))
	time.Sleep(2 * time.Second)
	if n := a.Writes(t) - writes; n != 0 {
		t.Errorf("the agent made %d write(s) while max-ports was invalid", n)
	}
	now := w.svc("mux")
	if now.ResourceVersion != frozen.ResourceVersion || !reflect.DeepEqual(now.Spec.Ports, frozen.Spec.Ports) ||
		!reflect.DeepEqual(now.Annotations, frozen.Annotations) {
		t.Errorf("mux changed while max-ports was invalid:\nports %v -> %v\nannotations %v\n-> %v",
			frozen.Spec.Ports, now.Spec.Ports, frozen.Annotations, now.Annotations)
	}
	if got := w.stateCM("mux"); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("state ConfigMap written while max-ports was invalid")
	}
	w.assertNoPortsAnnotation(w.svc("late"))
	w.waitAccepted("api", "http:8080->8080")

	five := " 5 " // whitespace is trimmed
	w.setAnnotation("mux", w.key("max-ports"), &five)
	w.waitAccepted("late", "http:9090->9090")
	fixed := w.waitMuxPorts("mux", apiPort, w.hp("late", "http", 9090))
	if got, want := nodePortsByName(fixed)[apiPort.Name], nodePortsByName(frozen)[apiPort.Name]; got != want {
		t.Errorf("api NodePort moved: %d -> %d", want, got)
	}
	w.waitAccepted("api", "http:8080->8080")
}

// A bad edit of an accepted channel keeps its ports, annotation and ingress;
// the condition and an Event say why; fixing it restores the same ports.
func TestABadEditKeepsAnAcceptedChannelServing(t *testing.T) {
	w := newMuxWorld(t)
	mux := w.createMux("mux", nil)
	w.cp.SetLoadBalancerIngress(t, mux, "203.0.113.7")
	w.createChannel("api", "mux", map[string]string{w.key("external-ports"): "http:30080"}, chanTCP("http", 80))
	a := w.startAgent()
	w.waitAccepted("api", "http:80->30080")
	port := w.hp("api", "http", 30080)
	before := w.waitMuxPorts("mux", port)
	good := w.waitChannel("api", func(s *corev1.Service) bool { return len(s.Status.LoadBalancer.Ingress) == 1 })
	if got := good.Status.LoadBalancer.Ingress[0].IP; got != "203.0.113.7" {
		t.Fatalf("channel ingress %v, want the mux's 203.0.113.7", good.Status.LoadBalancer.Ingress)
	}
	doc := w.stateDocument("mux", stateClaim{Service: "api", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080})
	cm := w.waitState("mux", doc)
	settleWrites(t, a, 500*time.Millisecond)

	bad := "http:notaport"
	w.setAnnotation("api", w.key("external-ports"), &bad)
	wantMsg := `invalid item "http:notaport"`
	refused := w.waitRefused("api", "InvalidPortMapping", wantMsg)
	w.waitEvent("api", "Warning", "InvalidPortMapping", wantMsg)
	settleWrites(t, a, time.Second)
	if got := refused.Annotations[w.key("ports")]; got != "http:80->30080" {
		t.Errorf("ports annotation %q after a bad edit, want it kept as http:80->30080", got)
	}
	if !reflect.DeepEqual(refused.Status.LoadBalancer, good.Status.LoadBalancer) {
		t.Errorf("status.loadBalancer changed after a bad edit: %v -> %v", good.Status.LoadBalancer, refused.Status.LoadBalancer)
	}
	if after := w.svc("mux"); !reflect.DeepEqual(after.Spec.Ports, before.Spec.Ports) {
		t.Errorf("mux ports changed after a bad edit:\n%+v\n%+v", before.Spec.Ports, after.Spec.Ports)
	}
	if got := w.stateCM("mux"); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("state rewritten after a bad edit:\n%s", got.Data["allocations.json"])
	}

	fix := "http:30080"
	w.setAnnotation("api", w.key("external-ports"), &fix)
	fixed := w.waitAccepted("api", "http:80->30080")
	if after := w.waitMuxPorts("mux", port); !reflect.DeepEqual(after.Spec.Ports, before.Spec.Ports) {
		t.Errorf("mux ports after the fix:\n%+v\nwant\n%+v", after.Spec.Ports, before.Spec.Ports)
	}
	if !reflect.DeepEqual(fixed.Status.LoadBalancer, good.Status.LoadBalancer) {
		t.Errorf("status.loadBalancer after the fix %v, want %v", fixed.Status.LoadBalancer, good.Status.LoadBalancer)
	}
	w.waitState("mux", doc)
}

// A GKE-backed mux is capped at 100 ports: of 101 one-port channels the last by
// name is refused, and the mux says why.
func TestAGKEMuxIsCappedAtOneHundredPorts(t *testing.T) {
	w := newMuxWorld(t)
	began := time.Now()
	w.createMux("mux", map[string]string{"cloud.google.com/l4-rbs": "enabled"})
	var list []*corev1.Service
	var want []pubPort
	for i := range 101 {
		name := fmt.Sprintf("ch-%03d", i)
		list = append(list, w.channelObject(name, "mux", nil, chanTCP("http", int32(20000+i))))
		if i < 100 {
			want = append(want, w.hp(name, "http", int32(20000+i)))
		}
	}
	w.createServices(list)
	created := time.Since(began)
	a := w.startAgent()
	w.waitMuxPorts("mux", want...)
	w.assertNoPortsAnnotation(w.waitRefused("ch-100", "MuxPortLimitExceeded",
		fmt.Sprintf("mux %s/mux is limited to 100 port(s) and serves 100; channel %s/ch-100 needs 1 more", w.ns, w.ns)))
	allAccepted := func() (bool, string) {
		svcs, err := w.c.CoreV1().Services(w.ns).List(w.ctx(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		accepted := 0
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if c := w.accepted(s); c != nil && c.Status == metav1.ConditionTrue &&
				s.Annotations[w.key("ports")] == fmt.Sprintf("http:%d->%d", s.Spec.Ports[0].Port, s.Spec.Ports[0].Port) {
				accepted++
			}
		}
		return accepted == 100, fmt.Sprintf("%d channels accepted", accepted)
	}
	controlplane.Eventually(t, waitLimit, allAccepted)
	w.waitEvent("mux", "Warning", "GkePortLimitApplied", "limit of 100 ports")
	w.waitEvent("ch-100", "Warning", "MuxPortLimitExceeded", "limited to 100 port(s)")
	t.Logf("GKE cap: 101 channels created in %v; converged %v after start (agent writes %d)",
		created.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), settleWrites(t, a, 500*time.Millisecond))
}

// Channel external-dns hostnames are aggregated onto the mux, de-duplicated in
// channel order; a hostname the user set on a mux is left alone and each
// channel that asked is told.
func TestExternalDNSHostnamesAreAggregatedUnlessTheUserOwnsTheKey(t *testing.T) {
	const hostKey = "external-dns.alpha.kubernetes.io/hostname"
	w := newMuxWorld(t)
	w.createMux("mux", nil)
	w.createChannel("a", "mux", map[string]string{w.key("external-dns-hostname"): "a.example.com"}, chanTCP("http", 8080))
	w.createChannel("b", "mux", map[string]string{w.key("external-dns-hostname"): "b.example.com,a.example.com"}, chanTCP("http", 8081))
	w.createChannel("c", "mux", nil, chanTCP("http", 8082))

	w.createMux("usermux", map[string]string{hostKey: "user.example.com"})
	w.createChannel("ua", "usermux", map[string]string{w.key("external-dns-hostname"): "x.example.com"}, chanTCP("http", 8080))
	w.createChannel("ub", "usermux", map[string]string{w.key("external-dns-hostname"): "y.example.com"}, chanTCP("http", 8081))
	w.createChannel("uc", "usermux", nil, chanTCP("http", 8082))
	a := w.startAgent()

	for _, ch := range []struct{ name, ann string }{{"a", "http:8080->8080"}, {"b", "http:8081->8081"}, {"c", "http:8082->8082"},
		{"ua", "http:8080->8080"}, {"ub", "http:8081->8081"}, {"uc", "http:8082->8082"}} {
		w.waitAccepted(ch.name, ch.ann)
	}
	controlplane.Eventually(t, waitLimit, func() (bool, string) {
		m := w.svc("mux")
		return m.Annotations[hostKey] == "a.example.com,b.example.com" && m.Annotations[w.key("aggregated-external-dns")] == hostKey,
			fmt.Sprintf("mux annotations %v", m.Annotations)
	})
	m := w.svc("mux")
	if _, ok := m.Annotations["external-dns.alpha.kubernetes.io/cloudflare-proxied"]; ok {
		t.Errorf("cloudflare-proxied set on the mux though no channel asked: %v", m.Annotations)
	}

	for _, ch := range []string{"ua", "ub"} {
		w.waitEvent(ch, "Warning", "MuxExternalDnsAnnotationConflict", hostKey)
	}
	settleWrites(t, a, time.Second)
	w.assertNoEvent("uc", "MuxExternalDnsAnnotationConflict")
	for _, ch := range []string{"a", "b", "c"} {
		w.assertNoEvent(ch, "MuxExternalDnsAnnotationConflict")
	}
	um := w.svc("usermux")
	if got := um.Annotations[hostKey]; got != "user.example.com" {
		t.Errorf("user-owned hostname on usermux changed to %q", got)
	}
	if got, ok := um.Annotations[w.key("aggregated-external-dns")]; ok {
		t.Errorf("usermux lists %q as agent-owned external-dns keys, want none", got)
	}
}

// An annotated Service that cannot be a mux is reported and left alone; a
// channel naming a missing mux is told so on its condition, and accepted once
// the mux exists; an accepted channel's condition follows its generation.
func TestInvalidMuxesAndMissingMuxesAreReportedAndGoodChannelsAccepted(t *testing.T) {
	w := newMuxWorld(t)
	sel := w.createMux("selmux", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} })
	cip := w.createMux("cipmux", nil, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
	w.createChannel("onsel", "selmux", nil, chanTCP("http", 8080))
	w.createChannel("lost", "ghost", nil, chanTCP("http", 8080))
	w.createMux("mux", nil)
	w.createChannel("good", "mux", nil, chanTCP("http", 8080))
	a := w.startAgent()

	w.waitEvent("selmux", "Warning", "NotSupported", "selector")
	w.waitEvent("cipmux", "Warning", "NotLoadBalancer", `"ClusterIP"`)
	missing := fmt.Sprintf("names mux %s/ghost, which does not exist", w.ns)
	lost := w.waitRefused("lost", "MuxNotFound", missing)
	w.assertNoPortsAnnotation(lost)
	w.waitEvent("lost", "Warning", "MuxNotFound", missing)

	good := w.waitAccepted("good", "http:8080->8080")
	cond := w.accepted(good)
	if cond.ObservedGeneration != good.Generation || cond.Message == "" || cond.LastTransitionTime.IsZero() {
		t.Errorf("good channel condition %+v, want observedGeneration %d, a message and a transition time", cond, good.Generation)
	}
	settleWrites(t, a, time.Second)
	for _, m := range []*corev1.Service{sel, cip} {
		now := w.svc(m.Name)
		if now.ResourceVersion != m.ResourceVersion {
			t.Errorf("invalid mux %s was written: %v %v", m.Name, now.Spec.Ports, now.Annotations)
		}
		if w.stateCM(m.Name) != nil {
			t.Errorf("invalid mux %s got a state ConfigMap", m.Name)
		}
	}
	if s := w.svc("onsel"); w.accepted(s) != nil && w.accepted(s).Status == metav1.ConditionTrue {
		t.Errorf("a channel of an invalid mux is accepted: %s", w.describe(s))
	}

	// After a spec change the condition is for the current generation (the API
	// server may leave a Service's generation at 0), and its lastTransitionTime
	// stays: the status did not flip.
	w.patchService("good", `{"spec":{"ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"admin","port":9000,"protocol":"TCP"}]}}`)
	regen := w.waitAccepted("good", "http:8080->8080, admin:9000->9000")
	if got := w.accepted(regen); got.ObservedGeneration != regen.Generation || !got.LastTransitionTime.Equal(&cond.LastTransitionTime) {
		t.Errorf("condition after a spec change %+v; want observedGeneration %d and lastTransitionTime %v", got, regen.Generation, cond.LastTransitionTime)
	}
	t.Logf("Service generation before/after a spec change: %d/%d", cond.ObservedGeneration, regen.Generation)

	// The missing mux appears: the lost channel is accepted.
	appeared := time.Now()
	w.createMux("ghost", nil)
	w.waitAccepted("lost", "http:8080->8080")
	t.Logf("channel of the new mux accepted %v after the mux appeared", time.Since(appeared).Round(time.Millisecond))
	if c := w.accepted(w.svc("lost")); !strings.Contains(c.Message, "ghost") {
		t.Errorf("accepted message %q does not name the mux", c.Message)
	}
}
