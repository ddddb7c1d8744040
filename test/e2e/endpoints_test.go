package e2e

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// TestPodReadinessAndTerminationFlowIntoTheMuxEndpointSlices follows pods
// from the channel's EndpointSlices (filled by the real endpointslice
// controller) into svcmux's mux slices: a named targetPort resolving to a
// different number per pod lands in separate mux slices, each under the mux
// port's name with the backend port number, and every endpoint keeps its
// conditions, node and pod reference (SPEC §2 Routing, §6).
func TestPodReadinessAndTerminationFlowIntoTheMuxEndpointSlices(t *testing.T) {
	w := world.New(t)
	mux := w.CreateMux("mux", nil)
	w.CreateChannel("web", "mux", nil,
		corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")})
	a := w.StartAgent()

	node := w.Node("192.0.2.20")
	web := map[string]string{"app": "web"}
	named := func(port int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: "web", ContainerPort: port, Protocol: corev1.ProtocolTCP}
	}
	w.Pod("pod1", web, node, "10.244.1.1", true, named(8081))
	pod2 := w.Pod("pod2", web, node, "10.244.1.2", false, named(8082))
	pod3 := w.Pod("pod3", web, node, "10.244.1.3", true, named(8081))
	w.CP.MarkTerminating(t, pod3)

	hash := world.PortName(w.Namespace, "web", "http")
	pod := func(name string) string { return "Pod/" + w.Namespace + "/" + name }
	want := []world.Endpoint{
		{Addr: "10.244.1.1", Pod: pod("pod1"), Node: node, PortName: hash, Port: 8081, Ready: true, Serving: true},
		{Addr: "10.244.1.2", Pod: pod("pod2"), Node: node, PortName: hash, Port: 8082},
		{Addr: "10.244.1.3", Pod: pod("pod3"), Node: node, PortName: hash, Port: 8081, Serving: true, Terminating: true},
	}
	// The channel's own slices first: the cluster's view, under the channel
	// port's name, which the mux slices must carry over.
	channelWant := slices.Clone(want)
	for i := range channelWant {
		channelWant[i].PortName = "http"
	}
	var channelSlices []discoveryv1.EndpointSlice
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		channelSlices = w.SlicesOf("web", world.ClusterSliceManager)
		got := world.Endpoints(channelSlices, false)
		return reflect.DeepEqual(got, channelWant), fmt.Sprintf("channel endpoints %+v", got)
	})
	if len(channelSlices) != 2 {
		t.Fatalf("the named targetPort resolves to 8081 and 8082: want 2 channel slices, got %d", len(channelSlices))
	}

	muxSlices := w.WaitMuxEndpoints("mux", want)
	if len(muxSlices) != 2 {
		t.Fatalf("want one mux slice per backend port (8081, 8082), got %d: %+v", len(muxSlices), world.Endpoints(muxSlices, true))
	}
	isController := true
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "mux", UID: mux.UID, Controller: &isController}}
	byAddr := map[string]discoveryv1.Endpoint{}
	for _, s := range channelSlices {
		for _, ep := range s.Endpoints {
			byAddr[ep.Addresses[0]] = ep
		}
	}
	ports := map[int32][]string{}
	for _, s := range muxSlices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice %s: addressType %s, want IPv4", s.Name, s.AddressType)
		}
		for k, v := range map[string]string{
			discoveryv1.LabelServiceName: "mux",
			discoveryv1.LabelManagedBy:   world.SliceManager,
			world.LabelManagedBy:         "svc-lb-mux",
			world.LabelComponent:         "mux-endpoints",
		} {
			if s.Labels[k] != v {
				t.Errorf("slice %s: label %s=%q, want %q", s.Name, k, s.Labels[k], v)
			}
		}
		for k, v := range map[string]string{w.Key("managed"): "true", w.Key("mux"): w.Ref("mux"), w.Key("channels"): fmt.Sprintf("[%q]", w.Ref("web"))} {
			if s.Annotations[k] != v {
				t.Errorf("slice %s: annotation %s=%q, want %q", s.Name, k, s.Annotations[k], v)
			}
		}
		if !equality.Semantic.DeepEqual(s.OwnerReferences, owner) {
			t.Errorf("slice %s: ownerReferences %+v, want %+v", s.Name, s.OwnerReferences, owner)
		}
		if len(s.Ports) != 1 || s.Ports[0].Protocol == nil || *s.Ports[0].Protocol != corev1.ProtocolTCP {
			t.Errorf("slice %s: ports %+v, want one TCP port", s.Name, s.Ports)
		}
		for _, ep := range s.Endpoints {
			ports[*s.Ports[0].Port] = append(ports[*s.Ports[0].Port], ep.Addresses[0])
			// Carried from the channel's slice as the cluster wrote it: conditions
			// (nil or not), node, zone, hostname and the pod reference.
			ch := byAddr[ep.Addresses[0]]
			if !equality.Semantic.DeepEqual(ep.Conditions, ch.Conditions) || !reflect.DeepEqual(ep.NodeName, ch.NodeName) ||
				!reflect.DeepEqual(ep.Zone, ch.Zone) || !reflect.DeepEqual(ep.Hostname, ch.Hostname) ||
				!equality.Semantic.DeepEqual(ep.TargetRef, ch.TargetRef) {
				t.Errorf("mux endpoint %s differs from the channel's:\n mux     %+v\n channel %+v", ep.Addresses[0], ep, ch)
			}
			if ep.TargetRef == nil || ep.TargetRef.UID == "" {
				t.Errorf("mux endpoint %s: targetRef %+v lacks the pod UID", ep.Addresses[0], ep.TargetRef)
			}
		}
	}
	if wantPorts := map[int32][]string{8081: {"10.244.1.1", "10.244.1.3"}, 8082: {"10.244.1.2"}}; !reflect.DeepEqual(ports, wantPorts) {
		t.Errorf("addresses by slice port: got %v, want %v", ports, wantPorts)
	}

	got := w.Service("mux")
	if want := []string{hash + " 8080/TCP"}; !reflect.DeepEqual(world.PortIDs(got), want) {
		t.Errorf("mux spec.ports %v, want %v", world.PortIDs(got), want)
	}
	if v := w.Service("web").Annotations[w.Key("ports")]; v != "http:8080->8080" {
		t.Errorf("channel ports annotation %q, want %q", v, "http:8080->8080")
	}
	waitSummary(w, "mux", "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: pending")

	// pod2 becomes ready: its mux endpoint follows, and the summary counts it.
	w.CP.SetPodStatus(t, pod2, "10.244.1.2", true)
	want[1].Ready, want[1].Serving = true, true
	w.WaitMuxEndpoints("mux", want)
	waitSummary(w, "mux", "1 channel(s) | 1 port(s) | 2 pod(s) | DNS: pending")

	// pod1 turns not ready: ready=false (and not serving) on the mux too.
	w.CP.SetPodStatus(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: "pod1"}}, "10.244.1.1", false)
	want[0].Ready, want[0].Serving = false, false
	w.WaitMuxEndpoints("mux", want)
	waitSummary(w, "mux", "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: pending")
	if topo := w.Service("mux").Annotations[w.Key("topology")]; !strings.Contains(topo, "    Backend: 1 pod(s) ready") {
		t.Errorf("topology does not count 1 ready pod:\n%s", topo)
	}
	t.Logf("agent writes by the end: %d (endpointslice %d)", a.Writes(t), a.Writes(t, "kind=endpointslice"))
}

// waitSummary waits for the mux summary annotation.
func waitSummary(w *world.World, mux, want string) {
	w.T().Helper()
	w.WaitServiceFor(mux, func(s *corev1.Service) (bool, string) {
		return s.Annotations[w.Key("summary")] == want, fmt.Sprintf("summary %q, want %q", s.Annotations[w.Key("summary")], want)
	})
}

// TestDeletingAChannelRemovesItsPortsSlicesAndClaims deletes channels one by
// one: each takes its port off the mux (the placeholder comes back with the
// last), its mux slices and its claims (SPEC §2, §3 Claims, §6).
func TestDeletingAChannelRemovesItsPortsSlicesAndClaims(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("a", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("b", "mux", nil, world.TCP("grpc", 9090))
	node := w.Node("192.0.2.20")
	w.Pod("a-0", map[string]string{"app": "a"}, node, "10.244.2.1", true)
	w.Pod("b-0", map[string]string{"app": "b"}, node, "10.244.2.2", true)
	w.StartAgent()

	ha, hb := world.PortName(w.Namespace, "a", "http"), world.PortName(w.Namespace, "b", "grpc")
	w.WaitMuxEndpoints("mux", []world.Endpoint{
		{Addr: "10.244.2.1", Pod: "Pod/" + w.Namespace + "/a-0", Node: node, PortName: ha, Port: 8080, Ready: true, Serving: true},
		{Addr: "10.244.2.2", Pod: "Pod/" + w.Namespace + "/b-0", Node: node, PortName: hb, Port: 9090, Ready: true, Serving: true},
	})
	waitMux(w, "mux", []string{ha + " 8080/TCP", hb + " 9090/TCP"}, fmt.Sprintf("[%q, %q]", w.Ref("a"), w.Ref("b")))
	w.WaitClaims("mux-port-allocations", []world.Claim{w.StaticClaim("a", "http", 8080, 8080), w.StaticClaim("b", "grpc", 9090, 9090)})
	bSlice := ""
	for _, s := range w.MuxSlices("mux") {
		if *s.Ports[0].Name == hb {
			bSlice = s.Name
		}
	}

	if err := w.Client.CoreV1().Services(w.Namespace).Delete(w.Context(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMux(w, "mux", []string{ha + " 8080/TCP"}, fmt.Sprintf("[%q]", w.Ref("a")))
	w.WaitMuxEndpoints("mux", []world.Endpoint{
		{Addr: "10.244.2.1", Pod: "Pod/" + w.Namespace + "/a-0", Node: node, PortName: ha, Port: 8080, Ready: true, Serving: true},
	})
	if _, err := w.Client.DiscoveryV1().EndpointSlices(w.Namespace).Get(w.Context(), bSlice, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("mux slice %s of the deleted channel: want NotFound, got %v", bSlice, err)
	}
	w.WaitClaims("mux-port-allocations", []world.Claim{w.StaticClaim("a", "http", 8080, 8080)})

	if err := w.Client.CoreV1().Services(w.Namespace).Delete(w.Context(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMux(w, "mux", []string{"placeholder 101/TCP"}, "[]")
	w.WaitMuxEndpoints("mux", nil)
	w.WaitClaims("mux-port-allocations", []world.Claim{})
	waitSummary(w, "mux", "0 channel(s) | 0 port(s) | 0 pod(s) | DNS: pending")
}

// waitMux waits until the mux has exactly ports (in order) and the channels annotation.
func waitMux(w *world.World, mux string, ports []string, channels string) *corev1.Service {
	w.T().Helper()
	return w.WaitServiceFor(mux, func(s *corev1.Service) (bool, string) {
		return reflect.DeepEqual(world.PortIDs(s), ports) && s.Annotations[w.Key("channels")] == channels,
			fmt.Sprintf("mux ports %v channels %s; want %v %s", world.PortIDs(s), s.Annotations[w.Key("channels")], ports, channels)
	})
}

// TestAChannelThatLeavesItsMuxIsDetached changes channels' classes — the
// API server allows that only through a non-LoadBalancer type, as a user
// would do it — to another mux, to a non-svcmux class and to a mux that does
// not exist. Each leaves the old mux (ports, channels, claims); the one
// naming another controller's class loses svcmux's annotation, ingress and
// condition (SPEC §5 Rejected and detached channels).
func TestAChannelThatLeavesItsMuxIsDetached(t *testing.T) {
	w := world.New(t)
	mux := w.CreateMux("mux", nil)
	mux2 := w.CreateMux("mux2", nil)
	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.1")
	w.CP.SetLoadBalancerIngress(t, mux2, "203.0.113.2")
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("web", "mux", nil, world.TCP("http", 9090))
	w.CreateChannel("db", "mux", nil, world.TCP("sql", 5432))
	w.StartAgent()

	h := func(svc, port string) string { return world.PortName(w.Namespace, svc, port) }
	waitMux(w, "mux", []string{h("db", "sql") + " 5432/TCP", h("api", "http") + " 8080/TCP", h("web", "http") + " 9090/TCP"},
		fmt.Sprintf("[%q, %q, %q]", w.Ref("api"), w.Ref("db"), w.Ref("web")))
	for _, name := range []string{"api", "web", "db"} {
		w.WaitServiceFor(name, func(s *corev1.Service) (bool, string) {
			c := w.Accepted(s)
			return c != nil && c.Status == metav1.ConditionTrue && len(s.Status.LoadBalancer.Ingress) == 1 &&
				s.Status.LoadBalancer.Ingress[0].IP == "203.0.113.1", w.DescribeAll(s)
		})
	}

	reclass := func(name string, class *string) {
		w.UpdateService(name, "", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
		w.UpdateService(name, "", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.LoadBalancerClass = corev1.ServiceTypeLoadBalancer, class
		})
	}
	reclass("api", world.Ptr(w.Class("mux2")))
	reclass("web", world.Ptr("example.com/other-lb"))
	reclass("db", world.Ptr(w.Class("ghost")))

	waitMux(w, "mux", []string{"placeholder 101/TCP"}, "[]")
	waitMux(w, "mux2", []string{h("api", "http") + " 8080/TCP"}, fmt.Sprintf("[%q]", w.Ref("api")))
	w.WaitClaims("mux-port-allocations", []world.Claim{})
	w.WaitClaims("mux2-port-allocations", []world.Claim{w.StaticClaim("api", "http", 8080, 8080)})

	// To another mux: served there, with that mux's ingress.
	w.WaitServiceFor("api", func(s *corev1.Service) (bool, string) {
		c := w.Accepted(s)
		ok := s.Annotations[w.Key("ports")] == "http:8080->8080" && c != nil && c.Status == metav1.ConditionTrue &&
			c.Reason == "Accepted" && strings.Contains(c.Message, w.Ref("mux2")) &&
			len(s.Status.LoadBalancer.Ingress) == 1 && s.Status.LoadBalancer.Ingress[0].IP == "203.0.113.2"
		return ok, w.DescribeAll(s)
	})
	// Another controller's class: nothing of svcmux's is left.
	w.WaitServiceFor("web", func(s *corev1.Service) (bool, string) {
		_, has := s.Annotations[w.Key("ports")]
		return !has && w.Accepted(s) == nil && len(s.Status.LoadBalancer.Ingress) == 0, w.DescribeAll(s)
	})
	// A mux that does not exist: no ports, no ingress, and the condition says why.
	w.WaitServiceFor("db", func(s *corev1.Service) (bool, string) {
		_, has := s.Annotations[w.Key("ports")]
		c := w.Accepted(s)
		return !has && len(s.Status.LoadBalancer.Ingress) == 0 && c != nil && c.Status == metav1.ConditionFalse &&
			c.Reason == "MuxNotFound" && c.ObservedGeneration == s.Generation, w.DescribeAll(s)
	})
}

// TestTheAcceptedConditionTellsAcceptanceAndTheRejectionReason checks the
// channel condition (SPEC §5 Channel condition): True/Accepted with the
// observed generation; False with MuxPortConflict for a newcomer asking an
// owned explicit port even though it sorts first; lastTransitionTime moves
// only when the status flips; fixing the newcomer accepts it.
func TestTheAcceptedConditionTellsAcceptanceAndTheRejectionReason(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("zzz", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)})
	node := w.Node("192.0.2.20")
	w.Pod("zzz-0", map[string]string{"app": "zzz"}, node, "10.244.8.1", true)
	w.Pod("aaa-0", map[string]string{"app": "aaa"}, node, "10.244.8.2", true)
	a := w.StartAgent()
	hz, ha := world.PortName(w.Namespace, "zzz", "http"), world.PortName(w.Namespace, "aaa", "http")
	zzzEP := world.Endpoint{Addr: "10.244.8.1", Pod: "Pod/" + w.Namespace + "/zzz-0", Node: node, PortName: hz, Port: 80, Ready: true, Serving: true}
	aaaEP := world.Endpoint{Addr: "10.244.8.2", Pod: "Pod/" + w.Namespace + "/aaa-0", Node: node, PortName: ha, Port: 80, Ready: true, Serving: true}

	owner := w.WaitServiceFor("zzz", func(s *corev1.Service) (bool, string) {
		c := w.Accepted(s)
		return c != nil && c.Status == metav1.ConditionTrue, w.DescribeAll(s)
	})
	c := w.Accepted(owner)
	wantMsg := fmt.Sprintf("channel %s is served by mux %s: http:80->30080", w.Ref("zzz"), w.Ref("mux"))
	if c.Reason != "Accepted" || c.Message != wantMsg || c.ObservedGeneration != owner.Generation || c.LastTransitionTime.IsZero() {
		t.Errorf("owner condition: %s; want True Accepted gen=%d msg=%q", world.ConditionString(c), owner.Generation, wantMsg)
	}
	if owner.Annotations[w.Key("ports")] != "http:80->30080" {
		t.Errorf("owner ports annotation %q", owner.Annotations[w.Key("ports")])
	}
	ownerLTT := c.LastTransitionTime

	// The newcomer sorts first but the port is owned.
	w.CreateChannel("aaa", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)})
	wantConflict := fmt.Sprintf("channel %s: 30080/TCP is already claimed by %s:%s", w.Ref("aaa"), w.Ref("zzz"), world.PortName(w.Namespace, "zzz", "http"))
	newcomer := w.WaitServiceFor("aaa", func(s *corev1.Service) (bool, string) {
		c := w.Accepted(s)
		return c != nil && c.Status == metav1.ConditionFalse, w.DescribeAll(s)
	})
	if c := w.Accepted(newcomer); c.Reason != "MuxPortConflict" || c.Message != wantConflict || c.ObservedGeneration != newcomer.Generation {
		t.Errorf("newcomer condition: %s; want False MuxPortConflict gen=%d msg=%q", world.ConditionString(c), newcomer.Generation, wantConflict)
	}
	if _, has := newcomer.Annotations[w.Key("ports")]; has || len(newcomer.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("rejected newcomer must have no ports annotation and no ingress: %s", w.DescribeAll(newcomer))
	}
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		evs := w.SvcmuxEvents()
		for _, ev := range evs {
			if ev.InvolvedObject.Name == "aaa" && ev.Reason == "MuxPortConflict" && ev.Type == corev1.EventTypeWarning && ev.Message == wantConflict {
				return true, ""
			}
		}
		return false, "no Warning MuxPortConflict event on aaa:" + world.EventsText(evs)
	})
	if got := w.Service("mux"); !reflect.DeepEqual(world.PortIDs(got), []string{hz + " 30080/TCP"}) {
		t.Errorf("mux ports %v: the owner must keep 30080", world.PortIDs(got))
	}
	// A rejected channel's backends are not routed.
	w.WaitMuxEndpoints("mux", []world.Endpoint{zzzEP})

	// A spec change on the owner does not flip its status, so its
	// lastTransitionTime stays. (The API server of this version leaves
	// metadata.generation of Services at 0, so observedGeneration stays 0 too.)
	pastSecondOf(ownerLTT) // so a rewritten time would show as a later second
	w.UpdateService("zzz", "", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(81) })
	zzzEP.Port = 81
	w.WaitMuxEndpoints("mux", []world.Endpoint{zzzEP}) // the agent has seen the change
	w.AwaitPass(a, "mux")                              // and any status write it made has landed
	if s := w.Service("zzz"); !ownerUnflipped(w, s, ownerLTT) {
		t.Errorf("owner after a spec change: %s; want True, lastTransitionTime %s", w.DescribeAll(s), ownerLTT.UTC())
	}

	// Fixing the newcomer flips it to True.
	rejectedLTT := w.Accepted(newcomer).LastTransitionTime
	pastSecondOf(rejectedLTT)
	w.UpdateService("aaa", "", func(s *corev1.Service) { s.Annotations[w.Key("external-ports")] = "http:30081" })
	fixed := w.WaitServiceFor("aaa", func(s *corev1.Service) (bool, string) {
		c := w.Accepted(s)
		return c != nil && c.Status == metav1.ConditionTrue && s.Annotations[w.Key("ports")] == "http:80->30081", w.DescribeAll(s)
	})
	if c := w.Accepted(fixed); c.Reason != "Accepted" || !c.LastTransitionTime.After(rejectedLTT.Time) {
		t.Errorf("fixed newcomer: %s; want Accepted with lastTransitionTime after %s", world.ConditionString(c), rejectedLTT.UTC())
	}
	w.WaitMuxEndpoints("mux", []world.Endpoint{zzzEP, aaaEP})
	waitMux(w, "mux", []string{hz + " 30080/TCP", ha + " 30081/TCP"}, fmt.Sprintf("[%q, %q]", w.Ref("aaa"), w.Ref("zzz")))
}

// TestChannelsCopyTheMuxLoadBalancerStatus plays the cloud on the mux: the
// accepted channel's status.loadBalancer.ingress is the mux's, the rejected
// channel has none, summary and topology show the address; a changed and
// then cleared mux ingress follows (SPEC §5).
func TestChannelsCopyTheMuxLoadBalancerStatus(t *testing.T) {
	w := world.New(t)
	mux := w.CreateMux("mux", nil)
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	// name:auto without a port range on the mux: rejected with InvalidPortMapping.
	w.CreateChannel("bad", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 80))
	a := w.StartAgent()

	ingressOf := func(s *corev1.Service) string { return fmt.Sprintf("%+v", s.Status.LoadBalancer.Ingress) }
	w.WaitServiceFor("bad", func(s *corev1.Service) (bool, string) {
		c := w.Accepted(s)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "InvalidPortMapping", w.DescribeAll(s)
	})
	waitSummary(w, "mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending")
	if topo := w.Service("mux").Annotations[w.Key("topology")]; strings.Contains(topo, "Mux DNS") || !strings.Contains(topo, "    DNS: pending") {
		t.Errorf("topology without mux ingress:\n%s", topo)
	}

	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.10", "mux.example.test")
	// The mux's addresses, with ipMode Proxy on the IP: kube-proxy must not serve a
	// channel's own ports on the shared address (SPEC §5 as svcmux implements it).
	muxIngress := w.Service("mux").Status.LoadBalancer.Ingress
	proxy := corev1.LoadBalancerIPModeProxy
	want := []corev1.LoadBalancerIngress{{IP: "203.0.113.10", IPMode: &proxy}, {Hostname: "mux.example.test"}}
	if len(muxIngress) != 2 || muxIngress[0].IP != "203.0.113.10" || muxIngress[1].Hostname != "mux.example.test" {
		t.Fatalf("mux ingress %+v", muxIngress)
	}
	w.WaitServiceFor("api", func(s *corev1.Service) (bool, string) {
		return equality.Semantic.DeepEqual(s.Status.LoadBalancer.Ingress, want), ingressOf(s) + " want " + fmt.Sprintf("%+v", want)
	})
	waitSummary(w, "mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: 203.0.113.10")
	wantTopo := strings.Join([]string{
		"Mux DNS: 203.0.113.10",
		"",
		"Channels:",
		"  - " + w.Ref("api"),
		"    DNS: 203.0.113.10",
		"    Ports: http:8080->8080",
		"    Backend: 0 pod(s) ready",
		"  - " + w.Ref("bad"),
		"    DNS: 203.0.113.10",
		"    Ports: http:80->pending",
		"    Backend: 0 pod(s) ready",
		"",
		"Summary: 2 channel(s), 2 port(s), 0 backend pod(s)",
	}, "\n")
	if topo := w.Service("mux").Annotations[w.Key("topology")]; topo != wantTopo {
		t.Errorf("topology:\n%s\nwant:\n%s", topo, wantTopo)
	}
	w.AwaitPass(a, "mux") // after the ingress was copied to api: bad was passed too
	if s := w.Service("bad"); len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("rejected channel got ingress: %s", ingressOf(s))
	}

	// The cloud moves the address: the channel follows.
	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.11")
	w.WaitServiceFor("api", func(s *corev1.Service) (bool, string) {
		in := s.Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == "203.0.113.11" && in[0].Hostname == "", ingressOf(s)
	})
	waitSummary(w, "mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: 203.0.113.11")

	// The load balancer goes away: the copy is cleared too.
	w.CP.SetLoadBalancerIngress(t, mux)
	w.WaitServiceFor("api", func(s *corev1.Service) (bool, string) { return len(s.Status.LoadBalancer.Ingress) == 0, ingressOf(s) })
	waitSummary(w, "mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending")
	if s := w.Service("bad"); len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("rejected channel ingress %s", ingressOf(s))
	}
}

// ownerUnflipped: the owner is still accepted, at its generation, with the
// same ports and the lastTransitionTime it had.
func ownerUnflipped(w *world.World, s *corev1.Service, ltt metav1.Time) bool {
	c := w.Accepted(s)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation &&
		c.LastTransitionTime.Equal(&ltt) && s.Annotations[w.Key("ports")] == "http:80->30080"
}

// pastSecondOf returns once the wall clock is in a later second than ltt: the
// API stores condition times in whole seconds, so only then would a time the
// agent rewrote differ from ltt. Not a wait for the agent: for the clock.
func pastSecondOf(ltt metav1.Time) {
	time.Sleep(time.Until(ltt.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
}
