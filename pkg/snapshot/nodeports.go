package snapshot

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// IndexNodePort maps a Service to each NodePort it holds (its ports' nodePort and
// its healthCheckNodePort, which come from the same range), as decimal strings. A
// pass restoring a mux after a full replace asks who holds a remembered NodePort
// with one index lookup per port instead of a scan of every Service.
const IndexNodePort = "svcmux.nowake.ai/nodeport"

func nodePortIndex(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, sp := range svc.Spec.Ports {
		if sp.NodePort != 0 {
			out = append(out, strconv.Itoa(int(sp.NodePort)))
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		out = append(out, strconv.Itoa(int(svc.Spec.HealthCheckNodePort)))
	}
	return out, nil
}

// nodePortHolder is plan.Snapshot.NodePortHolder for mux: the first Service other
// than mux, in namespace/name order, that holds a NodePort. The mux's own NodePorts
// are not "held": a port of the mux being replaced frees its NodePort in the same
// update. A lookup that fails answers "" (free): the API server then refuses the
// NodePort and the write falls back without it.
func (r *Reader) nodePortHolder(mux *corev1.Service) func(int32) string {
	store := r.src.Services
	if store == nil {
		return nil
	}
	return func(nodePort int32) string {
		objs, err := store.ByIndex(IndexNodePort, strconv.Itoa(int(nodePort)))
		if err != nil {
			return ""
		}
		var holders []string
		for _, obj := range objs {
			if svc, ok := obj.(*corev1.Service); ok && (svc.Namespace != mux.Namespace || svc.Name != mux.Name) {
				holders = append(holders, svc.Namespace+"/"+svc.Name)
			}
		}
		if len(holders) == 0 {
			return ""
		}
		sort.Strings(holders)
		return holders[0]
	}
}
