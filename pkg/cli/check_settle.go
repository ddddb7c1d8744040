package cli

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// maxCheckPasses bounds settle. A pass's own writes change what the next pass
// reads (the channels it accepted are owners now), so the agent may take a second
// pass to settle; more than a few would mean the planner does not converge.
const maxCheckPasses = 5

// settle plans the lists the way the agent runs: one pass, its writes, and the
// next pass over what they wrote, until a pass would write nothing the planner
// reads (mux spec.ports, state documents, channel ports annotations). It returns
// the last plan, the number of passes, and whether they settled.
func (g *Globals) settle(l snapshot.Lists) (*Cluster, int, bool, error) {
	for pass := 1; ; pass++ {
		cl, err := g.planLists(l, "")
		if err != nil {
			return nil, pass, false, err
		}
		next, changed := afterPass(cl)
		if !changed || pass == maxCheckPasses {
			return cl, pass, !changed, nil
		}
		l = next
	}
}

// afterPass is cl's lists with each mux pass's planned writes done (only what a
// later pass reads: the agent's other writes change no decision). Objects are
// copied before they change: the lists of cl stay as they were.
func afterPass(cl *Cluster) (snapshot.Lists, bool) {
	l := cl.Lists
	l.Services = append([]corev1.Service(nil), l.Services...)
	l.ConfigMaps = append([]corev1.ConfigMap(nil), l.ConfigMaps...)
	svcAt := map[string]int{}
	for i := range l.Services {
		svcAt[l.Services[i].Namespace+"/"+l.Services[i].Name] = i
	}
	changed := false
	for _, m := range cl.Muxes {
		p := m.Plan
		if p.Frozen {
			continue // the agent writes nothing for a frozen mux
		}
		if i, ok := svcAt[m.key()]; ok && !sameMuxPorts(l.Services[i].Spec.Ports, p.Ports) {
			svc := l.Services[i].DeepCopy()
			svc.Spec.Ports = append([]corev1.ServicePort(nil), p.Ports...)
			l.Services[i], changed = *svc, true
		}
		if p.State.Readable && p.State.Write {
			l.ConfigMaps = putState(l.ConfigMaps, m.Mux.Namespace, p.State.Name, p.State.Labels, p.State.Annotations, p.State.Document.Encode())
			changed = true
		}
		for _, o := range p.Channels {
			i, ok := svcAt[o.Channel.String()]
			if !ok {
				continue
			}
			have, has := l.Services[i].Annotations[cl.Keys.Ports]
			if (o.PortsAnnotation == nil) == !has && (o.PortsAnnotation == nil || *o.PortsAnnotation == have) {
				continue
			}
			svc := l.Services[i].DeepCopy()
			if o.PortsAnnotation == nil {
				delete(svc.Annotations, cl.Keys.Ports)
			} else {
				if svc.Annotations == nil {
					svc.Annotations = map[string]string{}
				}
				svc.Annotations[cl.Keys.Ports] = *o.PortsAnnotation
			}
			l.Services[i], changed = *svc, true
		}
	}
	return l, changed
}

// sameMuxPorts compares what the agent writes of a mux port: name, port, protocol.
func sameMuxPorts(live, want []corev1.ServicePort) bool {
	if len(live) != len(want) {
		return false
	}
	for i := range live {
		if live[i].Name != want[i].Name || live[i].Port != want[i].Port || protocolOf(live[i]) != protocolOf(want[i]) {
			return false
		}
	}
	return true
}

// putState writes a state document into the ConfigMap ns/name, creating it as the
// agent does (its labels and annotation) and keeping its other keys.
func putState(cms []corev1.ConfigMap, ns, name string, labels, annotations map[string]string, doc string) []corev1.ConfigMap {
	for i := range cms {
		if cms[i].Namespace == ns && cms[i].Name == name {
			cm := cms[i].DeepCopy()
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[api.StateKey] = doc
			cms[i] = *cm
			return cms
		}
	}
	cm := corev1.ConfigMap{Data: map[string]string{api.StateKey: doc}}
	cm.Namespace, cm.Name = ns, name
	cm.Labels, cm.Annotations = copyMap(labels), copyMap(annotations)
	return append(cms, cm)
}

func copyMap(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
