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

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// TestLegacyEndpointsModes runs the agent in --endpoints-mode=endpoints (one
// Endpoints object like the Python controller's, no svcmux slices) and
// --endpoints-mode=both (slices too, and the Endpoints carries the
// skip-mirror label, so the cluster mirrors nothing) (SPEC §6).
func TestLegacyEndpointsModes(t *testing.T) {
	for _, mode := range []string{"endpoints", "both"} {
		t.Run(mode, func(t *testing.T) { testLegacyEndpointsMode(t, mode) })
	}
}

func testLegacyEndpointsMode(t *testing.T, mode string) {
	w := world.New(t)
	mux := w.CreateMux("mux", nil)
	w.CreateChannel("web", "mux", nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := w.Node("192.0.2.20")
	app := map[string]string{"app": "web"}
	w.Pod("ready", app, node, "10.244.3.1", true)
	w.Pod("not-ready", app, node, "10.244.3.2", false)
	w.CP.MarkTerminating(t, w.Pod("terminating", app, node, "10.244.3.3", true))
	w.StartAgent("--endpoints-mode=" + mode)

	hash := world.PortName(w.Namespace, "web", "http")
	ref := func(pod string) *corev1.ObjectReference {
		p, err := w.Client.CoreV1().Pods(w.Namespace).Get(w.Context(), pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return &corev1.ObjectReference{Kind: "Pod", Namespace: w.Namespace, Name: pod, UID: p.UID}
	}
	// Terminating pods are left out, as the endpoints controller does.
	wantSubsets := []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "10.244.3.1", NodeName: &node, TargetRef: ref("ready")}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.3.2", NodeName: &node, TargetRef: ref("not-ready")}},
		Ports:             []corev1.EndpointPort{{Name: hash, Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	var ep *corev1.Endpoints
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		var err error
		ep, err = w.Client.CoreV1().Endpoints(w.Namespace).Get(w.Context(), "mux", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return equality.Semantic.DeepEqual(ep.Subsets, wantSubsets), fmt.Sprintf("subsets %+v\nwant %+v", ep.Subsets, wantSubsets)
	})
	wantLabels := map[string]string{world.LabelManagedBy: "svc-lb-mux", world.LabelComponent: "mux-endpoints"}
	if mode == "both" {
		wantLabels[world.LabelSkipMirror] = "true"
	}
	for k, v := range wantLabels {
		if ep.Labels[k] != v {
			t.Errorf("Endpoints label %s=%q, want %q (labels %v)", k, ep.Labels[k], v, ep.Labels)
		}
	}
	if _, has := ep.Labels[world.LabelSkipMirror]; mode == "endpoints" && has {
		t.Errorf("endpoints mode: the Endpoints must not carry %s (labels %v)", world.LabelSkipMirror, ep.Labels)
	}
	for k, v := range map[string]string{w.Key("managed"): "true", w.Key("mux"): w.Ref("mux"), w.Key("channels"): fmt.Sprintf("[%q]", w.Ref("web"))} {
		if ep.Annotations[k] != v {
			t.Errorf("Endpoints annotation %s=%q, want %q", k, ep.Annotations[k], v)
		}
	}
	if len(ep.OwnerReferences) != 1 || ep.OwnerReferences[0].UID != mux.UID {
		t.Errorf("Endpoints ownerReferences %+v, want the mux %s", ep.OwnerReferences, mux.UID)
	}

	wantSlices := []world.Endpoint{
		{Addr: "10.244.3.1", Pod: "Pod/" + w.Namespace + "/ready", Node: node, PortName: hash, Port: 80, Ready: true, Serving: true},
		{Addr: "10.244.3.2", Pod: "Pod/" + w.Namespace + "/not-ready", Node: node, PortName: hash, Port: 80},
		{Addr: "10.244.3.3", Pod: "Pod/" + w.Namespace + "/terminating", Node: node, PortName: hash, Port: 80, Serving: true, Terminating: true},
	}
	switch mode {
	case "endpoints":
		// The cluster mirrors the Endpoints (that is how it routes); svcmux writes no slice.
		controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
			m := w.SlicesOf("mux", world.MirroringSliceManager)
			return len(m) == 1, fmt.Sprintf("%d mirrored slices", len(m))
		})
		if got := w.MuxSlices("mux"); len(got) != 0 {
			t.Errorf("endpoints mode: svcmux slices %+v, want none", world.Endpoints(got, true))
		}
	case "both":
		w.WaitMuxEndpoints("mux", wantSlices)
		// The positive signal that the mirroring controller has looked: it
		// mirrors a marker Endpoints written after the mux's.
		awaitMirroring(t, w)
		if m := w.SlicesOf("mux", world.MirroringSliceManager); len(m) != 0 {
			t.Errorf("mirrored slices of a skip-mirror Endpoints: %+v", world.Endpoints(m, true))
		}
	}

	// The channel goes: the Endpoints stays, with no subsets; no svcmux slice is left.
	if err := w.Client.CoreV1().Services(w.Namespace).Delete(w.Context(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		ep, err := w.Client.CoreV1().Endpoints(w.Namespace).Get(w.Context(), "mux", metav1.GetOptions{})
		if err != nil {
			return false, "the Endpoints must be kept when empty: " + err.Error()
		}
		ours := w.MuxSlices("mux")
		return len(ep.Subsets) == 0 && len(ours) == 0 && ep.Annotations[w.Key("channels")] == "[]",
			fmt.Sprintf("subsets %+v, channels %s, svcmux slices %d", ep.Subsets, ep.Annotations[w.Key("channels")], len(ours))
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
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("web", "mux", nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := w.Node("192.0.2.20")
	w.Pod("web-0", map[string]string{"app": "web"}, node, "10.244.6.1", true)
	hash := world.PortName(w.Namespace, "web", "http")
	want := []world.Endpoint{{Addr: "10.244.6.1", Pod: "Pod/" + w.Namespace + "/web-0", Node: node, PortName: hash, Port: 80, Ready: true, Serving: true}}

	routed := func(step int, mode string) {
		t.Helper()
		controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
			ours, mirrored := world.Endpoints(w.MuxSlices("mux"), false), world.Endpoints(w.SlicesOf("mux", world.MirroringSliceManager), false)
			ep, err := w.Client.CoreV1().Endpoints(w.Namespace).Get(w.Context(), "mux", metav1.GetOptions{})
			state := fmt.Sprintf("step %d, mode %s: svcmux slices %+v; mirrored %+v; Endpoints %v", step+1, mode, ours, mirrored, err)
			if err == nil {
				state += fmt.Sprintf(" labels %v", ep.Labels)
			}
			switch mode {
			case "endpoints":
				// The mirror is the cluster's: compare what routing depends on.
				return err == nil && ep.Labels[world.LabelSkipMirror] == "" && len(ours) == 0 && sameAddrPorts(mirrored, want), state
			case "both":
				return err == nil && ep.Labels[world.LabelSkipMirror] == "true" && reflect.DeepEqual(ours, want) && len(mirrored) == 0, state
			default: // slices
				return apierrors.IsNotFound(err) && reflect.DeepEqual(ours, want) && len(mirrored) == 0, state
			}
		})
	}
	for step, mode := range []string{"endpoints", "slices", "both", "endpoints"} {
		a := w.StartAgent("--endpoints-mode=" + mode)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("agent --endpoints-mode=%s log:\n%s", mode, a.LogTail(60))
			}
		})
		routed(step, mode)
		a.Stop()
	}
}

// sameAddrPorts compares endpoints by address, port name and number and
// readiness: what routing depends on.
func sameAddrPorts(got, want []world.Endpoint) bool {
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
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("web", "mux", nil,
		corev1.ServicePort{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)})
	node := w.Node("192.0.2.20")
	const n = 150
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.Pod(fmt.Sprintf("web-%03d", i), map[string]string{"app": "web"}, node, fmt.Sprintf("10.244.7.%d", i+1), true)
		}()
	}
	wg.Wait()
	w.StartAgent()
	var sizes []int
	controlplane.Eventually(t, 30*time.Second, func() (bool, string) {
		sizes = sizes[:0]
		total := 0
		for _, s := range w.MuxSlices("mux") {
			sizes = append(sizes, len(s.Endpoints))
			total += len(s.Endpoints)
		}
		slices.Sort(sizes)
		return reflect.DeepEqual(sizes, []int{50, 100}), fmt.Sprintf("mux slice sizes %v (%d endpoints)", sizes, total)
	})
	waitSummary(w, "mux", fmt.Sprintf("1 channel(s) | 1 port(s) | %d pod(s) | DNS: pending", n))
}

// TestDeletingTheMuxUnattachesItsChannelsAndRecreatingItRestoresTheirPorts
// deletes a mux: its slices go with it (owner reference), its channels lose
// their ports annotation and ingress and say MuxNotFound, the state
// ConfigMap stays (no owner reference); created again, the mux gets the same
// ports back, the auto one included (SPEC §4, §5, §6).
func TestDeletingTheMuxUnattachesItsChannelsAndRecreatingItRestoresTheirPorts(t *testing.T) {
	w := world.New(t)
	ranged := map[string]string{w.Key("port-range"): "20000-20099"}
	mux := w.CreateMux("mux", ranged)
	w.CP.SetLoadBalancerIngress(t, mux, "203.0.113.40")
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	// Two auto channels: "b" gets 20000 first, then "a" sorts before it but
	// arrives later and gets 20001; after the mux comes back "a" must not
	// take 20000 by name order.
	w.CreateChannel("b", "mux", map[string]string{w.Key("external-ports"): "grpc:auto"}, world.TCP("grpc", 9090))
	node := w.Node("192.0.2.20")
	w.Pod("api-0", map[string]string{"app": "api"}, node, "10.244.9.1", true)
	w.StartAgent()
	served(w, "b", "grpc:9090->20000")
	w.CreateChannel("a", "mux", map[string]string{w.Key("external-ports"): "grpc:auto"}, world.TCP("grpc", 9090))
	served(w, "a", "grpc:9090->20001")
	served(w, "api", "http:8080->8080")
	w.WaitMuxEndpoints("mux", []world.Endpoint{{Addr: "10.244.9.1", Pod: "Pod/" + w.Namespace + "/api-0", Node: node,
		PortName: world.PortName(w.Namespace, "api", "http"), Port: 8080, Ready: true, Serving: true}})
	before := world.PortIDs(w.Service("mux"))

	if err := w.Client.CoreV1().Services(w.Namespace).Delete(w.Context(), "mux", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "a", "b"} {
		w.WaitServiceFor(name, func(s *corev1.Service) (bool, string) {
			_, has := s.Annotations[w.Key("ports")]
			c := w.Accepted(s)
			return !has && len(s.Status.LoadBalancer.Ingress) == 0 && c != nil && c.Status == metav1.ConditionFalse &&
				c.Reason == "MuxNotFound", w.DescribeAll(s)
		})
	}
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		n := len(w.MuxSlices("mux"))
		return n == 0, fmt.Sprintf("%d svcmux slices of the deleted mux", n)
	})
	if w.ConfigMap("mux-port-allocations") == nil {
		t.Fatalf("the state ConfigMap went with the mux")
	}

	w.CreateMux("mux", ranged)
	served(w, "b", "grpc:9090->20000")
	served(w, "a", "grpc:9090->20001")
	served(w, "api", "http:8080->8080")
	if after := world.PortIDs(w.Service("mux")); !reflect.DeepEqual(after, before) {
		t.Errorf("recreated mux ports %v, want %v as before", after, before)
	}
}

// awaitMirroring creates a selector-less Service "mirror-marker" with an
// Endpoints (no skip-mirror label) and waits until the cluster's mirroring
// controller has made its slice: by then it has handled the Endpoints
// written before the marker, so a mirror it did not make is one it will not
// make.
func awaitMirroring(t *testing.T, w *world.World) {
	t.Helper()
	w.CreateService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "mirror-marker", Namespace: w.Namespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{world.TCP("tcp", 9)}}})
	if _, err := w.Client.CoreV1().Endpoints(w.Namespace).Create(w.Context(), &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "mirror-marker", Namespace: w.Namespace},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.99"}},
			Ports: []corev1.EndpointPort{{Name: "tcp", Port: 9, Protocol: corev1.ProtocolTCP}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		n := len(w.SlicesOf("mirror-marker", world.MirroringSliceManager))
		return n == 1, fmt.Sprintf("%d mirrored slices of the marker", n)
	})
}
