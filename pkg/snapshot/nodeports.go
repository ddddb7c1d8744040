package snapshot

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// nodePortHolder is plan.Snapshot.NodePortHolder for mux: the first Service other
// than mux, in namespace/name order, that holds a NodePort (a port's nodePort or
// its healthCheckNodePort, which come from the same range). The mux's own
// NodePorts are not "held": a port of the mux being replaced frees its NodePort in
// the same update.
//
// Only a pass restoring a mux after a full replace asks, so the answer is built on
// the first question by one scan of the cache rather than kept in an index: an
// index holds a set per NodePort of every Service in the cluster, for ever (at
// 5,000 channels, megabytes of the agent's heap), to spare a rare pass a
// millisecond scan.
func (r *Reader) nodePortHolder(mux *corev1.Service) func(int32) string {
	store := r.src.Services
	if store == nil {
		return nil
	}
	held := sync.OnceValue(func() map[int32]string { return nodePortsHeld(store, mux) })
	return func(nodePort int32) string { return held()[nodePort] }
}

// nodePortsHeld maps each NodePort a Service other than mux holds to the first
// such Service's namespace/name.
func nodePortsHeld(store cache.Store, mux *corev1.Service) map[int32]string {
	out := map[int32]string{}
	hold := func(nodePort int32, key string) {
		if prev, ok := out[nodePort]; nodePort != 0 && (!ok || key < prev) {
			out[nodePort] = key
		}
	}
	for _, obj := range store.List() {
		svc, ok := obj.(*corev1.Service)
		if !ok || (svc.Namespace == mux.Namespace && svc.Name == mux.Name) {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		for _, sp := range svc.Spec.Ports {
			hold(sp.NodePort, key)
		}
		hold(svc.Spec.HealthCheckNodePort, key)
	}
	return out
}
