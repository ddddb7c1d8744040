package plan

import (
	"cmp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// holding is the (port, protocol) an identity owns when the pass starts, and why.
type holding struct {
	key   ports.Key
	claim *state.Claim // the persisted claim; nil when recovered from live evidence
	ok    bool         // the identity holds key
}

// portRef finds a named channel port by its claim key.
type portRef struct {
	ch  *channelView
	idx int
}

func (r portRef) port() *portView { return &r.ch.ports[r.idx] }

// holdingOf is what port i of c holds when the pass starts, if anything.
func (p *pass) holdingOf(c *channelView, i int) (holding, bool) {
	h := p.held[c.base+i]
	return h, h.ok
}

// reserveOwners fills the ledger with the owners of this pass, in SPEC §3 order:
// persisted claims, then the live mux spec.ports entry whose hash names exactly one
// channel port, then an unambiguous channel <prefix>/ports annotation. Each identity
// holds at most one key and each key has at most one owner; the first source wins.
// Claims of identities that no longer exist are simply not carried over (pruned).
func (p *pass) reserveOwners() {
	identities := 0 // named channel ports: at least as many as their distinct claim keys
	if p.stateOK && len(p.oldDoc.Claims) > 0 {
		identities = p.matchClaims()
	} else if p.anyPort() {
		identities = 1 // nothing is held, so any identity is unheld: the count is moot
	}
	// Recovery is only for identities no claim covers; a steady mux has none.
	if p.heldCount < identities {
		p.recoverFromMuxPorts()
		p.recoverFromAnnotations()
	}
}

// anyPort reports whether any channel has a named port.
func (p *pass) anyPort() bool {
	for _, c := range p.channels {
		if len(c.ports) > 0 {
			return true
		}
	}
	return false
}

// hold records an owner unless the identity or the key is already taken.
func (p *pass) hold(ref portRef, key ports.Key, claim *state.Claim) {
	pv := ref.port()
	if ref.ch.denied != nil {
		return // a namespace the mux no longer admits owns nothing
	}
	if _, taken := p.ledger.Owner(key); taken {
		return
	}
	h := &p.held[ref.ch.base+ref.idx]
	if h.ok {
		return
	}
	if key.Protocol != pv.protocol || key.Port < 1 {
		return
	}
	p.ledger.Reserve(key, pv.owner)
	*h = holding{key: key, claim: claim, ok: true}
	p.heldCount++
}

// isHeld reports whether the identity of port i of c holds a key already:
// recovery is for the others alone.
func (p *pass) isHeld(c *channelView, i int) bool { return p.held[c.base+i].ok }

// anyUnheld reports whether some port of c holds no key.
func (p *pass) anyUnheld(c *channelView) bool {
	for i := range c.ports {
		if !p.isHeld(c, i) {
			return true
		}
	}
	return false
}

// candidates are the channel ports some evidence names for one key: the first, and
// how many (ambiguous evidence seeds no owner).
type candidates struct {
	ref portRef
	n   int
}

func (c *candidates) add(ref portRef) {
	if c.n == 0 {
		c.ref = ref
	}
	c.n++
}

// recoverFromMuxPorts gives an identity the live mux port whose name is its hash,
// when exactly one channel port has that hash. Only a free key whose (last) live
// name is an unheld identity's can change anything, so the live ports are first
// narrowed to those: a steady mux with a few refused channels looks at no more.
func (p *pass) recoverFromMuxPorts() {
	// The names of the free live ports first: a new mux (the placeholder) or a
	// steady one (every key taken) has none, and no channel port is looked at.
	freeNames := map[string]bool{}
	for _, sp := range p.snap.Mux.Spec.Ports {
		if sp.Name != api.PlaceholderPortName && !p.taken(keyOf(sp)) {
			freeNames[sp.Name] = true
		}
	}
	if len(freeNames) == 0 {
		return
	}
	unheldNames := map[string]bool{}
	for _, c := range p.channels {
		for i := range c.ports {
			if pv := &c.ports[i]; freeNames[pv.muxName] && !p.isHeld(c, i) {
				unheldNames[pv.muxName] = true
			}
		}
	}
	names := map[ports.Key]string{} // candidate key -> the name of its last live port
	for _, sp := range p.snap.Mux.Spec.Ports {
		if sp.Name == api.PlaceholderPortName {
			continue
		}
		k := keyOf(sp)
		if _, taken := p.ledger.Owner(k); !taken && unheldNames[sp.Name] {
			names[k] = sp.Name
		}
	}
	if len(names) == 0 {
		return // nothing to recover, and no index of every channel port
	}
	for _, sp := range p.snap.Mux.Spec.Ports { // a later port with the same key renames it
		if k := keyOf(sp); sp.Name != api.PlaceholderPortName && names[k] != "" {
			names[k] = sp.Name
		}
	}
	byHash := make(map[string]candidates, len(names))
	for _, name := range names {
		byHash[name] = candidates{}
	}
	for _, c := range p.channels {
		for i, pv := range c.ports {
			if cands, ok := byHash[pv.muxName]; ok {
				cands.add(portRef{c, i})
				byHash[pv.muxName] = cands
			}
		}
	}
	live := make([]ports.Key, 0, len(names))
	for k := range names {
		live = append(live, k)
	}
	sortKeys(live)
	for _, k := range live {
		if cands := byHash[names[k]]; cands.n == 1 {
			p.hold(cands.ref, k, nil)
		}
	}
}

// recoverFromAnnotations gives an identity the mux port its channel's ports
// annotation names, when no other channel port's annotation names the same key.
// Only free keys an unheld identity names can change anything; when there are
// none, no other annotation is read.
func (p *pass) recoverFromAnnotations() {
	cands := map[ports.Key]candidates{}
	for _, c := range p.channels {
		if !p.anyUnheld(c) {
			continue // a steady mux's owners: no annotation is read
		}
		value, ok := c.svc.Annotations[p.keys.Ports] // read once per channel, not per port
		if !ok {
			continue
		}
		for i := range c.ports {
			pv := &c.ports[i]
			if p.isHeld(c, i) {
				continue
			}
			if mp, ok := ports.PortsAnnotationPort(value, pv.name); ok {
				if k := ports.NewKey(mp, pv.protocol); !p.taken(k) {
					cands[k] = candidates{}
				}
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	for _, c := range p.channels {
		value, ok := c.svc.Annotations[p.keys.Ports]
		if !ok {
			continue
		}
		for i, pv := range c.ports {
			if mp, ok := ports.PortsAnnotationPort(value, pv.name); ok {
				k := ports.NewKey(mp, pv.protocol)
				if cand, ok := cands[k]; ok {
					cand.add(portRef{c, i})
					cands[k] = cand
				}
			}
		}
	}
	keys := make([]ports.Key, 0, len(cands))
	for k, cand := range cands {
		if cand.n == 1 {
			keys = append(keys, k)
		}
	}
	sortKeys(keys)
	for _, k := range keys {
		p.hold(cands[k].ref, k, nil)
	}
}

func (p *pass) taken(k ports.Key) bool {
	_, ok := p.ledger.Owner(k)
	return ok
}

// isOwner reports whether any port of c held a key when the pass started.
func (p *pass) isOwner(c *channelView) bool {
	for i := range c.ports {
		if p.isHeld(c, i) {
			return true
		}
	}
	return false
}

func sortKeys(ks []ports.Key) { sortBy(ks, compareKeys) }

// compareKeys orders by port, then protocol.
func compareKeys(a, b ports.Key) int {
	if a.Port != b.Port {
		return cmp.Compare(a.Port, b.Port)
	}
	return strings.Compare(string(a.Protocol), string(b.Protocol))
}

// appendClaimKey appends cl.Key() to b.
func appendClaimKey(b []byte, cl *state.Claim) []byte {
	proto := cl.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	b = append(b, proto...)
	b = append(b, ':')
	b = append(b, cl.Namespace...)
	b = append(b, ':')
	b = append(b, cl.Service...)
	b = append(b, ':')
	return append(b, cl.PortName...)
}
