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
		var key []byte // the claim's key, built in place: no string per claim
		for i := range p.oldDoc.Claims {
			cl := &p.oldDoc.Claims[i] // the document is read-only, so holdings may point into it
			key = appendClaimKey(key[:0], cl)
			if ref, ok := p.byClaim[string(key)]; ok {
				p.hold(ref, ports.NewKey(cl.MuxPort, cl.Protocol), cl)
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
	if len(live) == 0 {
		return // a new mux: nothing to recover, and no index of every channel port
	}
	// Which channel ports carry each live name: the only one, or how many.
	type candidates struct {
		ref portRef
		n   int
	}
	byHash := make(map[string]candidates, len(names))
	for _, name := range names {
		byHash[name] = candidates{}
	}
	for _, c := range p.channels {
		for i, pv := range c.ports {
			if cands, ok := byHash[pv.muxName]; ok {
				if cands.n == 0 {
					cands.ref = portRef{c, i}
				}
				cands.n++
				byHash[pv.muxName] = cands
			}
		}
	}
	sortKeys(live)
	for _, k := range live {
		if cands := byHash[names[k]]; cands.n == 1 {
			p.hold(cands.ref, k, nil)
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
