package world

import (
	"encoding/json"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// NodePortsKey is the state ConfigMap's key that remembers each mux port's last
// NodePort (SPEC §10).
const NodePortsKey = "nodeports.json"

// RememberedNodePorts reads nodeports.json of a state ConfigMap as mux port name
// -> NodePort; nil when the key is absent.
func RememberedNodePorts(cm *corev1.ConfigMap) (map[string]int32, error) {
	raw, ok := cm.Data[NodePortsKey]
	if !ok {
		return nil, nil
	}
	var doc struct {
		NodePorts []struct {
			Name     string `json:"name"`
			NodePort int32  `json:"nodePort"`
		} `json:"nodePorts"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w\n%s", NodePortsKey, cm.Namespace, cm.Name, err, raw)
	}
	out := map[string]int32{}
	for _, e := range doc.NodePorts {
		out[e.Name] = e.NodePort
	}
	return out, nil
}

// WaitNodePortsRememberedE waits until the state ConfigMap of mux remembers
// exactly the NodePorts of the live mux's ports (the placeholder aside), and
// returns it. The agent writes that memory in the pass after the API server gave
// the ports their NodePorts, so a test asserting that the ConfigMap is not written
// afterwards takes its resourceVersion from here, not from the claims alone.
func (w *World) WaitNodePortsRememberedE(mux string) (*corev1.ConfigMap, error) {
	var got *corev1.ConfigMap
	err := w.Poll(0, func() (bool, string, error) {
		svc, err := w.ServiceE(mux)
		if err != nil {
			return false, "", err
		}
		live := map[string]int32{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && (Port{p.Name, p.Port, p.Protocol}) != Placeholder {
				live[p.Name] = p.NodePort
			}
		}
		cm, err := w.StateE(mux)
		if err != nil || cm == nil {
			return false, "state ConfigMap " + StateName(mux) + " absent", err
		}
		mem, err := RememberedNodePorts(cm)
		if err != nil {
			return false, "", err
		}
		got = cm
		if len(live) == 0 && mem == nil {
			return true, "", nil // nothing to remember, and nothing remembered
		}
		return reflect.DeepEqual(mem, live), fmt.Sprintf("remembered %v, live %v", mem, live), nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for the NodePorts of mux %s to be remembered: %w", w.Ref(mux), err)
	}
	return got, nil
}

// WaitNodePortsRemembered is WaitNodePortsRememberedE, failing the test on error.
func (w *World) WaitNodePortsRemembered(mux string) *corev1.ConfigMap {
	cm, err := w.WaitNodePortsRememberedE(mux)
	w.must(err)
	return cm
}
