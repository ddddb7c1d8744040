package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
)

// buildChannels turns decisions into per-channel outcomes and Events.
func (p *pass) buildChannels() {
	ingress := p.snap.Mux.Status.LoadBalancer.Ingress
	for _, c := range p.channels {
		d := p.decisions[c]
		out := ChannelOutcome{Channel: c.ref, Accepted: d.accepted, Kept: d.kept}
		ignored := IgnoredChannelFields(c.svc)
		for _, sp := range d.served {
			out.Mappings = append(out.Mappings, ports.PortMapping{Name: sp.pv.name, ChannelPort: sp.pv.channelPort, MuxPort: sp.key.Port})
		}
		switch {
		case d.accepted:
			text := ports.FormatPortsAnnotation(out.Mappings)
			out.PortsAnnotation = &text
			out.Reason = api.ConditionReasonAccepted
			out.Message = fmt.Sprintf("channel %s is served by mux %s: %s", c.ref, p.mux, text)
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
			out.Ingress = channelIngress(ingress)
		}
		out.Condition = p.condition(c.svc, d.accepted, out.Reason, out.Message)
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
	id := func(sp corev1.ServicePort) string { return sp.Name + "|" + keyOf(sp).String() }
	have, want := map[string]ports.Key{}, map[string]ports.Key{}
	for _, sp := range live {
		have[id(sp)] = keyOf(sp)
	}
	for _, sp := range desired {
		want[id(sp)] = keyOf(sp)
	}
	diff := func(a, b map[string]ports.Key) []ports.Key {
		var out []ports.Key
		for k, v := range a {
			if _, ok := b[k]; !ok {
				out = append(out, v)
			}
		}
		sortKeys(out)
		return out
	}
	var parts []string
	for _, d := range []struct {
		verb string
		keys []ports.Key
	}{{"Added", diff(want, have)}, {"Removed", diff(have, want)}} {
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

// sortedStrings returns the keys of a set in order.
func sortedStrings(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
