package plan

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// NodePort memory (SPEC §10). The API server keeps a port's NodePort across an
// update only when the port keeps its name in that same update. A GitOps tool that
// replaces the mux's spec.ports with the placeholder releases every NodePort, and
// the restore would get new ones, reprogramming every load balancer that routes to
// NodePorts. So the pass remembers each mux port's NodePort in nodeports.json and,
// when it restores a port the live mux lacks, asks for the remembered one back —
// only when no other port or Service holds it.

// buildNodePorts reads the memory, puts remembered NodePorts on the ports being
// restored, and plans the memory's write. It runs after buildPorts.
func (p *pass) buildNodePorts() {
	old, invalid := p.readNodePorts()
	// The live ports by name, as indexes: a ServicePort is 80 bytes, a mux has
	// thousands. A later port of the same name wins, as a map of ports would hold.
	live := livePorts{ports: p.snap.Mux.Spec.Ports, byName: make(map[string]int32, len(p.snap.Mux.Spec.Ports))}
	for i, sp := range live.ports {
		live.byName[sp.Name] = int32(i)
	}
	if allocatesNodePorts(p.snap.Mux) {
		p.restoreNodePorts(old, live)
	}
	mem := rememberNodePorts(old, p.plan.Ports, live)
	sp := &p.plan.State
	sp.NodePorts = mem
	// The memory is written under the same rules as the claims: never into an
	// unreadable or foreign ConfigMap, nor while the range is invalid.
	if !p.stateOK || p.rangeErr != nil {
		return
	}
	if p.snap.StateConfigMap == nil {
		sp.WriteNodePorts = len(mem) > 0 // created with the claims; no empty key
	} else {
		sp.WriteNodePorts = invalid || !mem.Equal(old)
	}
	if sp.WriteNodePorts {
		sp.NodePortsEncoded = state.EncodeNodePorts(mem)
	}
}

// readNodePorts decodes nodeports.json of a readable state ConfigMap. An invalid
// value is ignored with a Warning (invalid is then true, so it is rewritten): losing
// the memory costs at most new NodePorts on the next replace, and freezing the mux
// for it would cost far more.
func (p *pass) readNodePorts() (mem state.NodePorts, invalid bool) {
	cm := p.snap.StateConfigMap
	if cm == nil || !p.stateOK {
		return nil, false
	}
	raw, ok := cm.Data[api.NodePortsKey]
	if !ok {
		return nil, false
	}
	decode := state.DecodeNodePorts
	if c := p.opts.StateCache; c != nil {
		decode = func(raw string) (state.NodePorts, error) { return c.DecodeNodePorts(cm.Namespace+"/"+cm.Name, raw) }
	}
	mem, err := decode(raw)
	if err != nil {
		p.warnMux(api.ReasonNodePortMemoryInvalid, fmt.Sprintf(
			"mux state ConfigMap %s/%s: key %s: %v; the remembered NodePorts are ignored and written again from the live mux",
			cm.Namespace, cm.Name, api.NodePortsKey, err))
		return nil, true
	}
	return mem, false
}

// restoreNodePorts sets the remembered NodePort on each planned port that the live
// mux lacks, unless the NodePort is held: by a live port that stays (it keeps its
// NodePort by name), by a port restored before it, or by another Service. A held
// one is left to the API server, with a Warning.
func (p *pass) restoreNodePorts(old state.NodePorts, live livePorts) {
	if len(old) == 0 {
		return
	}
	mine := map[int32]string{} // NodePort -> name of the planned port that will hold it
	for _, sp := range p.plan.Ports {
		if l, ok := live.get(sp.Name); ok && l.NodePort != 0 {
			mine[l.NodePort] = sp.Name
		}
	}
	for i := range p.plan.Ports {
		sp := &p.plan.Ports[i]
		if _, ok := live.get(sp.Name); ok {
			continue
		}
		m, ok := old.Get(sp.Name)
		if !ok {
			continue
		}
		holder := ""
		if other, ok := mine[m.NodePort]; ok {
			holder = "this mux's port " + other
		} else if p.snap.NodePortHolder != nil {
			if h := p.snap.NodePortHolder(m.NodePort); h != "" {
				holder = "Service " + h
			}
		}
		if holder != "" {
			p.warnMux(api.ReasonNodePortReassigned, fmt.Sprintf(
				"mux %s port %s (%d/%s): its NodePort %d is held by %s; the API server assigns a new one, and a load balancer that routes to NodePorts reprograms for this port",
				p.mux, sp.Name, sp.Port, protocolOf(*sp), m.NodePort, holder))
			continue
		}
		sp.NodePort = m.NodePort
		mine[m.NodePort] = sp.Name
	}
}

// rememberNodePorts is the memory after this pass: for each planned port (not the
// placeholder), the live NodePort when the live mux has the port, else the
// remembered one; ports no longer planned are forgotten. A live port without a
// NodePort (allocateLoadBalancerNodePorts: false) has nothing to remember.
func rememberNodePorts(old state.NodePorts, planned []corev1.ServicePort, live livePorts) state.NodePorts {
	var out state.NodePorts
	for _, sp := range planned {
		if sp.Name == api.PlaceholderPortName && sp.Port == api.PlaceholderPort {
			continue
		}
		if l, ok := live.get(sp.Name); ok {
			if l.NodePort != 0 {
				out = append(out, state.NodePort{Name: sp.Name, Port: sp.Port, Protocol: protocolOf(sp), NodePort: l.NodePort})
			}
			continue
		}
		if m, ok := old.Get(sp.Name); ok {
			out = append(out, m)
		}
	}
	return sortNodePorts(out)
}

// livePorts finds the live mux ports by name.
type livePorts struct {
	ports  []corev1.ServicePort
	byName map[string]int32
}

func (l livePorts) get(name string) (corev1.ServicePort, bool) {
	i, ok := l.byName[name]
	if !ok {
		return corev1.ServicePort{}, false
	}
	return l.ports[i], true
}

// sortNodePorts sorts by name (the planned ports are sorted by port number).
func sortNodePorts(m state.NodePorts) state.NodePorts {
	sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
	return m
}

// allocatesNodePorts is false for a mux with allocateLoadBalancerNodePorts: false,
// where asking for a NodePort would add one the owner turned off.
func allocatesNodePorts(mux *corev1.Service) bool {
	a := mux.Spec.AllocateLoadBalancerNodePorts
	return a == nil || *a
}

func protocolOf(sp corev1.ServicePort) corev1.Protocol {
	if sp.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return sp.Protocol
}
