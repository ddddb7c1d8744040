package plan

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
)

// buildChannels turns decisions into per-channel outcomes and Events. The values
// an outcome points to are carved from slabs: a mux may have thousands of channels.
func (p *pass) buildChannels() {
	var ingress []corev1.LoadBalancerIngress // shared by serving channels: plans are read-only
	if in := p.snap.Mux.Status.LoadBalancer.Ingress; len(in) > 0 {
		ingress = channelIngress(in)
	}
	if len(p.channels) > 0 {
		p.plan.Channels = make([]ChannelOutcome, 0, len(p.channels))
	}
	mappings := newSlab[ports.PortMapping](p.served)
	texts := newSlab[string](len(p.channels))
	conds := newSlab[metav1.Condition](len(p.channels))
	for _, c := range p.channels {
		d := c.decision
		out := ChannelOutcome{Channel: c.ref, Accepted: d.accepted, Kept: d.kept}
		ignored := IgnoredChannelFields(c.svc)
		out.Mappings = carve(&mappings, len(d.served))
		for _, sp := range d.served {
			out.Mappings = append(out.Mappings, ports.PortMapping{Name: sp.pv.name, ChannelPort: sp.pv.channelPort, MuxPort: sp.key.Port})
		}
		switch {
		case d.accepted:
			text := &carve(&texts, 1)[:1][0]
			*text = ports.FormatPortsAnnotation(out.Mappings)
			out.PortsAnnotation = text
			out.Reason = api.ConditionReasonAccepted
			out.Message = "channel " + c.refStr + " is served by mux " + p.muxRef + ": " + *text
			if len(ignored) > 0 {
				// Only channels that set such fields see a different message: a
				// takeover of channels without them rewrites no condition.
				out.Message += "; ignored: " + joinIgnored(ignored)
			}
			p.plan.Stats.Accepted++
		case d.kept:
			// The annotation stays as it was: the channel serves what it served.
			if v, ok := c.svc.Annotations[p.keys.Ports]; ok {
				out.PortsAnnotation = &v
			}
			out.Reason = d.why.reason
			out.Message = fmt.Sprintf("%s; still serving its last accepted ports %s", d.why.message, ports.FormatPortsAnnotation(out.Mappings))
			p.plan.Stats.Kept++
		default:
			out.Reason, out.Message = d.why.reason, d.why.message
			p.plan.Stats.Rejected++
		}
		if out.Serving() {
			out.Ingress = ingress
		}
		out.Condition = &carve(&conds, 1)[:1][0]
		p.fillCondition(out.Condition, c.svc, d.accepted, out.Reason, out.Message)
		if d.why != nil {
			p.plan.Events = append(p.plan.Events, Event{Object: c.ref, Type: api.EventWarning,
				Reason: d.why.reason, Message: d.why.message, FieldPath: d.why.fieldPath})
		}
		if e := p.ignoredFieldsEvent(c, ignored); e != nil {
			p.plan.Events = append(p.plan.Events, *e)
		}
		p.plan.Channels = append(p.plan.Channels, out)
	}
	p.plan.Stats.Channels = len(p.channels)
	for _, c := range p.channels {
		p.plan.Stats.DeclaredPorts += len(c.svc.Spec.Ports)
	}
}

// channelIngress is the mux's ingress as a channel shows it: the same addresses,
// with ipMode Proxy. A VIP-mode IP on the channel would make kube-proxy answer on
// <mux IP>:<channel's own port> for that channel — a port the mux does not expose,
// and, where it equals another channel's public port, a route to the wrong pods.
// With Proxy, kube-proxy leaves the address to the load balancer (the mux).
func channelIngress(in []corev1.LoadBalancerIngress) []corev1.LoadBalancerIngress {
	out := copyIngress(in)
	proxy := corev1.LoadBalancerIPModeProxy
	for i := range out {
		if out[i].IP != "" {
			out[i].IPMode = &proxy
		}
	}
	return out
}

func copyIngress(in []corev1.LoadBalancerIngress) []corev1.LoadBalancerIngress {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.LoadBalancerIngress, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

// portsChangeMessage describes live → desired mux ports as the Python controller
// did ("Added 2 port(s): 20000/TCP, 20001/TCP; Removed 1 port(s): 101/TCP"), or ""
// when the set of {name, port, protocol} is the same.
func portsChangeMessage(live, desired []corev1.ServicePort) string {
	if sameServicePorts(live, desired) {
		return ""
	}
	// A port is its name and key. Both lists are sorted by them and merged, so the
	// thousands of ports of a new mux need no map (desired is sorted already).
	type id struct {
		name string
		key  ports.Key
	}
	byID := func(a, b id) int {
		if c := compareKeys(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	}
	ids := func(sps []corev1.ServicePort) []id {
		out := make([]id, 0, len(sps))
		for _, sp := range sps {
			out = append(out, id{sp.Name, keyOf(sp)})
		}
		if !isSortedBy(out, byID) {
			sortBy(out, byID)
		}
		return out
	}
	have, want := ids(live), ids(desired)
	var added, removed []ports.Key
	for i, j := 0, 0; i < len(want) || j < len(have); {
		switch {
		case i > 0 && i < len(want) && want[i] == want[i-1]:
			i++ // the same port twice counts once
		case j > 0 && j < len(have) && have[j] == have[j-1]:
			j++
		case j == len(have) || (i < len(want) && byID(want[i], have[j]) < 0):
			added = append(added, want[i].key)
			i++
		case i == len(want) || byID(want[i], have[j]) > 0:
			removed = append(removed, have[j].key)
			j++
		default:
			i, j = i+1, j+1
		}
	}
	var parts []string
	for _, d := range []struct {
		verb string
		keys []ports.Key
	}{{"Added", added}, {"Removed", removed}} {
		if len(d.keys) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d port(s): %s", d.verb, len(d.keys), joinKeys(d.keys, 20)))
	}
	return strings.Join(parts, "; ")
}

// sameServicePorts is the quick check for the usual case: the live ports are the
// ones the agent wrote, in the same order.
func sameServicePorts(live, desired []corev1.ServicePort) bool {
	if len(live) != len(desired) {
		return false
	}
	for i := range live {
		if live[i].Name != desired[i].Name || keyOf(live[i]) != keyOf(desired[i]) {
			return false
		}
	}
	return true
}

// joinKeys lists at most max keys so an event stays readable at scale.
func joinKeys(ks []ports.Key, max int) string {
	var s []string
	for i, k := range ks {
		if i == max {
			s = append(s, fmt.Sprintf("and %d more", len(ks)-max))
			break
		}
		s = append(s, k.String())
	}
	return strings.Join(s, ", ")
}
