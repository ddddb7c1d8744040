package plan

import (
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// claimIndex finds a claim of one state document by its key (state.Claim.Key, the
// channel ports' claimKey). A steady mux's document is the same decoded value pass
// after pass (state.Cache hands it out until the ConfigMap changes), so the Cache
// keeps its index: a pass then looks up each channel port in it instead of building
// a map of ten thousand keys to match the claims against.
type claimIndex struct {
	first *state.Claim // &Claims[0] of the document indexed; it keeps that array alive, so no other document can have it
	n     int
	at    map[string]int32
	gen   uint32
}

// indexes reports whether ix is the index of claims.
func (ix *claimIndex) indexes(claims []state.Claim) bool {
	return ix != nil && ix.n == len(claims) && ix.first == &claims[0]
}

// newClaimIndex indexes claims. Decode keeps one claim per key; were there two, the
// first is found, as a scan in document order would.
func newClaimIndex(claims []state.Claim) *claimIndex {
	ix := &claimIndex{first: &claims[0], n: len(claims), at: make(map[string]int32, len(claims))}
	var key []byte
	for i := range claims {
		key = appendClaimKey(key[:0], &claims[i])
		if _, dup := ix.at[string(key)]; !dup {
			ix.at[string(key)] = int32(i)
		}
	}
	return ix
}

// claimIndex is the index of mux's document claims (not empty), remembered when the
// pass has a Cache.
func (c *Cache) claimIndex(mux string, claims []state.Claim) *claimIndex {
	if c == nil {
		return newClaimIndex(claims)
	}
	c.mu.Lock()
	ix := c.claims[mux]
	hit := ix.indexes(claims)
	if hit {
		ix.gen = c.gen
	}
	c.mu.Unlock()
	if hit {
		return ix
	}
	ix = newClaimIndex(claims)
	c.mu.Lock()
	if c.claims == nil {
		c.claims = map[string]*claimIndex{}
	}
	ix.gen = c.gen
	c.claims[mux] = ix
	c.mu.Unlock()
	return ix
}

// matchClaims holds, in document order, the claim of each identity that has a
// channel port: the order in which a claim wins over another for the same key.
// Were two channel ports to have one claim key, the later one's would be matched.
// It returns how many named channel ports there are: at least as many as identities.
func (p *pass) matchClaims() (named int) {
	claims := p.oldDoc.Claims
	ix := p.opts.Cache.claimIndex(p.muxRef, claims)
	matched := make([]portRef, len(claims))
	for _, c := range p.channels {
		named += len(c.ports)
		for i := range c.ports {
			if at, ok := ix.at[c.ports[i].claimKey]; ok {
				matched[at] = portRef{c, i}
			}
		}
	}
	for i := range claims {
		if ref := matched[i]; ref.ch != nil {
			cl := &claims[i] // the document is read-only, so holdings may point into it
			p.hold(ref, ports.NewKey(cl.MuxPort, cl.Protocol), cl)
		}
	}
	return named
}
