package e2e

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// TestLegacyEndpointsModes runs the agent in --endpoints-mode=endpoints (one
// Endpoints object like the Python controller's, no svcmux slices) and
// --endpoints-mode=both (slices too, and the Endpoints carries the
// skip-mirror label, so the cluster mirrors nothing) (SPEC §6).
func TestLegacyEndpointsModes(t *testing.T) {
	for _, mode := range []string{"endpoints", "both"} {
		t.Run(mode, func(t *testing.T) { testLegacyEndpointsModeB(t, mode) })
	}
}

func testLegacyEndpointsModeB(t *testing.T, mode string) {
	e := newEnvB(t)
	mux := e.newMuxB("mux", nil)
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := e.nodeB()
	app := map[string]string{"app": "web"}
	e.podB("ready", app, node, "10.244.3.1", true)
	e.podB("not-ready", app, node, "10.244.3.2", false)
	e.cp.MarkTerminating(t, e.podB("terminating", app, node, "10.244.3.3", true))
	agentrun.Start(t, e.cp.KubeconfigPath(), "--endpoints-mode="+mode)

	hash := muxPortNameB(e.ns, "web", "http")
	ref := func(pod string) *corev1.ObjectReference {
		p, err := e.c.CoreV1().Pods(e.ns).Get(e.ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return &corev1.ObjectReference{Kind: "Pod", Namespace: e.ns, Name: pod, UID: p.UID}
	}
	// Terminating pods are left out, as the endpoints controller does.
	wantSubsets := []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "10.244.3.1", NodeName: &node, TargetRef: ref("ready")}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.3.2", NodeName: &node, TargetRef: ref("not-ready")}},
		Ports:             []corev1.EndpointPort{{Name: hash, Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	var ep *corev1.Endpoints
	controlplane.Eventually(t, waitB, func() (bool, string) {
		var err error
		ep, err = e.c.CoreV1().Endpoints(e.ns).Get(e.ctx, "mux", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return equality.Semantic.DeepEqual(ep.Subsets, wantSubsets), fmt.Sprintf("subsets %+v\nwant %+v", ep.Subsets, wantSubsets)
	})
	wantLabels := map[string]string{labelManagedByB: "svc-lb-mux", labelComponentB: "mux-endpoints"}
	if mode == "both" {
		wantLabels[labelSkipMirrorB] = "true"
	}
	for k, v := range wantLabels {
		if ep.Labels[k] != v {
			t.Errorf("Endpoints label %s=%q, want %q (labels %v)", k, ep.Labels[k], v, ep.Labels)
		}
	}
	if _, has := ep.Labels[labelSkipMirrorB]; mode == "endpoints" && has {
		t.Errorf("endpoints mode: the Endpoints must not carry %s (labels %v)", labelSkipMirrorB, ep.Labels)
	}
	for k, v := range map[string]string{annManagedB: "true", annMuxRefB: e.refB("mux"), annChannelsB: fmt.Sprintf("[%q]", e.refB("web"))} {
		if ep.Annotations[k] != v {
			t.Errorf("Endpoints annotation %s=%q, want %q", k, ep.Annotations[k], v)
		}
	}
	if len(ep.OwnerReferences) != 1 || ep.OwnerReferences[0].UID != mux.UID {
		t.Errorf("Endpoints ownerReferences %+v, want the mux %s", ep.OwnerReferences, mux.UID)
	}

	wantSlices := []epB{
		{Addr: "10.244.3.1", Pod: "Pod/" + e.ns + "/ready", Node: node, PortName: hash, Port: 80, Ready: true, Serving: true},
		{Addr: "10.244.3.2", Pod: "Pod/" + e.ns + "/not-ready", Node: node, PortName: hash, Port: 80},
		{Addr: "10.244.3.3", Pod: "Pod/" + e.ns + "/terminating", Node: node, PortName: hash, Port: 80, Serving: true, Terminating: true},
	}
	switch mode {
	case "endpoints":
		// The cluster mirrors the Endpoints (that is how it routes); svcmux writes no slice.
		controlplane.Eventually(t, waitB, func() (bool, string) {
			m := e.slicesByManagerB("mux", mirrorManagerB)
			return len(m) == 1, fmt.Sprintf("%d mirrored slices", len(m))
		})
		if got := e.muxSlicesB("mux"); len(got) != 0 {
			t.Errorf("endpoints mode: svcmux slices %+v, want none", flattenB(got, true))
		}
	case "both":
		e.waitMuxEndpointsB("mux", wantSlices)
		// The mirroring controller acts within a second when it does (see the
		// endpoints mode); give it three before concluding it does not.
		holdB(t, 3*time.Second, func() (bool, string) {
			m := e.slicesByManagerB("mux", mirrorManagerB)
			return len(m) == 0, fmt.Sprintf("mirrored slices of a skip-mirror Endpoints: %+v", flattenB(m, true))
		})
	}

	// The channel goes: the Endpoints stays, with no subsets; no svcmux slice is left.
	if err := e.c.CoreV1().Services(e.ns).Delete(e.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controlplane.Eventually(t, waitB, func() (bool, string) {
		ep, err := e.c.CoreV1().Endpoints(e.ns).Get(e.ctx, "mux", metav1.GetOptions{})
		if err != nil {
			return false, "the Endpoints must be kept when empty: " + err.Error()
		}
		ours := e.muxSlicesB("mux")
		return len(ep.Subsets) == 0 && len(ours) == 0 && ep.Annotations[annChannelsB] == "[]",
			fmt.Sprintf("subsets %+v, channels %s, svcmux slices %d", ep.Subsets, ep.Annotations[annChannelsB], len(ours))
	})
}

// TestSwitchingEndpointsModesKeepsTheMuxRouted restarts the agent through
// the modes an operator migrates by — endpoints, slices, both, endpoints —
// and checks after each that the mux is routed by exactly one set of slices:
// the cluster's mirror of svcmux's Endpoints when only Endpoints are written
// (so the Endpoints must not keep the skip-mirror label of "both"), svcmux's
// own slices otherwise, and the Endpoints deleted when back to slices
// (SPEC §6).
func TestSwitchingEndpointsModesKeepsTheMuxRouted(t *testing.T) {
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := e.nodeB()
	e.podB("web-0", map[string]string{"app": "web"}, node, "10.244.6.1", true)
	hash := muxPortNameB(e.ns, "web", "http")
	want := []epB{{Addr: "10.244.6.1", Pod: "Pod/" + e.ns + "/web-0", Node: node, PortName: hash, Port: 80, Ready: true, Serving: true}}

	routed := func(step int, mode string) {
		t.Helper()
		controlplane.Eventually(t, waitB, func() (bool, string) {
			ours, mirrored := flattenB(e.muxSlicesB("mux"), false), flattenB(e.slicesByManagerB("mux", mirrorManagerB), false)
			ep, err := e.c.CoreV1().Endpoints(e.ns).Get(e.ctx, "mux", metav1.GetOptions{})
			state := fmt.Sprintf("step %d, mode %s: svcmux slices %+v; mirrored %+v; Endpoints %v", step+1, mode, ours, mirrored, err)
			if err == nil {
				state += fmt.Sprintf(" labels %v", ep.Labels)
			}
			switch mode {
			case "endpoints":
				// The mirror is the cluster's: compare what routing depends on.
				return err == nil && ep.Labels[labelSkipMirrorB] == "" && len(ours) == 0 && sameAddrPortsB(mirrored, want), state
			case "both":
				return err == nil && ep.Labels[labelSkipMirrorB] == "true" && reflect.DeepEqual(ours, want) && len(mirrored) == 0, state
			default: // slices
				return apierrors.IsNotFound(err) && reflect.DeepEqual(ours, want) && len(mirrored) == 0, state
			}
		})
	}
	for step, mode := range []string{"endpoints", "slices", "both", "endpoints"} {
		a := agentrun.Start(t, e.cp.KubeconfigPath(), "--endpoints-mode="+mode)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("agent --endpoints-mode=%s log:\n%s", mode, grepB(a.LogTail(400), e.ns))
			}
		})
		routed(step, mode)
		a.Stop()
	}
}

// sameAddrPortsB compares endpoints by address, port name and number and
// readiness: what routing depends on.
func sameAddrPortsB(got, want []epB) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Addr != w.Addr || g.PortName != w.PortName || g.Port != w.Port || g.Ready != w.Ready {
			return false
		}
	}
	return true
}

// TestMuxSlicesHoldAtMost100Endpoints puts 150 ready pods behind one channel:
// the mux gets two slices, 100 and 50 endpoints (SPEC §6).
func TestMuxSlicesHoldAtMost100Endpoints(t *testing.T) {
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := e.nodeB()
	const n = 150
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e.podB(fmt.Sprintf("web-%03d", i), map[string]string{"app": "web"}, node, fmt.Sprintf("10.244.7.%d", i+1), true)
		}()
	}
	wg.Wait()
	agentrun.Start(t, e.cp.KubeconfigPath())
	var sizes []int
	controlplane.Eventually(t, 30*time.Second, func() (bool, string) {
		sizes = sizes[:0]
		total := 0
		for _, s := range e.muxSlicesB("mux") {
			sizes = append(sizes, len(s.Endpoints))
			total += len(s.Endpoints)
		}
		slices.Sort(sizes)
		return reflect.DeepEqual(sizes, []int{50, 100}), fmt.Sprintf("mux slice sizes %v (%d endpoints)", sizes, total)
	})
	e.waitSummaryB("mux", fmt.Sprintf("1 channel(s) | 1 port(s) | %d pod(s) | DNS: pending", n))
}

// TestDeletingTheMuxUnattachesItsChannelsAndRecreatingItRestoresTheirPorts
// deletes a mux: its slices go with it (owner reference), its channels lose
// their ports annotation and ingress and say MuxNotFound, the state
// ConfigMap stays (no owner reference); created again, the mux gets the same
// ports back, the auto one included (SPEC §4, §5, §6).
func TestDeletingTheMuxUnattachesItsChannelsAndRecreatingItRestoresTheirPorts(t *testing.T) {
	e := newEnvB(t)
	ranged := map[string]string{annPortRangeB: "20000-20099"}
	mux := e.newMuxB("mux", ranged)
	e.cp.SetLoadBalancerIngress(t, mux, "203.0.113.40")
	e.newChannelB("api", e.classB("mux"), map[string]string{"app": "api"}, nil, tcpB("http", 8080))
	// Two auto channels: "b" gets 20000 first, then "a" sorts before it but
	// arrives later and gets 20001; after the mux comes back "a" must not
	// take 20000 by name order.
	e.newChannelB("b", e.classB("mux"), map[string]string{"app": "b"}, map[string]string{annExternalB: "grpc:auto"}, tcpB("grpc", 9090))
	node := e.nodeB()
	e.podB("api-0", map[string]string{"app": "api"}, node, "10.244.9.1", true)
	agentrun.Start(t, e.cp.KubeconfigPath())
	e.servedB("b", "grpc:9090->20000")
	e.newChannelB("a", e.classB("mux"), map[string]string{"app": "a"}, map[string]string{annExternalB: "grpc:auto"}, tcpB("grpc", 9090))
	e.servedB("a", "grpc:9090->20001")
	e.servedB("api", "http:8080->8080")
	e.waitMuxEndpointsB("mux", []epB{{Addr: "10.244.9.1", Pod: "Pod/" + e.ns + "/api-0", Node: node,
		PortName: muxPortNameB(e.ns, "api", "http"), Port: 8080, Ready: true, Serving: true}})
	before := portIDsB(e.svcB("mux"))

	if err := e.c.CoreV1().Services(e.ns).Delete(e.ctx, "mux", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "a", "b"} {
		e.waitSvcB(name, func(s *corev1.Service) (bool, string) {
			_, has := s.Annotations[annPortsB]
			c := acceptedB(s)
			return !has && len(s.Status.LoadBalancer.Ingress) == 0 && c != nil && c.Status == metav1.ConditionFalse &&
				c.Reason == "MuxNotFound", svcStateB(s)
		})
	}
	controlplane.Eventually(t, waitB, func() (bool, string) {
		n := len(e.muxSlicesB("mux"))
		return n == 0, fmt.Sprintf("%d svcmux slices of the deleted mux", n)
	})
	if e.stateCMB("mux-port-allocations") == nil {
		t.Fatalf("the state ConfigMap went with the mux")
	}

	e.newMuxB("mux", ranged)
	e.servedB("b", "grpc:9090->20000")
	e.servedB("a", "grpc:9090->20001")
	e.servedB("api", "http:8080->8080")
	if after := portIDsB(e.svcB("mux")); !reflect.DeepEqual(after, before) {
		t.Errorf("recreated mux ports %v, want %v as before", after, before)
	}
}
