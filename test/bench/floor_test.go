package bench

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// measureFloor creates n throwaway Services of the channels' shape, waits for
// the controller manager to be done with them, then times a bare client making
// the agent's minimum writes for each, in the agent's order and shapes: every
// ports annotation (merge patch), then every status (strategic merge patch of
// the ingress and the Accepted condition, as pkg/apply sends it).
func measureFloor(t *testing.T, c kubernetes.Interface, ns string, n int) time.Duration {
	ctx := t.Context()
	svcs := c.CoreV1().Services(ns)
	name := func(i int) string { return fmt.Sprintf("floor-%05d", i) }
	port := func(i int) int { return basePort + i%1000 }
	err := parallel(n, workers, func(i int) error {
		_, err := svcs.Create(ctx, oneShape(ns, name(i), floorClass, int32(port(i))), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("creating floor Services: %v", err)
	}
	waitSlices(t, c, ns, n)

	opts := metav1.PatchOptions{FieldManager: benchField}
	proxy := corev1.LoadBalancerIPModeProxy
	start := time.Now()
	err = parallel(2*n, workers, func(j int) error {
		i := j % n
		if j < n {
			ann, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				floorKeys.Ports: fmt.Sprintf("%s:%d->%d", portName, port(i), port(i))}}})
			_, err := svcs.Patch(ctx, name(i), types.MergePatchType, ann, opts)
			return err
		}
		status, _ := json.Marshal(map[string]any{"status": map[string]any{
			"loadBalancer": map[string]any{"ingress": []corev1.LoadBalancerIngress{{IP: "203.0.113.250", IPMode: &proxy}}},
			"conditions": []metav1.Condition{{Type: floorKeys.AcceptedCondition, Status: metav1.ConditionTrue,
				Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: metav1.Now(),
				Message: fmt.Sprintf("channel %s/%s is served by mux %s/mux-00: %s:%d->%d", ns, name(i), ns, portName, port(i), port(i))}},
		}})
		_, err := svcs.Patch(ctx, name(i), types.StrategicMergePatchType, status, opts, "status")
		return err
	})
	if err != nil {
		t.Fatalf("floor writes: %v", err)
	}
	return time.Since(start)
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
