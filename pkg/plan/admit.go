package plan

import (
	"fmt"
	"strings"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// decision is what admission concluded for one channel.
type decision struct {
	accepted bool
	kept     bool
	why      *rejection
	served   []servedPort // in spec.ports order
}

// servedPort is one channel port on the mux. Its claim is built only for the state
// document (claim): a cold pass serves tens of thousands of ports.
type servedPort struct {
	ch  *channelView
	pv  *portView // into the channel's ports, which are read-only
	key ports.Key
	// persisted is the claim a refused owner keeps as it was, nil for one built
	// from the channel and key.
	persisted *state.Claim
}

// claim is the port's claim in the state document.
func (sp *servedPort) claim() state.Claim {
	if sp.persisted != nil {
		return *sp.persisted
	}
	return claimFor(sp.ch, *sp.pv, sp.key, sp.pv.source())
}

// admitAll decides every channel: owners first, then newcomers, each group in
// namespace/name order. Only owners and channels already admitted reserve ports,
// so a refused newcomer never pushes an owner anywhere.
func (p *pass) admitAll() {
	if p.heldCount == 0 { // no owners (a new mux): every channel is a newcomer
		for _, c := range p.channels {
			c.decision = p.admit(c)
		}
		return
	}
	var newcomers []*channelView
	for _, c := range p.channels {
		if p.isOwner(c) {
			c.decision = p.admit(c)
		} else {
			newcomers = append(newcomers, c)
		}
	}
	for _, c := range newcomers {
		c.decision = p.admit(c)
	}
}

func (p *pass) admit(c *channelView) decision {
	if c.denied != nil {
		return p.refuse(c, c.denied) // holds nothing, so nothing is kept
	}
	if c.invalid != nil {
		return p.refuse(c, c.invalid)
	}
	if p.limit > 0 && p.served+len(c.ports) > p.limit {
		return p.refuse(c, &rejection{reason: api.ReasonMuxPortLimitExceeded, message: fmt.Sprintf(
			"mux %s is limited to %d port(s) and serves %d; channel %s needs %d more; remove ports or raise %s",
			p.mux, p.limit, p.served, c.ref, len(c.ports), p.keys.MaxPorts)})
	}
	// A channel has a handful of ports: their keys live on the stack.
	var keyBuf [8]ports.Key
	var allocBuf [8]bool
	keys, needAlloc := keyBuf[:0], allocBuf[:0]
	if len(c.ports) > len(keyBuf) {
		keys, needAlloc = make([]ports.Key, 0, len(c.ports)), make([]bool, 0, len(c.ports))
	}
	keys, needAlloc = keys[:len(c.ports)], needAlloc[:len(c.ports)]
	for i, pv := range c.ports {
		if pv.kind != mapAuto {
			keys[i] = ports.NewKey(pv.want, pv.protocol)
			continue
		}
		k, alloc, why := p.autoPort(c, i)
		if why != nil {
			return p.refuse(c, why)
		}
		keys[i], needAlloc[i] = k, alloc
	}
	if why := p.conflicts(c, keys, needAlloc); why != nil {
		return p.refuse(c, why)
	}
	// Reserve the requested keys tentatively so allocation cannot hand out one of
	// this channel's own ports; undo them if allocation fails.
	var addedBuf [8]ports.Key
	added := addedBuf[:0]
	for i, pv := range c.ports {
		if !needAlloc[i] {
			if _, taken := p.ledger.Owner(keys[i]); !taken {
				p.ledger.Reserve(keys[i], c.owner(pv))
				added = append(added, keys[i])
			}
		}
	}
	for i, pv := range c.ports {
		if !needAlloc[i] {
			continue
		}
		port, ok := p.ledger.Next(p.ranges, pv.protocol)
		if !ok {
			for _, k := range added {
				p.ledger.Release(k)
			}
			return p.refuse(c, &rejection{reason: api.ReasonInvalidPortMapping, message: fmt.Sprintf(
				"channel %s: no available %s port in mux port range %s; widen %s on mux %s",
				c.ref, pv.protocol, p.ranges, p.keys.PortRange, p.mux)})
		}
		keys[i] = ports.NewKey(port, pv.protocol)
		p.ledger.Reserve(keys[i], c.owner(pv))
		added = append(added, keys[i])
	}
	return p.commit(c, keys)
}

// autoPort picks the key of a name:auto port that needs no allocation (the owner's
// held port), or says allocation is needed, or refuses when none may be given.
func (p *pass) autoPort(c *channelView, i int) (ports.Key, bool, *rejection) {
	pv := &c.ports[i]
	h, held := p.holdingOf(c, i)
	switch {
	case held && p.rangeErr != nil:
		return h.key, false, nil // owners keep their ports while the range is unreadable
	case held && p.ranges.Contains(h.key.Port):
		return h.key, false, nil
	case p.rangeErr != nil:
		return ports.Key{}, false, &rejection{reason: api.ReasonInvalidPortRange, message: fmt.Sprintf(
			"channel %s: no automatic port is given while mux %s has an invalid %s: %v",
			c.ref, p.mux, p.keys.PortRange, p.rangeErr)}
	case len(p.ranges) == 0:
		return ports.Key{}, false, &rejection{reason: api.ReasonInvalidPortMapping, message: fmt.Sprintf(
			"channel %s: %s %s:auto: automatic allocation requires a mux port range; set %s on mux %s",
			c.ref, p.keys.ExternalPorts, pv.name, p.keys.PortRange, p.mux)}
	case !p.stateOK:
		return ports.Key{}, false, &rejection{reason: api.ReasonPortAllocationStoreInvalid, message: fmt.Sprintf(
			"channel %s: no automatic port is given while the mux state is unreadable: %s", c.ref, p.stateProblem)}
	}
	return ports.Key{}, true, nil
}

// conflicts checks the requested keys against owners other than this channel,
// against each other, and the port names against other identities (hash collision).
func (p *pass) conflicts(c *channelView, keys []ports.Key, needAlloc []bool) *rejection {
	var msgs []string
	for i, pv := range c.ports {
		if other, ok := p.names[pv.nameKey]; ok && other != pv.claimKey {
			msgs = append(msgs, fmt.Sprintf("mux port name %s of %s:%s collides with %s", pv.muxName, c.ref, pv.name, other))
		}
		if needAlloc[i] {
			continue
		}
		k := keys[i]
		if j := firstKey(keys[:i], needAlloc, k); j >= 0 { // a handful of ports: a scan, not a map
			msgs = append(msgs, fmt.Sprintf("%s is already claimed by %s", k, c.owner(c.ports[j])))
			continue
		}
		if owner, ok := p.ledger.Owner(k); ok && !ownedBy(owner, c) {
			msgs = append(msgs, fmt.Sprintf("%s is already claimed by %s", k, owner))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return &rejection{reason: api.ReasonMuxPortConflict,
		message: fmt.Sprintf("channel %s: %s", c.ref, strings.Join(msgs, "; "))}
}

// firstKey is the index of the first requested (not allocated) key equal to k, or -1.
func firstKey(keys []ports.Key, needAlloc []bool, k ports.Key) int {
	for j := range keys {
		if !needAlloc[j] && keys[j] == k {
			return j
		}
	}
	return -1
}

func containsKey(keys []ports.Key, k ports.Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// ownedBy reports whether a ledger owner ("namespace/service:hash") is one of c's ports.
func ownedBy(owner string, c *channelView) bool {
	return len(owner) > len(c.refStr) && owner[len(c.refStr)] == ':' && strings.HasPrefix(owner, c.refStr)
}

// commit makes keys this channel's: old holdings it no longer uses are released
// (a later newcomer may take them in this very pass), the new ones recorded.
func (p *pass) commit(c *channelView, keys []ports.Key) decision {
	for i, pv := range c.ports {
		if h, ok := p.holdingOf(c, i); ok && !containsKey(keys, h.key) {
			if owner, _ := p.ledger.Owner(h.key); owner == c.owner(pv) {
				p.ledger.Release(h.key)
			}
		}
	}
	d := decision{accepted: true, served: carve(&p.servedSlab, len(c.ports))}
	for i := range c.ports {
		pv := &c.ports[i]
		p.ledger.Reserve(keys[i], pv.owner)
		p.names[pv.nameKey] = pv.claimKey
		d.served = append(d.served, servedPort{ch: c, pv: pv, key: keys[i]})
	}
	p.served += len(keys)
	return d
}

// refuse rejects c. An owner keeps serving what it held (SPEC §3: a bad edit never
// takes a working channel down) as long as that fits the port limit; anyone else
// gets nothing and its holdings are freed.
func (p *pass) refuse(c *channelView, why *rejection) decision {
	d := decision{why: why}
	var kept []servedPort
	for i, pv := range c.ports {
		h, ok := p.holdingOf(c, i)
		if !ok {
			continue
		}
		if other, used := p.names[pv.nameKey]; used && other != pv.claimKey {
			// A colliding name cannot be served twice: the earlier owner keeps it.
			if owner, _ := p.ledger.Owner(h.key); owner == c.owner(pv) {
				p.ledger.Release(h.key)
			}
			continue
		}
		kept = append(kept, servedPort{ch: c, pv: &c.ports[i], key: h.key, persisted: h.claim})
	}
	if len(kept) > 0 && (p.limit == 0 || p.served+len(kept) <= p.limit) {
		d.kept, d.served = true, kept
		for _, sp := range kept {
			p.names[sp.pv.nameKey] = sp.pv.claimKey
		}
		p.served += len(kept)
		return d
	}
	for _, sp := range kept {
		if owner, _ := p.ledger.Owner(sp.key); owner == sp.pv.owner {
			p.ledger.Release(sp.key)
		}
	}
	return d
}

func claimFor(c *channelView, pv portView, k ports.Key, source string) state.Claim {
	return state.Claim{
		Namespace: c.ref.Namespace, Service: c.ref.Name, PortName: pv.name, Protocol: pv.protocol,
		ChannelPort: pv.channelPort, MuxPort: k.Port, Source: source,
	}
}
