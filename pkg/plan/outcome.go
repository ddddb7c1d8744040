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
		p.plan.Channels = make([]ChannelOutcome, len(p.channels)) // filled in place: an outcome is 200 bytes
	}
	mappings := newSlab[ports.PortMapping](p.served)
	texts := newSlab[string](len(p.channels))
	conds := newSlab[metav1.Condition](len(p.channels))
	for i, c := range p.channels {
		d := c.decision
		out := &p.plan.Channels[i]
		out.Channel, out.Accepted, out.Kept = c.ref, d.accepted, d.kept
		p.plan.Stats.DeclaredPorts += c.declared
		ignored := c.ignored
		out.Mappings = carve(&mappings, len(d.served))
		for _, sp := range d.served {
			out.Mappings = append(out.Mappings, ports.PortMapping{Name: sp.pv.name, ChannelPort: sp.pv.channelPort, MuxPort: sp.key.Port})
		}
		switch {
		case d.accepted:
			text := &carve(&texts, 1)[:1][0]
			out.Message, *text = p.acceptedMessage(c, out.Mappings, ignored)
			out.PortsAnnotation = text
			out.Reason = api.ConditionReasonAccepted
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
	}
	p.plan.Stats.Channels = len(p.channels)
}

// acceptedMessage is the Accepted condition's message, "channel <ref> is served by
// mux <mux>: <ports annotation>", and the ports annotation, cut from it: one string
// per channel.
func (p *pass) acceptedMessage(c *channelView, m []ports.PortMapping, ignored []IgnoredField) (msg, annotation string) {
	const served, by = "channel ", " is served by mux "
	var b strings.Builder
	b.Grow(len(served) + len(c.refStr) + len(by) + len(p.muxRef) + 2 + ports.PortsAnnotationSize(m))
	b.WriteString(served)
	b.WriteString(c.refStr)
	b.WriteString(by)
	b.WriteString(p.muxRef)
	b.WriteString(": ")
	start := b.Len()
	ports.WritePortsAnnotation(&b, m)
	end := b.Len()
	if len(ignored) > 0 {
		// Only channels that set such fields see a different message: a takeover
		// of channels without them rewrites no condition.
		b.WriteString("; ignored: ")
		b.WriteString(joinIgnored(ignored))
	}
	msg = b.String()
	return msg, msg[start:end]
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
	// thousands of ports of a new mux need no map; desired is sorted already (by
	// key, and no key twice), live as the agent writes it, else a sorted copy.
	if !isSortedBy(live, compareServicePorts) {
		live = append([]corev1.ServicePort(nil), live...)
		sortBy(live, compareServicePorts)
	}
	if !isSortedBy(desired, compareServicePorts) {
		desired = append([]corev1.ServicePort(nil), desired...)
		sortBy(desired, compareServicePorts)
	}
	var added, removed keyList
	same := func(sps []corev1.ServicePort, i int) bool { return compareServicePorts(sps[i], sps[i-1]) == 0 }
	for i, j := 0, 0; i < len(desired) || j < len(live); {
		switch {
		case i > 0 && i < len(desired) && same(desired, i):
			i++ // the same port twice counts once
		case j > 0 && j < len(live) && same(live, j):
			j++
		case j == len(live) || (i < len(desired) && compareServicePorts(desired[i], live[j]) < 0):
			added.add(keyOf(desired[i]))
			i++
		case i == len(desired) || compareServicePorts(desired[i], live[j]) > 0:
			removed.add(keyOf(live[j]))
			j++
		default:
			i, j = i+1, j+1
		}
	}
	var parts []string
	for _, d := range []struct {
		verb string
		keys *keyList
	}{{"Added", &added}, {"Removed", &removed}} {
		if d.keys.n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d port(s): %s", d.verb, d.keys.n, d.keys.String()))
	}
	return strings.Join(parts, "; ")
}

// compareServicePorts orders mux ports by key, then name.
func compareServicePorts(a, b corev1.ServicePort) int {
	if c := compareKeys(keyOf(a), keyOf(b)); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// maxListedKeys is how many keys a message lists before "and N more".
const maxListedKeys = 20

// keyList counts keys and keeps the first maxListedKeys: a new mux adds thousands
// of ports, and its message lists twenty.
type keyList struct {
	first []ports.Key
	n     int
}

func (l *keyList) add(k ports.Key) {
	if l.n < maxListedKeys {
		l.first = append(l.first, k)
	}
	l.n++
}

// String lists the first keys, then "and N more".
func (l *keyList) String() string {
	s := make([]string, 0, len(l.first)+1)
	for _, k := range l.first {
		s = append(s, k.String())
	}
	if l.n > len(l.first) {
		s = append(s, fmt.Sprintf("and %d more", l.n-len(l.first)))
	}
	return strings.Join(s, ", ")
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
