package doctor

import (
	"fmt"
	"strings"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// maxListedPorts bounds how many ports a SVCMUX606 message names.
const maxListedPorts = 5

// checkNodePortMemory reports a mux whose live NodePorts are not what its state
// ConfigMap remembers (SPEC §10): the memory is missing (a mux the agent has not
// passed since it learnt to remember, or a Python-era ConfigMap) or a NodePort
// changed since it was remembered (churn: a replace that could not get it back).
// Until a pass records them, a full replace of spec.ports gives those ports new
// NodePorts. The plan already compares the two: it writes the memory exactly then.
func checkNodePortMemory(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		cm := m.Snapshot.StateConfigMap
		if m.Plan.Frozen || cm == nil || !m.Plan.State.Readable || !m.Plan.State.WriteNodePorts {
			continue
		}
		raw, has := cm.Data[api.NodePortsKey]
		old, err := state.DecodeNodePorts(raw)
		var detail string
		switch {
		case !has:
			detail = fmt.Sprintf("state ConfigMap %s/%s has no %s", cm.Namespace, cm.Name, api.NodePortsKey)
		case err != nil:
			detail = fmt.Sprintf("%s of state ConfigMap %s/%s does not parse (%v)", api.NodePortsKey, cm.Namespace, cm.Name, err)
		default:
			detail = unremembered(old, m.Plan.State.NodePorts)
			if detail == "" {
				continue // only forgotten ports changed: nothing live is at risk
			}
		}
		mux := m.Snapshot.Mux
		r.add("SVCMUX606", serviceObject(mux.Namespace, mux.Name), svcArgs(mux.Namespace, mux.Name,
			"mux", muxRef(m), "detail", detail))
	}
}

// unremembered names the ports whose live NodePort (in now, the memory a pass
// would write) the old memory does not hold, as "name 31001 (remembered 30001)".
func unremembered(old, now state.NodePorts) string {
	var out []string
	n := 0
	for _, np := range now {
		was, ok := old.Get(np.Name)
		if ok && was.NodePort == np.NodePort {
			continue
		}
		n++
		if len(out) == maxListedPorts {
			continue
		}
		if ok {
			out = append(out, fmt.Sprintf("%s %d (remembered %d)", np.Name, np.NodePort, was.NodePort))
		} else {
			out = append(out, fmt.Sprintf("%s %d (not remembered)", np.Name, np.NodePort))
		}
	}
	if n == 0 {
		return ""
	}
	if n > len(out) {
		out = append(out, fmt.Sprintf("and %d more", n-len(out)))
	}
	return "live NodePorts not remembered: " + strings.Join(out, ", ")
}
