package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// floorTimes are the yardsticks of one scenario, both made by a bare client in the
// same run just before the agent's: all is every write a converging pass cannot do
// without (minWrites); channels is the channel writes alone, the floor this bench
// used before the mux and state writes were counted in it; mux is the longest
// single mux write within all.
type floorTimes struct{ all, channels, mux time.Duration }

// measureFloor creates two sets of n throwaway Services of the channels' shape
// and one throwaway mux per mux of sc, waits for the controller manager to be
// done with them, then times a bare client making the agent's minimum writes on
// the first set, in the agent's shapes: per mux one merge patch of spec.ports
// (its channels' ports, NodePorts allocated by the API server as for a mux) and
// its channels annotation, and one create of its state ConfigMap (pkg/state's
// encoding of the claims); per channel its ports annotation (merge patch) and its
// status (strategic merge patch of the ingress and the Accepted condition, as
// pkg/apply sends it). A bare client needs no order: the mux writes, the longest,
// go first, and all share the 16 workers. Then it times the channel writes alone
// on the second set: a first write to a Service costs more than a later one (its
// field manager is new to it), so each set gets only first writes, as the
// agent's channels do.
func measureFloor(t *testing.T, c kubernetes.Interface, ns string, sc scenario) floorTimes {
	ctx := t.Context()
	n := sc.channels()
	svcs := c.CoreV1().Services(ns)
	name := func(set int) func(i int) string {
		return func(i int) string { return fmt.Sprintf("floor%d-%05d", set, i) }
	}
	err := parallel(2*n+sc.muxes, workers, func(i int) error {
		var svc *corev1.Service
		switch {
		case i < 2*n:
			svc = oneShape(ns, name(i/n)(i%n), floorClass, portOf(sc, i%n))
		default:
			svc = floorMux(ns, muxName(i-2*n))
		}
		_, err := svcs.Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("creating floor Services: %v", err)
	}
	waitSlices(t, c, ns, 2*n)

	var f floorTimes
	var longest atomic.Int64
	muxWrites := muxFloorWrites(c, ns, sc, name(0))
	start := time.Now()
	err = parallel(len(muxWrites)+2*n, workers, func(j int) error {
		if j >= len(muxWrites) {
			return channelFloorWrite(ctx, svcs, ns, sc, name(0), j-len(muxWrites))
		}
		began := time.Now()
		defer func() { maxInt64(&longest, int64(time.Since(began))) }()
		return muxWrites[j](ctx)
	})
	f.all, f.mux = time.Since(start), time.Duration(longest.Load())
	if err != nil {
		t.Fatalf("floor writes: %v", err)
	}
	start = time.Now()
	err = parallel(2*n, workers, func(j int) error { return channelFloorWrite(ctx, svcs, ns, sc, name(1), j) })
	f.channels = time.Since(start)
	if err != nil {
		t.Fatalf("floor channel writes: %v", err)
	}
	return f
}

// maxInt64 raises m to v if v is larger.
func maxInt64(m *atomic.Int64, v int64) {
	for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
	}
}

// floorMux is muxService under the floor's keys, so the agent leaves it alone.
func floorMux(ns, name string) *corev1.Service {
	m := muxService(ns, name)
	m.Annotations = map[string]string{floorKeys.Multiplexer: "true"}
	return m
}

// muxFloorWrites are the per-mux writes of the floor: each mux's ports patch,
// then each mux's state ConfigMap create.
func muxFloorWrites(c kubernetes.Interface, ns string, sc scenario, name func(int) string) []func(context.Context) error {
	ports := make([][]map[string]any, sc.muxes)
	refs := make([][]string, sc.muxes)
	docs := make([]state.Document, sc.muxes)
	for i := range sc.channels() {
		m := i % sc.muxes
		ports[m] = append(ports[m], map[string]any{"name": fmt.Sprintf("p%06x", i), "port": portOf(sc, i), "protocol": corev1.ProtocolTCP})
		refs[m] = append(refs[m], ns+"/"+name(i))
		docs[m].Claims = append(docs[m].Claims, state.Claim{Namespace: ns, Service: name(i), PortName: portName,
			Protocol: corev1.ProtocolTCP, MuxPort: portOf(sc, i), ChannelPort: portOf(sc, i), Source: state.SourceStatic})
	}
	var out []func(context.Context) error
	for m := range sc.muxes {
		channels, _ := json.Marshal(refs[m])
		body, _ := json.Marshal(map[string]any{"spec": map[string]any{"ports": ports[m]},
			"metadata": map[string]any{"annotations": map[string]string{floorKeys.Channels: string(channels)}}})
		out = append(out, func(ctx context.Context) error {
			_, err := c.CoreV1().Services(ns).Patch(ctx, muxName(m), types.MergePatchType, body,
				metav1.PatchOptions{FieldManager: benchField})
			return err
		})
	}
	for m := range sc.muxes {
		docs[m].Mux = api.MuxRef{Namespace: ns, Name: muxName(m)}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: muxName(m) + "-port-allocations", Namespace: ns},
			Data: map[string]string{api.StateKey: docs[m].Encode()}}
		out = append(out, func(ctx context.Context) error {
			_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: benchField})
			return err
		})
	}
	return out
}

// channelFloorWrite is write j of the channel writes: the ports annotation of
// channel j for j < n, else the status of channel j-n.
func channelFloorWrite(ctx context.Context, svcs typedcorev1.ServiceInterface, ns string, sc scenario, name func(int) string, j int) error {
	n := sc.channels()
	i := j % n
	port := portOf(sc, i)
	opts := metav1.PatchOptions{FieldManager: benchField}
	if j < n {
		ann, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			floorKeys.Ports: fmt.Sprintf("%s:%d->%d", portName, port, port)}}})
		_, err := svcs.Patch(ctx, name(i), types.MergePatchType, ann, opts)
		return err
	}
	proxy := corev1.LoadBalancerIPModeProxy
	status, _ := json.Marshal(map[string]any{"status": map[string]any{
		"loadBalancer": map[string]any{"ingress": []corev1.LoadBalancerIngress{{IP: "203.0.113.250", IPMode: &proxy}}},
		"conditions": []metav1.Condition{{Type: floorKeys.AcceptedCondition, Status: metav1.ConditionTrue,
			Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: metav1.Now(),
			Message: fmt.Sprintf("channel %s/%s is served by mux %s/%s: %s:%d->%d", ns, name(i), ns, muxOf(sc, i), portName, port, port)}},
	}})
	_, err := svcs.Patch(ctx, name(i), types.StrategicMergePatchType, status, opts, "status")
	return err
}

// waitSlices waits until the controller manager is done with each of the n
// Services in ns, so its writes do not overlap what is timed next: each has the
// EndpointSlice of the endpointslice controller and the Endpoints of the
// endpoints controller (the two work apart; with no pods, each writes its
// object once).
func waitSlices(t *testing.T, c kubernetes.Interface, ns string, n int) {
	controlplane.Eventually(t, 3*time.Minute, func() (bool, string) {
		slices, err := c.DiscoveryV1().EndpointSlices(ns).List(t.Context(), metav1.ListOptions{
			LabelSelector: discoveryv1.LabelManagedBy + "=" + world.ClusterSliceManager})
		if err != nil {
			return false, err.Error()
		}
		sliced := map[string]bool{}
		for _, s := range slices.Items {
			sliced[s.Labels[discoveryv1.LabelServiceName]] = true
		}
		eps, err := c.CoreV1().Endpoints(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(sliced) >= n && len(eps.Items) >= n,
			fmt.Sprintf("of %d Services, %d have an EndpointSlice and %d have Endpoints", n, len(sliced), len(eps.Items))
	})
}
