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

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// TestPodReadinessAndTerminationFlowIntoTheMuxEndpointSlices follows pods
// from the channel's EndpointSlices (filled by the real endpointslice
// controller) into svcmux's mux slices: a named targetPort resolving to a
// different number per pod lands in separate mux slices, each under the mux
// port's name with the backend port number, and every endpoint keeps its
// conditions, node and pod reference (SPEC §2 Routing, §6).
func TestPodReadinessAndTerminationFlowIntoTheMuxEndpointSlices(t *testing.T) {
	e := newEnvB(t)
	mux := e.newMuxB("mux", nil)
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil,
		corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")})
	a := agentrun.Start(t, e.cp.KubeconfigPath())

	node := e.nodeB()
	web := map[string]string{"app": "web"}
	named := func(port int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: "web", ContainerPort: port, Protocol: corev1.ProtocolTCP}
	}
	e.podB("pod1", web, node, "10.244.1.1", true, named(8081))
	pod2 := e.podB("pod2", web, node, "10.244.1.2", false, named(8082))
	pod3 := e.podB("pod3", web, node, "10.244.1.3", true, named(8081))
	e.cp.MarkTerminating(t, pod3)

	hash := muxPortNameB(e.ns, "web", "http")
	pod := func(name string) string { return "Pod/" + e.ns + "/" + name }
	want := []epB{
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
	controlplane.Eventually(t, waitB, func() (bool, string) {
		channelSlices = e.slicesByManagerB("web", "endpointslice-controller.k8s.io")
		got := flattenB(channelSlices, false)
		return reflect.DeepEqual(got, channelWant), fmt.Sprintf("channel endpoints %+v", got)
	})
	if len(channelSlices) != 2 {
		t.Fatalf("the named targetPort resolves to 8081 and 8082: want 2 channel slices, got %d", len(channelSlices))
	}

	muxSlices := e.waitMuxEndpointsB("mux", want)
	if len(muxSlices) != 2 {
		t.Fatalf("want one mux slice per backend port (8081, 8082), got %d: %+v", len(muxSlices), flattenB(muxSlices, true))
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
			discoveryv1.LabelManagedBy:   sliceManagerB,
			labelManagedByB:              "svc-lb-mux",
			labelComponentB:              "mux-endpoints",
		} {
			if s.Labels[k] != v {
				t.Errorf("slice %s: label %s=%q, want %q", s.Name, k, s.Labels[k], v)
			}
		}
		for k, v := range map[string]string{annManagedB: "true", annMuxRefB: e.refB("mux"), annChannelsB: fmt.Sprintf("[%q]", e.refB("web"))} {
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

	got := e.svcB("mux")
	if want := []string{hash + " 8080/TCP"}; !reflect.DeepEqual(portIDsB(got), want) {
		t.Errorf("mux spec.ports %v, want %v", portIDsB(got), want)
	}
	if v := e.svcB("web").Annotations[annPortsB]; v != "http:8080->8080" {
		t.Errorf("channel ports annotation %q, want %q", v, "http:8080->8080")
	}
	e.waitSummaryB("mux", "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: pending")

	// pod2 becomes ready: its mux endpoint follows, and the summary counts it.
	e.cp.SetPodStatus(t, pod2, "10.244.1.2", true)
	want[1].Ready, want[1].Serving = true, true
	e.waitMuxEndpointsB("mux", want)
	e.waitSummaryB("mux", "1 channel(s) | 1 port(s) | 2 pod(s) | DNS: pending")

	// pod1 turns not ready: ready=false (and not serving) on the mux too.
	e.cp.SetPodStatus(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "pod1"}}, "10.244.1.1", false)
	want[0].Ready, want[0].Serving = false, false
	e.waitMuxEndpointsB("mux", want)
	e.waitSummaryB("mux", "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: pending")
	if topo := e.svcB("mux").Annotations[annTopologyB]; !strings.Contains(topo, "    Backend: 1 pod(s) ready") {
		t.Errorf("topology does not count 1 ready pod:\n%s", topo)
	}
	t.Logf("agent writes by the end: %d (endpointslice %d)", a.Writes(t), a.Writes(t, "kind=endpointslice"))
}

// waitMuxEndpointsB waits until svcmux's slices of mux carry exactly want.
func (e *envB) waitMuxEndpointsB(mux string, want []epB) []discoveryv1.EndpointSlice {
	e.t.Helper()
	var got []discoveryv1.EndpointSlice
	controlplane.Eventually(e.t, waitB, func() (bool, string) {
		got = e.muxSlicesB(mux)
		eps := flattenB(got, false)
		return reflect.DeepEqual(eps, want), fmt.Sprintf("%d mux slices, endpoints %+v, want %+v", len(got), eps, want)
	})
	return got
}

// waitSummaryB waits for the mux summary annotation.
func (e *envB) waitSummaryB(mux, want string) {
	e.t.Helper()
	e.waitSvcB(mux, func(s *corev1.Service) (bool, string) {
		return s.Annotations[annSummaryB] == want, fmt.Sprintf("summary %q, want %q", s.Annotations[annSummaryB], want)
	})
}

// TestDeletingAChannelRemovesItsPortsSlicesAndClaims deletes channels one by
// one: each takes its port off the mux (the placeholder comes back with the
// last), its mux slices and its claims (SPEC §2, §3 Claims, §6).
func TestDeletingAChannelRemovesItsPortsSlicesAndClaims(t *testing.T) {
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("a", e.classB("mux"), map[string]string{"app": "a"}, nil, tcpB("http", 8080))
	e.newChannelB("b", e.classB("mux"), map[string]string{"app": "b"}, nil, tcpB("grpc", 9090))
	node := e.nodeB()
	e.podB("a-0", map[string]string{"app": "a"}, node, "10.244.2.1", true)
	e.podB("b-0", map[string]string{"app": "b"}, node, "10.244.2.2", true)
	agentrun.Start(t, e.cp.KubeconfigPath())

	ha, hb := muxPortNameB(e.ns, "a", "http"), muxPortNameB(e.ns, "b", "grpc")
	e.waitMuxEndpointsB("mux", []epB{
		{Addr: "10.244.2.1", Pod: "Pod/" + e.ns + "/a-0", Node: node, PortName: ha, Port: 8080, Ready: true, Serving: true},
		{Addr: "10.244.2.2", Pod: "Pod/" + e.ns + "/b-0", Node: node, PortName: hb, Port: 9090, Ready: true, Serving: true},
	})
	e.waitMuxB("mux", []string{ha + " 8080/TCP", hb + " 9090/TCP"}, fmt.Sprintf("[%q, %q]", e.refB("a"), e.refB("b")))
	e.waitClaimsB("mux-port-allocations", []claimB{e.staticClaimB("a", "http", 8080, 8080), e.staticClaimB("b", "grpc", 9090, 9090)})
	bSlice := ""
	for _, s := range e.muxSlicesB("mux") {
		if *s.Ports[0].Name == hb {
			bSlice = s.Name
		}
	}

	if err := e.c.CoreV1().Services(e.ns).Delete(e.ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitMuxB("mux", []string{ha + " 8080/TCP"}, fmt.Sprintf("[%q]", e.refB("a")))
	e.waitMuxEndpointsB("mux", []epB{
		{Addr: "10.244.2.1", Pod: "Pod/" + e.ns + "/a-0", Node: node, PortName: ha, Port: 8080, Ready: true, Serving: true},
	})
	if _, err := e.c.DiscoveryV1().EndpointSlices(e.ns).Get(e.ctx, bSlice, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("mux slice %s of the deleted channel: want NotFound, got %v", bSlice, err)
	}
	e.waitClaimsB("mux-port-allocations", []claimB{e.staticClaimB("a", "http", 8080, 8080)})

	if err := e.c.CoreV1().Services(e.ns).Delete(e.ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitMuxB("mux", []string{"placeholder 101/TCP"}, "[]")
	e.waitMuxEndpointsB("mux", nil)
	e.waitClaimsB("mux-port-allocations", []claimB{})
	e.waitSummaryB("mux", "0 channel(s) | 0 port(s) | 0 pod(s) | DNS: pending")
}

// waitMuxB waits until the mux has exactly ports (in order) and the channels annotation.
func (e *envB) waitMuxB(mux string, ports []string, channels string) *corev1.Service {
	e.t.Helper()
	return e.waitSvcB(mux, func(s *corev1.Service) (bool, string) {
		return reflect.DeepEqual(portIDsB(s), ports) && s.Annotations[annChannelsB] == channels,
			fmt.Sprintf("mux ports %v channels %s; want %v %s", portIDsB(s), s.Annotations[annChannelsB], ports, channels)
	})
}

// waitClaimsB waits until the state ConfigMap's portClaims are exactly want.
func (e *envB) waitClaimsB(cm string, want []claimB) {
	e.t.Helper()
	controlplane.Eventually(e.t, waitB, func() (bool, string) {
		got, err := claimsB(e.stateCMB(cm))
		if err != nil {
			return false, err.Error()
		}
		if got == nil {
			got = []claimB{}
		}
		return reflect.DeepEqual(got, want), fmt.Sprintf("portClaims %+v, want %+v", got, want)
	})
}

// TestAChannelThatLeavesItsMuxIsDetached changes channels' classes — the
// API server allows that only through a non-LoadBalancer type, as a user
// would do it — to another mux, to a non-svcmux class and to a mux that does
// not exist. Each leaves the old mux (ports, channels, claims); the one
// naming another controller's class loses svcmux's annotation, ingress and
// condition (SPEC §5 Rejected and detached channels).
func TestAChannelThatLeavesItsMuxIsDetached(t *testing.T) {
	e := newEnvB(t)
	mux := e.newMuxB("mux", nil)
	mux2 := e.newMuxB("mux2", nil)
	e.cp.SetLoadBalancerIngress(t, mux, "203.0.113.1")
	e.cp.SetLoadBalancerIngress(t, mux2, "203.0.113.2")
	e.newChannelB("api", e.classB("mux"), map[string]string{"app": "api"}, nil, tcpB("http", 8080))
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil, tcpB("http", 9090))
	e.newChannelB("db", e.classB("mux"), map[string]string{"app": "db"}, nil, tcpB("sql", 5432))
	agentrun.Start(t, e.cp.KubeconfigPath())

	h := func(svc, port string) string { return muxPortNameB(e.ns, svc, port) }
	e.waitMuxB("mux", []string{h("db", "sql") + " 5432/TCP", h("api", "http") + " 8080/TCP", h("web", "http") + " 9090/TCP"},
		fmt.Sprintf("[%q, %q, %q]", e.refB("api"), e.refB("db"), e.refB("web")))
	for _, name := range []string{"api", "web", "db"} {
		e.waitSvcB(name, func(s *corev1.Service) (bool, string) {
			c := acceptedB(s)
			return c != nil && c.Status == metav1.ConditionTrue && len(s.Status.LoadBalancer.Ingress) == 1 &&
				s.Status.LoadBalancer.Ingress[0].IP == "203.0.113.1", svcStateB(s)
		})
	}

	reclass := func(name string, class *string) {
		e.updateSvcB(name, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
		e.updateSvcB(name, func(s *corev1.Service) {
			s.Spec.Type, s.Spec.LoadBalancerClass = corev1.ServiceTypeLoadBalancer, class
		})
	}
	reclass("api", ptrB(e.classB("mux2")))
	reclass("web", ptrB("example.com/other-lb"))
	reclass("db", ptrB(e.classB("ghost")))

	e.waitMuxB("mux", []string{"placeholder 101/TCP"}, "[]")
	e.waitMuxB("mux2", []string{h("api", "http") + " 8080/TCP"}, fmt.Sprintf("[%q]", e.refB("api")))
	e.waitClaimsB("mux-port-allocations", []claimB{})
	e.waitClaimsB("mux2-port-allocations", []claimB{e.staticClaimB("api", "http", 8080, 8080)})

	// To another mux: served there, with that mux's ingress.
	e.waitSvcB("api", func(s *corev1.Service) (bool, string) {
		c := acceptedB(s)
		ok := s.Annotations[annPortsB] == "http:8080->8080" && c != nil && c.Status == metav1.ConditionTrue &&
			c.Reason == "Accepted" && strings.Contains(c.Message, e.refB("mux2")) &&
			len(s.Status.LoadBalancer.Ingress) == 1 && s.Status.LoadBalancer.Ingress[0].IP == "203.0.113.2"
		return ok, svcStateB(s)
	})
	// Another controller's class: nothing of svcmux's is left.
	e.waitSvcB("web", func(s *corev1.Service) (bool, string) {
		_, has := s.Annotations[annPortsB]
		return !has && acceptedB(s) == nil && len(s.Status.LoadBalancer.Ingress) == 0, svcStateB(s)
	})
	// A mux that does not exist: no ports, no ingress, and the condition says why.
	e.waitSvcB("db", func(s *corev1.Service) (bool, string) {
		_, has := s.Annotations[annPortsB]
		c := acceptedB(s)
		return !has && len(s.Status.LoadBalancer.Ingress) == 0 && c != nil && c.Status == metav1.ConditionFalse &&
			c.Reason == "MuxNotFound" && c.ObservedGeneration == s.Generation, svcStateB(s)
	})
}

// TestTheAcceptedConditionTellsAcceptanceAndTheRejectionReason checks the
// channel condition (SPEC §5 Channel condition): True/Accepted with the
// observed generation; False with MuxPortConflict for a newcomer asking an
// owned explicit port even though it sorts first; lastTransitionTime moves
// only when the status flips; fixing the newcomer accepts it.
func TestTheAcceptedConditionTellsAcceptanceAndTheRejectionReason(t *testing.T) {
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("zzz", e.classB("mux"), map[string]string{"app": "zzz"},
		map[string]string{annExternalB: "http:30080"}, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)})
	node := e.nodeB()
	e.podB("zzz-0", map[string]string{"app": "zzz"}, node, "10.244.8.1", true)
	e.podB("aaa-0", map[string]string{"app": "aaa"}, node, "10.244.8.2", true)
	agentrun.Start(t, e.cp.KubeconfigPath())
	hz, ha := muxPortNameB(e.ns, "zzz", "http"), muxPortNameB(e.ns, "aaa", "http")
	zzzEP := epB{Addr: "10.244.8.1", Pod: "Pod/" + e.ns + "/zzz-0", Node: node, PortName: hz, Port: 80, Ready: true, Serving: true}
	aaaEP := epB{Addr: "10.244.8.2", Pod: "Pod/" + e.ns + "/aaa-0", Node: node, PortName: ha, Port: 80, Ready: true, Serving: true}

	owner := e.waitSvcB("zzz", func(s *corev1.Service) (bool, string) {
		c := acceptedB(s)
		return c != nil && c.Status == metav1.ConditionTrue, svcStateB(s)
	})
	c := acceptedB(owner)
	wantMsg := fmt.Sprintf("channel %s is served by mux %s: http:80->30080", e.refB("zzz"), e.refB("mux"))
	if c.Reason != "Accepted" || c.Message != wantMsg || c.ObservedGeneration != owner.Generation || c.LastTransitionTime.IsZero() {
		t.Errorf("owner condition: %s; want True Accepted gen=%d msg=%q", condStringB(c), owner.Generation, wantMsg)
	}
	if owner.Annotations[annPortsB] != "http:80->30080" {
		t.Errorf("owner ports annotation %q", owner.Annotations[annPortsB])
	}
	ownerLTT := c.LastTransitionTime

	// The newcomer sorts first but the port is owned.
	e.newChannelB("aaa", e.classB("mux"), map[string]string{"app": "aaa"},
		map[string]string{annExternalB: "http:30080"}, corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80)})
	wantConflict := fmt.Sprintf("channel %s: 30080/TCP is already claimed by %s:%s", e.refB("aaa"), e.refB("zzz"), muxPortNameB(e.ns, "zzz", "http"))
	newcomer := e.waitSvcB("aaa", func(s *corev1.Service) (bool, string) {
		c := acceptedB(s)
		return c != nil && c.Status == metav1.ConditionFalse, svcStateB(s)
	})
	if c := acceptedB(newcomer); c.Reason != "MuxPortConflict" || c.Message != wantConflict || c.ObservedGeneration != newcomer.Generation {
		t.Errorf("newcomer condition: %s; want False MuxPortConflict gen=%d msg=%q", condStringB(c), newcomer.Generation, wantConflict)
	}
	if _, has := newcomer.Annotations[annPortsB]; has || len(newcomer.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("rejected newcomer must have no ports annotation and no ingress: %s", svcStateB(newcomer))
	}
	controlplane.Eventually(t, waitB, func() (bool, string) {
		evs := e.svcmuxEventsB()
		for _, ev := range evs {
			if ev.InvolvedObject.Name == "aaa" && ev.Reason == "MuxPortConflict" && ev.Type == corev1.EventTypeWarning && ev.Message == wantConflict {
				return true, ""
			}
		}
		return false, "no Warning MuxPortConflict event on aaa:" + eventsStringB(evs)
	})
	if got := e.svcB("mux"); !reflect.DeepEqual(portIDsB(got), []string{hz + " 30080/TCP"}) {
		t.Errorf("mux ports %v: the owner must keep 30080", portIDsB(got))
	}
	// A rejected channel's backends are not routed.
	e.waitMuxEndpointsB("mux", []epB{zzzEP})

	// A spec change on the owner does not flip its status, so its
	// lastTransitionTime stays. (The API server of this version leaves
	// metadata.generation of Services at 0, so observedGeneration stays 0 too.)
	time.Sleep(1100 * time.Millisecond) // a rewritten time would show in a later second
	e.updateSvcB("zzz", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(81) })
	holdB(t, 2*time.Second, func() (bool, string) {
		s := e.svcB("zzz")
		c := acceptedB(s)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation &&
				c.LastTransitionTime.Equal(&ownerLTT) && s.Annotations[annPortsB] == "http:80->30080",
			fmt.Sprintf("owner after a spec change: %s; want True, lastTransitionTime %s", svcStateB(s), ownerLTT.UTC())
	})
	zzzEP.Port = 81
	e.waitMuxEndpointsB("mux", []epB{zzzEP})

	// Fixing the newcomer flips it to True.
	rejectedLTT := acceptedB(newcomer).LastTransitionTime
	time.Sleep(1100 * time.Millisecond)
	e.updateSvcB("aaa", func(s *corev1.Service) { s.Annotations[annExternalB] = "http:30081" })
	fixed := e.waitSvcB("aaa", func(s *corev1.Service) (bool, string) {
		c := acceptedB(s)
		return c != nil && c.Status == metav1.ConditionTrue && s.Annotations[annPortsB] == "http:80->30081", svcStateB(s)
	})
	if c := acceptedB(fixed); c.Reason != "Accepted" || !c.LastTransitionTime.After(rejectedLTT.Time) {
		t.Errorf("fixed newcomer: %s; want Accepted with lastTransitionTime after %s", condStringB(c), rejectedLTT.UTC())
	}
	e.waitMuxEndpointsB("mux", []epB{zzzEP, aaaEP})
	e.waitMuxB("mux", []string{hz + " 30080/TCP", ha + " 30081/TCP"}, fmt.Sprintf("[%q, %q]", e.refB("aaa"), e.refB("zzz")))
}

// TestChannelsCopyTheMuxLoadBalancerStatus plays the cloud on the mux: the
// accepted channel's status.loadBalancer.ingress is the mux's, the rejected
// channel has none, summary and topology show the address; a changed and
// then cleared mux ingress follows (SPEC §5).
func TestChannelsCopyTheMuxLoadBalancerStatus(t *testing.T) {
	e := newEnvB(t)
	mux := e.newMuxB("mux", nil)
	e.newChannelB("api", e.classB("mux"), map[string]string{"app": "api"}, nil, tcpB("http", 8080))
	// name:auto without a port range on the mux: rejected with InvalidPortMapping.
	e.newChannelB("bad", e.classB("mux"), map[string]string{"app": "bad"}, map[string]string{annExternalB: "http:auto"}, tcpB("http", 80))
	agentrun.Start(t, e.cp.KubeconfigPath())

	ingressOf := func(s *corev1.Service) string { return fmt.Sprintf("%+v", s.Status.LoadBalancer.Ingress) }
	e.waitSvcB("bad", func(s *corev1.Service) (bool, string) {
		c := acceptedB(s)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "InvalidPortMapping", svcStateB(s)
	})
	e.waitSummaryB("mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending")
	if topo := e.svcB("mux").Annotations[annTopologyB]; strings.Contains(topo, "Mux DNS") || !strings.Contains(topo, "    DNS: pending") {
		t.Errorf("topology without mux ingress:\n%s", topo)
	}

	e.cp.SetLoadBalancerIngress(t, mux, "203.0.113.10", "mux.example.test")
	// The mux's addresses, with ipMode Proxy on the IP: kube-proxy must not serve a
	// channel's own ports on the shared address (SPEC §5 as svcmux implements it).
	muxIngress := e.svcB("mux").Status.LoadBalancer.Ingress
	proxy := corev1.LoadBalancerIPModeProxy
	want := []corev1.LoadBalancerIngress{{IP: "203.0.113.10", IPMode: &proxy}, {Hostname: "mux.example.test"}}
	if len(muxIngress) != 2 || muxIngress[0].IP != "203.0.113.10" || muxIngress[1].Hostname != "mux.example.test" {
		t.Fatalf("mux ingress %+v", muxIngress)
	}
	e.waitSvcB("api", func(s *corev1.Service) (bool, string) {
		return equality.Semantic.DeepEqual(s.Status.LoadBalancer.Ingress, want), ingressOf(s) + " want " + fmt.Sprintf("%+v", want)
	})
	e.waitSummaryB("mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: 203.0.113.10")
	wantTopo := strings.Join([]string{
		"Mux DNS: 203.0.113.10",
		"",
		"Channels:",
		"  - " + e.refB("api"),
		"    DNS: 203.0.113.10",
		"    Ports: http:8080->8080",
		"    Backend: 0 pod(s) ready",
		"  - " + e.refB("bad"),
		"    DNS: 203.0.113.10",
		"    Ports: http:80->pending",
		"    Backend: 0 pod(s) ready",
		"",
		"Summary: 2 channel(s), 2 port(s), 0 backend pod(s)",
	}, "\n")
	if topo := e.svcB("mux").Annotations[annTopologyB]; topo != wantTopo {
		t.Errorf("topology:\n%s\nwant:\n%s", topo, wantTopo)
	}
	holdB(t, time.Second, func() (bool, string) {
		s := e.svcB("bad")
		return len(s.Status.LoadBalancer.Ingress) == 0, "rejected channel got ingress: " + ingressOf(s)
	})

	// The cloud moves the address: the channel follows.
	e.cp.SetLoadBalancerIngress(t, mux, "203.0.113.11")
	e.waitSvcB("api", func(s *corev1.Service) (bool, string) {
		in := s.Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == "203.0.113.11" && in[0].Hostname == "", ingressOf(s)
	})
	e.waitSummaryB("mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: 203.0.113.11")

	// The load balancer goes away: the copy is cleared too.
	e.cp.SetLoadBalancerIngress(t, mux)
	e.waitSvcB("api", func(s *corev1.Service) (bool, string) { return len(s.Status.LoadBalancer.Ingress) == 0, ingressOf(s) })
	e.waitSummaryB("mux", "2 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending")
	if s := e.svcB("bad"); len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("rejected channel ingress %s", ingressOf(s))
	}
}
