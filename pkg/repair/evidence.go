package repair

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// identity is one attached channel port: a claim's key and its mux port name.
type identity struct {
	channel  string // ns/name
	portName string
	protocol corev1.Protocol
	hash     string
}

func (id identity) String() string { return id.channel + ":" + id.portName }

// evidence indexes the live facts of one mux: its channels' ports, the live mux
// spec.ports and the channels' ports annotations.
type evidence struct {
	idents     map[string]identity // claim key -> identity
	channels   map[string]bool     // attached channels, ns/name
	byHash     map[string][]string // mux port name -> claim keys
	liveByKey  map[ports.Key]string
	liveByName map[string]ports.Key
	live       []corev1.ServicePort // sorted by (port, protocol)
	annotated  map[string]int32     // claim key -> mux port in the channel's ports annotation
}

func newEvidence(s plan.Snapshot, keys api.Keys) *evidence {
	e := &evidence{idents: map[string]identity{}, channels: map[string]bool{}, byHash: map[string][]string{},
		liveByKey: map[ports.Key]string{}, liveByName: map[string]ports.Key{}, annotated: map[string]int32{}}
	for _, ch := range s.Channels {
		ref := ch.Namespace + "/" + ch.Name
		e.channels[ref] = true
		for _, sp := range ch.Spec.Ports {
			if sp.Name == "" {
				continue
			}
			c := state.Claim{Namespace: ch.Namespace, Service: ch.Name, PortName: sp.Name, Protocol: protocolOf(sp)}
			id := identity{channel: ref, portName: sp.Name, protocol: c.Protocol, hash: ports.MuxPortName(ch.Namespace, ch.Name, sp.Name)}
			e.idents[c.Key()] = id
			e.byHash[id.hash] = append(e.byHash[id.hash], c.Key())
		}
	}
	for _, sp := range s.Mux.Spec.Ports {
		if sp.Name == api.PlaceholderPortName {
			continue
		}
		e.live = append(e.live, sp)
		e.liveByKey[keyOf(sp)] = sp.Name
		e.liveByName[sp.Name] = keyOf(sp)
	}
	sort.Slice(e.live, func(i, j int) bool { return keyLess(keyOf(e.live[i]), keyOf(e.live[j])) })
	e.indexAnnotations(s, keys)
	return e
}

// indexAnnotations indexes the channels' <prefix>/ports annotations.
func (e *evidence) indexAnnotations(s plan.Snapshot, keys api.Keys) {
	for _, ch := range s.Channels {
		value, ok := ch.Annotations[keys.Ports]
		if !ok {
			continue
		}
		for name, port := range ports.ParsePortsAnnotation(value) {
			for _, sp := range ch.Spec.Ports {
				if sp.Name == name {
					c := state.Claim{Namespace: ch.Namespace, Service: ch.Name, PortName: name, Protocol: protocolOf(sp)}
					e.annotated[c.Key()] = port
				}
			}
		}
	}
}

// liveOwner is the one channel port a live mux port name belongs to, "" when the
// name matches none (its channel is gone) or several (a hash collision).
func (e *evidence) liveOwner(name string) string {
	if ks := e.byHash[name]; len(ks) == 1 {
		return ks[0]
	}
	return ""
}

// filter keeps the old claims the live world does not contradict. A claim is
// dropped when its channel port is gone (stale), when the live mux serves its
// (port, protocol) for another channel port or serves its channel port elsewhere,
// or when an earlier claim (in the document's order, the planner's) has its port.
// The live mux wins every disagreement: repair never moves a live port.
func (e *evidence) filter(claims []state.Claim) (trusted []state.Claim, dropped []Dropped) {
	taken := map[ports.Key]string{}
	for _, c := range claims {
		k := c.Key()
		key := ports.NewKey(c.MuxPort, c.Protocol)
		drop := func(reason, format string, args ...any) {
			dropped = append(dropped, Dropped{Kept: keptOf(c, ""), Reason: reason, Detail: fmt.Sprintf(format, args...)})
		}
		id, ok := e.idents[k]
		ch := c.Namespace + "/" + c.Service
		switch {
		case !ok && e.channels[ch]:
			drop(ProblemStale, "channel %s has no port %s/%s", ch, c.PortName, key.Protocol)
		case !ok:
			drop(ProblemStale, "channel %s is gone or no longer attached to this mux", ch)
		case e.liveByKey[key] != "" && e.liveByKey[key] != id.hash && e.liveOwner(e.liveByKey[key]) != "":
			drop(ProblemConflicting, "the live mux serves %s for %s", key, e.idents[e.liveOwner(e.liveByKey[key])])
		case e.liveByName[id.hash] != (ports.Key{}) && e.liveByName[id.hash] != key:
			drop(ProblemConflicting, "the live mux serves %s on %s", id, e.liveByName[id.hash])
		case taken[key] != "":
			drop(ProblemConflicting, "%s is also claimed by %s, which comes first", key, e.idents[taken[key]])
		default:
			taken[key] = k
			trusted = append(trusted, c)
		}
	}
	return trusted, dropped
}

// kept lists the rebuilt document's claims with the evidence each rests on.
func (e *evidence) kept(claims, trusted []state.Claim) []Kept {
	fromClaim := map[string]int32{}
	for _, c := range trusted {
		fromClaim[c.Key()] = c.MuxPort
	}
	out := make([]Kept, 0, len(claims))
	for _, c := range claims {
		k := c.Key()
		key := ports.NewKey(c.MuxPort, c.Protocol)
		var ev string
		switch {
		case fromClaim[k] == c.MuxPort:
			ev = EvidenceClaim
		case e.liveByName[e.idents[k].hash] == key:
			ev = EvidenceMuxPort
		case e.annotated[k] == c.MuxPort:
			ev = EvidenceAnnotation
		case c.Source == state.SourceStatic:
			ev = EvidenceSpec
		default:
			ev = EvidenceAllocated
		}
		out = append(out, keptOf(c, ev))
	}
	return out
}

// prove refuses when the plan computed with the rebuilt document would move a live
// mux port or leave it without its owner. current is the plan with the state as it
// is: when it does the same, the message says the cause is not the state.
func (e *evidence) prove(proof, current plan.Plan) []Refusal {
	served := map[string]ports.Key{}
	for _, sp := range proof.Ports {
		served[sp.Name] = keyOf(sp)
	}
	now := map[string]ports.Key{}
	for _, sp := range current.Ports {
		now[sp.Name] = keyOf(sp)
	}
	var out []Refusal
	for _, sp := range e.live {
		owner := e.liveOwner(sp.Name)
		if owner == "" {
			continue // its channel port is gone: the agent removes it whatever the state says
		}
		id := e.idents[owner]
		from := keyOf(sp)
		to, ok := served[sp.Name]
		if ok && to == from {
			continue
		}
		r := Refusal{Reason: ReasonLivePortWouldBeLost,
			Message: fmt.Sprintf("live mux port %s of %s would no longer be served", from, id)}
		if ok {
			r = Refusal{Reason: ReasonLivePortWouldMove,
				Message: fmt.Sprintf("live mux port %s of %s would move to %s", from, id, to)}
		}
		if why := outcomeOf(proof, id.channel); why != "" {
			r.Message += " (" + why + ")"
		}
		if cur, ok2 := now[sp.Name]; ok2 == ok && cur == to {
			r.Message += "; the agent does the same with the state as it is, so the cause is the channel or the mux, not the state: fix that first"
		}
		out = append(out, r)
	}
	return out
}

// outcomeOf is "Reason: message" of a channel the plan does not accept.
func outcomeOf(p plan.Plan, channel string) string {
	for _, oc := range p.Channels {
		if oc.Channel.String() == channel && !oc.Accepted {
			return oc.Reason + ": " + oc.Message
		}
	}
	return ""
}

func keptOf(c state.Claim, ev string) Kept {
	return Kept{Namespace: c.Namespace, Service: c.Service, PortName: c.PortName, MuxPort: c.MuxPort,
		Protocol: string(c.Protocol), Source: c.Source, Evidence: ev}
}

func protocolOf(sp corev1.ServicePort) corev1.Protocol {
	if sp.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return sp.Protocol
}

func keyLess(a, b ports.Key) bool {
	if a.Port != b.Port {
		return a.Port < b.Port
	}
	return a.Protocol < b.Protocol
}
