package plan

import (
	"sort"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// holding is the (port, protocol) an identity owns when the pass starts, and why.
type holding struct {
	key   ports.Key
	claim *state.Claim // the persisted claim; nil when recovered from live evidence
}

// portRef finds a named channel port by its claim key.
type portRef struct {
	ch  *channelView
	idx int
}

func (r portRef) port() portView { return r.ch.ports[r.idx] }

// reserveOwners fills the ledger with the owners of this pass, in SPEC §3 order:
// persisted claims, then the live mux spec.ports entry whose hash names exactly one
// channel port, then an unambiguous channel <prefix>/ports annotation. Each identity
// holds at most one key and each key has at most one owner; the first source wins.
// Claims of identities that no longer exist are simply not carried over (pruned).
func (p *pass) reserveOwners() {
	if p.stateOK {
		for i := range p.oldDoc.Claims {
			cl := p.oldDoc.Claims[i]
			if ref, ok := p.byClaim[cl.Key()]; ok {
				p.hold(ref, ports.NewKey(cl.MuxPort, cl.Protocol), &cl)
			}
		}
	}
	// Recovery is only for identities no claim covers; a steady mux has none.
	if len(p.held) < len(p.byClaim) {
		p.recoverFromMuxPorts()
		p.recoverFromAnnotations()
	}
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
	if _, has := p.held[pv.claimKey]; has {
		return
	}
	if key.Protocol != pv.protocol || key.Port < 1 {
		return
	}
	p.ledger.Reserve(key, ref.ch.owner(pv))
	p.held[pv.claimKey] = holding{key: key, claim: claim}
}

func (p *pass) recoverFromMuxPorts() {
	byHash := map[string][]portRef{}
	for _, c := range p.channels {
		for i, pv := range c.ports {
			byHash[pv.muxName] = append(byHash[pv.muxName], portRef{c, i})
		}
	}
	var live []ports.Key
	names := map[ports.Key]string{}
	for _, sp := range p.snap.Mux.Spec.Ports {
		if sp.Name == api.PlaceholderPortName {
			continue
		}
		k := keyOf(sp)
		live = append(live, k)
		names[k] = sp.Name
	}
	sortKeys(live)
	for _, k := range live {
		if cands := byHash[names[k]]; len(cands) == 1 {
			p.hold(cands[0], k, nil)
		}
	}
}

func (p *pass) recoverFromAnnotations() {
	cands := map[ports.Key][]portRef{}
	for _, c := range p.channels {
		value, ok := c.svc.Annotations[p.keys.Ports]
		if !ok {
			continue
		}
		mapped := ports.ParsePortsAnnotation(value)
		for i, pv := range c.ports {
			if mp, ok := mapped[pv.name]; ok {
				k := ports.NewKey(mp, pv.protocol)
				cands[k] = append(cands[k], portRef{c, i})
			}
		}
	}
	keys := make([]ports.Key, 0, len(cands))
	for k := range cands {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		if len(cands[k]) == 1 { // ambiguous annotations seed no owner
			p.hold(cands[k][0], k, nil)
		}
	}
}

// isOwner reports whether any port of c held a key when the pass started.
func (p *pass) isOwner(c *channelView) bool {
	for _, pv := range c.ports {
		if _, ok := p.held[pv.claimKey]; ok {
			return true
		}
	}
	return false
}

func sortKeys(ks []ports.Key) {
	sort.Slice(ks, func(i, j int) bool { return keyLess(ks[i], ks[j]) })
}

func keyLess(a, b ports.Key) bool {
	if a.Port != b.Port {
		return a.Port < b.Port
	}
	return a.Protocol < b.Protocol
}
