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

// floorTimes are the yardsticks of one scenario, made by a bare client in the same
// run just before the agent's. The minimum writes (minWrites) are made twice, on
// two sets of fresh throwaway objects, in the two orders a client without the
// agent's rules could pick: together, every write sharing the workers (the mux
// writes first in line); and mux first, the mux and state writes alone, then the
// channel writes. A mux patch of many new ports allocates a NodePort for each,
// one after another, and takes several times as long beside other writes as
// alone, so which order is faster depends on the scenario. all, the floor, is the
// faster; channels, the channel phase of mux first, is the channel writes alone,
// the floor this bench used before the mux and state writes were timed in it.
// The floor is SPEC §9's: two writes per channel. The agent sends one, its status
// write carrying the annotation (pkg/apply Carried); ownRequests is mux first with
// that one write per channel instead (ownChannels, on a third set of channels):
// the agent's own requests at a bare client's pace, reported beside the floor.
type floorTimes struct {
	all                time.Duration
	together, muxFirst time.Duration
	muxPhase, channels time.Duration // the two phases of muxFirst
	longestMux         time.Duration // the slowest single mux write of together
	ownRequests        time.Duration // muxPhase + ownChannels
	ownChannels        time.Duration
}

// measureFloor creates two sets of n throwaway Services of the channels' shape
// and of one throwaway mux per mux of sc, waits for the controller manager to be
// done with them, then times the minimum writes on each set (floorTimes), in the
// agent's shapes: per mux one merge patch of spec.ports (its channels' ports,
// NodePorts allocated by the API server as for a mux) and its channels
// annotation, and one create of its state ConfigMap (pkg/state's encoding of the
// claims); per channel its ports annotation (merge patch) and its status
// (strategic merge patch of the ingress and the Accepted condition, as pkg/apply
// sends it). Each set gets only first writes, as the agent's objects do: a first
// write to a Service costs more than a later one (its field manager is new to it).
func measureFloor(t *testing.T, c kubernetes.Interface, ns string, sc scenario) floorTimes {
	ctx := t.Context()
	n, m := sc.channels(), sc.muxes
	svcs := c.CoreV1().Services(ns)
	name := func(set int) func(i int) string {
		return func(i int) string { return fmt.Sprintf("floor%d-%05d", set, i) }
	}
	mux := func(set int) func(m int) string {
		return func(m int) string { return fmt.Sprintf("floor%d-%s", set, muxName(m)) }
	}
	// Sets 0 and 1: n channels and m muxes each; set 2: n channels.
	err := parallel(3*n+2*m, workers, func(i int) error {
		set, i := i/(n+m), i%(n+m)
		svc := oneShape(ns, name(set)(i), floorClass, portOf(sc, i))
		if i >= n {
			svc = floorMux(ns, mux(set)(i-n))
		}
		_, err := svcs.Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("creating floor Services: %v", err)
	}
	waitSlices(t, c, ns, 3*n)

	var f floorTimes
	run := func(what string, jobs int, job func(j int) error) time.Duration {
		start := time.Now()
		if err := parallel(jobs, workers, job); err != nil {
			t.Fatalf("floor %s: %v", what, err)
		}
		return time.Since(start)
	}
	var longest atomic.Int64
	muxWrites := muxFloorWrites(c, ns, sc, name(0), mux(0))
	f.together = run("writes together", len(muxWrites)+2*n, func(j int) error {
		if j >= len(muxWrites) {
			return channelFloorWrite(ctx, svcs, ns, sc, name(0), j-len(muxWrites))
		}
		began := time.Now()
		defer func() { maxInt64(&longest, int64(time.Since(began))) }()
		return muxWrites[j](ctx)
	})
	f.longestMux = time.Duration(longest.Load())
	muxWrites = muxFloorWrites(c, ns, sc, name(1), mux(1))
	f.muxPhase = run("mux writes", len(muxWrites), func(j int) error { return muxWrites[j](ctx) })
	f.channels = run("channel writes", 2*n, func(j int) error { return channelFloorWrite(ctx, svcs, ns, sc, name(1), j) })
	f.muxFirst = f.muxPhase + f.channels
	f.ownChannels = run("one write per channel", n, func(j int) error { return ownFloorWrite(ctx, svcs, ns, sc, name(2), j) })
	f.ownRequests = f.muxPhase + f.ownChannels
	f.all = min(f.together, f.muxFirst)
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
func muxFloorWrites(c kubernetes.Interface, ns string, sc scenario, name, mux func(int) string) []func(context.Context) error {
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
			_, err := c.CoreV1().Services(ns).Patch(ctx, mux(m), types.MergePatchType, body,
				metav1.PatchOptions{FieldManager: benchField})
			return err
		})
	}
	for m := range sc.muxes {
		docs[m].Mux = api.MuxRef{Namespace: ns, Name: mux(m)}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: mux(m) + "-port-allocations", Namespace: ns},
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
	opts := metav1.PatchOptions{FieldManager: benchField}
	if j < n {
		ann, _ := json.Marshal(map[string]any{"metadata": floorAnnotation(sc, i)})
		_, err := svcs.Patch(ctx, name(i), types.MergePatchType, ann, opts)
		return err
	}
	status, _ := json.Marshal(map[string]any{"status": floorStatus(ns, sc, name, i)})
	_, err := svcs.Patch(ctx, name(i), types.StrategicMergePatchType, status, opts, "status")
	return err
}

// ownFloorWrite is the agent's one write to channel i: its status with the
// ports annotation, on the status subresource.
func ownFloorWrite(ctx context.Context, svcs typedcorev1.ServiceInterface, ns string, sc scenario, name func(int) string, i int) error {
	body, _ := json.Marshal(map[string]any{"metadata": floorAnnotation(sc, i), "status": floorStatus(ns, sc, name, i)})
	_, err := svcs.Patch(ctx, name(i), types.StrategicMergePatchType, body, metav1.PatchOptions{FieldManager: benchField}, "status")
	return err
}

// floorAnnotation is channel i's ports annotation, as metadata.
func floorAnnotation(sc scenario, i int) map[string]any {
	port := portOf(sc, i)
	return map[string]any{"annotations": map[string]string{floorKeys.Ports: fmt.Sprintf("%s:%d->%d", portName, port, port)}}
}

// floorStatus is channel i's status: the mux's ingress and the Accepted condition.
func floorStatus(ns string, sc scenario, name func(int) string, i int) map[string]any {
	port := portOf(sc, i)
	proxy := corev1.LoadBalancerIPModeProxy
	return map[string]any{
		"loadBalancer": map[string]any{"ingress": []corev1.LoadBalancerIngress{{IP: "203.0.113.250", IPMode: &proxy}}},
		"conditions": []metav1.Condition{{Type: floorKeys.AcceptedCondition, Status: metav1.ConditionTrue,
			Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: metav1.Now(),
			Message: fmt.Sprintf("channel %s/%s is served by mux %s/%s: %s:%d->%d", ns, name(i), ns, muxOf(sc, i), portName, port, port)}},
	}
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
