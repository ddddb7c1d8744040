package snapshot

import (
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
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

// nodePortHolders is plan.Snapshot.NodePortHolders: for each remembered NodePort
// (nodeports.json of cm) of a port the live mux lacks, the first other Service, in
// namespace/name order, that holds it. On a steady mux every remembered port is
// live and nothing is looked up. An invalid memory is the planner's to report.
func (r *Reader) nodePortHolders(mux *corev1.Service, cm *corev1.ConfigMap) (map[int32]string, error) {
	if cm == nil || r.src.Services == nil {
		return nil, nil
	}
	raw, ok := cm.Data[api.NodePortsKey]
	if !ok {
		return nil, nil
	}
	mem, err := state.DecodeNodePorts(raw)
	if err != nil || len(mem) == 0 {
		return nil, nil
	}
	live := make(map[string]bool, len(mux.Spec.Ports))
	for _, sp := range mux.Spec.Ports {
		live[sp.Name] = true
	}
	var out map[int32]string
	for _, m := range mem {
		if live[m.Name] {
			continue
		}
		objs, err := r.src.Services.ByIndex(IndexNodePort, strconv.Itoa(int(m.NodePort)))
		if err != nil {
			return nil, fmt.Errorf("find holders of NodePort %d: %w", m.NodePort, err)
		}
		var holders []string
		for _, obj := range objs {
			if svc, ok := obj.(*corev1.Service); ok && (svc.Namespace != mux.Namespace || svc.Name != mux.Name) {
				holders = append(holders, svc.Namespace+"/"+svc.Name)
			}
		}
		if len(holders) == 0 {
			continue
		}
		sort.Strings(holders)
		if out == nil {
			out = map[int32]string{}
		}
		out[m.NodePort] = holders[0]
	}
	return out, nil
}
