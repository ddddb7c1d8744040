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
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/test/world"
)

// An invalid max-ports freezes the mux as it is — even when a new channel
// appears — and fixing it reconciles.
func TestInvalidMaxPortsChangesNothingOnTheMuxUntilFixed(t *testing.T) {
	w := world.New(t)
	w.Quiet() // it counts the agent's writes
	w.CreateMux("mux", nil)
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	apiPort := w.MuxPort("api", "http", 8080)
	w.WaitMuxPortsAssigned("mux", apiPort)
	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "api", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080}))
	w.AwaitPassPoking(a, "mux", "api")
	cm := w.State("mux") // after the pass that remembers the NodePorts too

	abc := "abc"
	w.SetAnnotation("mux", "e2e", w.Key("max-ports"), &abc)
	w.WaitEvent("mux", "Warning", "InvalidMaxPorts", `"abc"`)
	// The pokes go to the channel: the frozen mux keeps its resourceVersion.
	w.AwaitPassPoking(a, "mux", "api")
	frozen := w.Service("mux")
	writes := a.Writes(t)

	w.CreateChannel("late", "mux", nil, world.TCP("http", 9090))
	w.AwaitPassPoking(a, "mux", "api") // the agent has seen "late"
	if n := a.Writes(t) - writes; n != 0 {
		t.Errorf("the agent made %d write(s) while max-ports was invalid", n)
	}
	now := w.Service("mux")
	if now.ResourceVersion != frozen.ResourceVersion || !reflect.DeepEqual(now.Spec.Ports, frozen.Spec.Ports) ||
		!reflect.DeepEqual(now.Annotations, frozen.Annotations) {
		t.Errorf("mux changed while max-ports was invalid:\nports %v -> %v\nannotations %v\n-> %v",
			frozen.Spec.Ports, now.Spec.Ports, frozen.Annotations, now.Annotations)
	}
	if got := w.State("mux"); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("state ConfigMap written while max-ports was invalid")
	}
	w.NoPortsAnnotation(w.Service("late"))
	w.WaitAccepted("api", "http:8080->8080")

	five := " 5 " // whitespace is trimmed
	w.SetAnnotation("mux", "e2e", w.Key("max-ports"), &five)
	w.WaitAccepted("late", "http:9090->9090")
	fixed := w.WaitMuxPortsAssigned("mux", apiPort, w.MuxPort("late", "http", 9090))
	if got, want := world.NodePorts(fixed)[apiPort.Name], world.NodePorts(frozen)[apiPort.Name]; got != want {
		t.Errorf("api NodePort moved: %d -> %d", want, got)
	}
	w.WaitAccepted("api", "http:8080->8080")
}

// A bad edit of an accepted channel keeps its ports, annotation and ingress;
// the condition and an Event say why; fixing it restores the same ports.
func TestABadEditKeepsAnAcceptedChannelServing(t *testing.T) {
	w := world.New(t)
	mux := w.CreateMux("mux", nil)
	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.7")
	w.CreateChannel("api", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, world.TCP("http", 80))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:80->30080")
	port := w.MuxPort("api", "http", 30080)
	before := w.WaitMuxPortsAssigned("mux", port)
	good := w.WaitChannel("api", func(s *corev1.Service) bool { return len(s.Status.LoadBalancer.Ingress) == 1 })
	if got := good.Status.LoadBalancer.Ingress[0].IP; got != "203.0.113.7" {
		t.Fatalf("channel ingress %v, want the mux's 203.0.113.7", good.Status.LoadBalancer.Ingress)
	}
	doc := w.StateDocument("mux", world.StateClaim{Service: "api", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080})
	w.WaitStateDoc("mux", doc)
	w.AwaitPass(a, "mux")
	cm := w.State("mux") // after the pass that remembers the NodePorts too

	bad := "http:notaport"
	w.SetAnnotation("api", "e2e", w.Key("external-ports"), &bad)
	wantMsg := `invalid item "http:notaport"`
	w.WaitRejected("api", "InvalidPortMapping", wantMsg)
	w.WaitEvent("api", "Warning", "InvalidPortMapping", wantMsg)
	w.AwaitPass(a, "mux")
	refused := w.Service("api") // as the agent left it after looking again
	if got := refused.Annotations[w.Key("ports")]; got != "http:80->30080" {
		t.Errorf("ports annotation %q after a bad edit, want it kept as http:80->30080", got)
	}
	if !reflect.DeepEqual(refused.Status.LoadBalancer, good.Status.LoadBalancer) {
		t.Errorf("status.loadBalancer changed after a bad edit: %v -> %v", good.Status.LoadBalancer, refused.Status.LoadBalancer)
	}
	if after := w.Service("mux"); !reflect.DeepEqual(after.Spec.Ports, before.Spec.Ports) {
		t.Errorf("mux ports changed after a bad edit:\n%+v\n%+v", before.Spec.Ports, after.Spec.Ports)
	}
	if got := w.State("mux"); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("state rewritten after a bad edit:\n%s", got.Data["allocations.json"])
	}

	fix := "http:30080"
	w.SetAnnotation("api", "e2e", w.Key("external-ports"), &fix)
	fixed := w.WaitAccepted("api", "http:80->30080")
	if after := w.WaitMuxPortsAssigned("mux", port); !reflect.DeepEqual(after.Spec.Ports, before.Spec.Ports) {
		t.Errorf("mux ports after the fix:\n%+v\nwant\n%+v", after.Spec.Ports, before.Spec.Ports)
	}
	if !reflect.DeepEqual(fixed.Status.LoadBalancer, good.Status.LoadBalancer) {
		t.Errorf("status.loadBalancer after the fix %v, want %v", fixed.Status.LoadBalancer, good.Status.LoadBalancer)
	}
	w.WaitStateDoc("mux", doc)
}

// A GKE-backed mux is capped at 100 ports: of 101 one-port channels the last by
// name is refused, and the mux says why.
func TestAGKEMuxIsCappedAtOneHundredPorts(t *testing.T) {
	w := world.New(t)
	began := time.Now()
	w.CreateMux("mux", map[string]string{"cloud.google.com/l4-rbs": "enabled"})
	var list []*corev1.Service
	var want []world.Port
	for i := range 101 {
		name := fmt.Sprintf("ch-%03d", i)
		list = append(list, w.ChannelObject(name, "mux", nil, world.TCP("http", int32(20000+i))))
		if i < 100 {
			want = append(want, w.MuxPort(name, "http", int32(20000+i)))
		}
	}
	w.CreateServices(list)
	created := time.Since(began)
	a := w.StartAgent()
	w.WaitMuxPortsAssigned("mux", want...)
	w.NoPortsAnnotation(w.WaitRejected("ch-100", "MuxPortLimitExceeded",
		fmt.Sprintf("mux %s/mux is limited to 100 port(s) and serves 100; channel %s/ch-100 needs 1 more", w.Namespace, w.Namespace)))
	allAccepted := func() (bool, string, error) {
		svcs, err := w.Client.CoreV1().Services(w.Namespace).List(w.Context(), metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		accepted := 0
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if c := w.Accepted(s); c != nil && c.Status == metav1.ConditionTrue &&
				s.Annotations[w.Key("ports")] == fmt.Sprintf("http:%d->%d", s.Spec.Ports[0].Port, s.Spec.Ports[0].Port) {
				accepted++
			}
		}
		return accepted == 100, fmt.Sprintf("%d channels accepted", accepted), nil
	}
	if err := w.Poll(0, allAccepted); err != nil {
		t.Fatal(err)
	}
	w.WaitEvent("mux", "Warning", "GkePortLimitApplied", "limit of 100 ports")
	w.WaitEvent("ch-100", "Warning", "MuxPortLimitExceeded", "limited to 100 port(s)")
	w.AwaitPass(a, "mux")
	t.Logf("GKE cap: 101 channels created in %v; converged %v after start (agent writes %d)",
		created.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), a.Writes(t))
}

// Channel external-dns hostnames are aggregated onto the mux, de-duplicated in
// channel order; a hostname the user set on a mux is left alone and each
// channel that asked is told.
func TestExternalDNSHostnamesAreAggregatedUnlessTheUserOwnsTheKey(t *testing.T) {
	const hostKey = "external-dns.alpha.kubernetes.io/hostname"
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("a", "mux", map[string]string{w.Key("external-dns-hostname"): "a.example.com"}, world.TCP("http", 8080))
	w.CreateChannel("b", "mux", map[string]string{w.Key("external-dns-hostname"): "b.example.com,a.example.com"}, world.TCP("http", 8081))
	w.CreateChannel("c", "mux", nil, world.TCP("http", 8082))

	w.CreateMux("usermux", map[string]string{hostKey: "user.example.com"})
	w.CreateChannel("ua", "usermux", map[string]string{w.Key("external-dns-hostname"): "x.example.com"}, world.TCP("http", 8080))
	w.CreateChannel("ub", "usermux", map[string]string{w.Key("external-dns-hostname"): "y.example.com"}, world.TCP("http", 8081))
	w.CreateChannel("uc", "usermux", nil, world.TCP("http", 8082))
	a := w.StartAgent()

	for _, ch := range []struct{ name, ann string }{{"a", "http:8080->8080"}, {"b", "http:8081->8081"}, {"c", "http:8082->8082"},
		{"ua", "http:8080->8080"}, {"ub", "http:8081->8081"}, {"uc", "http:8082->8082"}} {
		w.WaitAccepted(ch.name, ch.ann)
	}
	w.WaitServiceFor("mux", func(m *corev1.Service) (bool, string) {
		return m.Annotations[hostKey] == "a.example.com,b.example.com" && m.Annotations[w.Key("aggregated-external-dns")] == hostKey,
			fmt.Sprintf("mux annotations %v", m.Annotations)
	})
	m := w.Service("mux")
	if _, ok := m.Annotations["external-dns.alpha.kubernetes.io/cloudflare-proxied"]; ok {
		t.Errorf("cloudflare-proxied set on the mux though no channel asked: %v", m.Annotations)
	}

	for _, ch := range []string{"ua", "ub"} {
		w.WaitEvent(ch, "Warning", "MuxExternalDnsAnnotationConflict", hostKey)
	}
	w.AwaitPass(a, "mux")
	w.AwaitPass(a, "usermux")
	w.NoEvent("uc", "MuxExternalDnsAnnotationConflict")
	for _, ch := range []string{"a", "b", "c"} {
		w.NoEvent(ch, "MuxExternalDnsAnnotationConflict")
	}
	um := w.Service("usermux")
	if got := um.Annotations[hostKey]; got != "user.example.com" {
		t.Errorf("user-owned hostname on usermux changed to %q", got)
	}
	if got, ok := um.Annotations[w.Key("aggregated-external-dns")]; ok {
		t.Errorf("usermux lists %q as agent-owned external-dns keys, want none", got)
	}
}

// An annotated Service that cannot be a mux is reported and left alone; a
// channel naming a missing mux is told so on its condition, and accepted once
// the mux exists; an accepted channel's condition follows its generation.
func TestInvalidMuxesAndMissingMuxesAreReportedAndGoodChannelsAccepted(t *testing.T) {
	w := world.New(t)
	sel := w.CreateMux("selmux", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} })
	cip := w.CreateMux("cipmux", nil, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
	w.CreateChannel("onsel", "selmux", nil, world.TCP("http", 8080))
	w.CreateChannel("lost", "ghost", nil, world.TCP("http", 8080))
	w.CreateMux("mux", nil)
	w.CreateChannel("good", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent()

	w.WaitEvent("selmux", "Warning", "NotSupported", "selector")
	w.WaitEvent("cipmux", "Warning", "NotLoadBalancer", `"ClusterIP"`)
	missing := fmt.Sprintf("names mux %s/ghost, which does not exist", w.Namespace)
	lost := w.WaitRejected("lost", "MuxNotFound", missing)
	w.NoPortsAnnotation(lost)
	w.WaitEvent("lost", "Warning", "MuxNotFound", missing)

	good := w.WaitAccepted("good", "http:8080->8080")
	cond := w.Accepted(good)
	if cond.ObservedGeneration != good.Generation || cond.Message == "" || cond.LastTransitionTime.IsZero() {
		t.Errorf("good channel condition %+v, want observedGeneration %d, a message and a transition time", cond, good.Generation)
	}
	// The invalid muxes' first passes (which posted their Events) have ended:
	// whatever they were going to write is written. No poke: the muxes must
	// keep their resourceVersions.
	w.AwaitPasses(a, "selmux", 1)
	w.AwaitPasses(a, "cipmux", 1)
	w.AwaitPass(a, "mux")
	for _, m := range []*corev1.Service{sel, cip} {
		now := w.Service(m.Name)
		if now.ResourceVersion != m.ResourceVersion {
			t.Errorf("invalid mux %s was written: %v %v", m.Name, now.Spec.Ports, now.Annotations)
		}
		if w.State(m.Name) != nil {
			t.Errorf("invalid mux %s got a state ConfigMap", m.Name)
		}
	}
	if s := w.Service("onsel"); w.Accepted(s) != nil && w.Accepted(s).Status == metav1.ConditionTrue {
		t.Errorf("a channel of an invalid mux is accepted: %s", w.Describe(s))
	}

	// After a spec change the condition is for the current generation (the API
	// server may leave a Service's generation at 0), and its lastTransitionTime
	// stays: the status did not flip.
	w.PatchService("good", "e2e", types.MergePatchType, `{"spec":{"ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"admin","port":9000,"protocol":"TCP"}]}}`)
	regen := w.WaitAccepted("good", "http:8080->8080, admin:9000->9000")
	if got := w.Accepted(regen); got.ObservedGeneration != regen.Generation || !got.LastTransitionTime.Equal(&cond.LastTransitionTime) {
		t.Errorf("condition after a spec change %+v; want observedGeneration %d and lastTransitionTime %v", got, regen.Generation, cond.LastTransitionTime)
	}
	t.Logf("Service generation before/after a spec change: %d/%d", cond.ObservedGeneration, regen.Generation)

	// The missing mux appears: the lost channel is accepted.
	appeared := time.Now()
	w.CreateMux("ghost", nil)
	w.WaitAccepted("lost", "http:8080->8080")
	t.Logf("channel of the new mux accepted %v after the mux appeared", time.Since(appeared).Round(time.Millisecond))
	if c := w.Accepted(w.Service("lost")); !strings.Contains(c.Message, "ghost") {
		t.Errorf("accepted message %q does not name the mux", c.Message)
	}
}
