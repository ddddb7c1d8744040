package plan

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
)

// A steady pass of a large mux used to build every mux slice again and compare
// each with its live copy field by field: most of the pass, for slices that had
// not changed. The Cache now remembers, per mux and endpoint group, the slices a
// pass built and the channel slices they were built from, named by UID and
// resourceVersion (the API server gives an object a new resourceVersion on every
// change, so the same pair is the same content). While those are unchanged, the
// slices are the same and are reused; and a reused slice that was found equal to
// a live slice with the same UID and resourceVersion is equal to it still. An
// object without a resourceVersion (built by hand, never read from the API
// server) is never taken as unchanged.

// objectID names one version of an API object.
type objectID struct {
	uid types.UID
	rv  string
}

func idOf(s *discoveryv1.EndpointSlice) objectID { return objectID{s.UID, s.ResourceVersion} }

// builtGroup is what a pass built for one endpoint group of a mux, and from what.
// Once remembered only its gen changes (under the Cache's lock): a pass that
// learns more remembers a copy.
type builtGroup struct {
	sources  []objectID // the channel slices the group's endpoints came from, in order
	owner    types.UID  // the mux's UID, in the slices' owner reference
	keys     [3]string  // the annotation keys: managed, mux, channels
	channels string     // the channels annotation
	slices   []*discoveryv1.EndpointSlice
	kept     []objectID // per slice: the live slice it was last found equal to
	gen      uint32
}

// groupKey is a mux (namespace/name) and one of its endpoint groups.
type groupKey struct{ mux, group string }

// sliceOrigin is where a desired slice of this pass came from: the group record
// it belongs to (nil without a Cache), its index there, and whether an earlier
// pass built it.
type sliceOrigin struct {
	built  *builtGroup
	index  int
	reused bool
}

// groupReuse is, per group with endpoints, the record this pass goes by (nil
// without a Cache) and whether an earlier pass built its slices.
type groupReuse struct {
	built                   []*builtGroup
	reused                  []bool
	newSlices, reusedSlices int
}

// reuseGroups looks up each group's record and decides which groups are built
// now, starting a record for each of those (from slabs: a cold pass starts one per
// channel, and they are remembered and dropped together as a rule).
func (p *pass) reuseGroups(keys []string, groups []*group, lists []string) groupReuse {
	m := groupReuse{built: p.opts.Cache.builtGroups(p.muxRef, keys), reused: make([]bool, len(groups))}
	records, sources := 0, 0
	for j, g := range groups {
		if b := m.built[j]; b.reusable(p, g, lists[j]) {
			m.reused[j] = true
			m.reusedSlices += len(b.slices)
			continue
		}
		m.newSlices += chunksOf(g)
		records++
		sources += len(g.sources)
	}
	if p.opts.Cache == nil {
		return m
	}
	recordSlab, idSlab := newSlab[builtGroup](records), newSlab[objectID](sources+m.newSlices)
	sliceSlab := newSlab[*discoveryv1.EndpointSlice](m.newSlices)
	for j, g := range groups {
		if m.reused[j] {
			continue
		}
		b := &carve(&recordSlab, 1)[:1][0]
		*b = builtGroup{owner: p.snap.Mux.UID, keys: p.annotationKeys(), channels: lists[j],
			sources: carve(&idSlab, len(g.sources)), slices: carve(&sliceSlab, chunksOf(g))}
		b.kept = carve(&idSlab, chunksOf(g))[:chunksOf(g)]
		for _, s := range g.sources {
			b.sources = append(b.sources, idOf(s))
		}
		m.built[j] = b
	}
	return m
}

// chunksOf is how many slices group g's endpoints take.
func chunksOf(g *group) int {
	return (len(g.endpoints) + api.MaxEndpointsPerSlice - 1) / api.MaxEndpointsPerSlice
}

// ownAllocations reports whether the groups built now get allocations of their
// own rather than windows on the pass's slabs: a slice remembered beside reused
// ones would keep this pass's slabs, which hold every channel's endpoints, alive
// long after the rest of them is garbage. A pass that builds every group (a cold
// one) shares its slabs among its slices, which are remembered together.
func (p *pass) ownAllocations(m groupReuse) bool {
	return p.opts.Cache != nil && m.reusedSlices > 0 && m.newSlices > 0
}

func (p *pass) annotationKeys() [3]string {
	return [3]string{p.keys.Managed, p.keys.Mux, p.keys.Channels}
}

// reusable reports whether b was built from exactly what group g of this pass
// holds: the same channel slices, unchanged, for the same mux and channels.
func (b *builtGroup) reusable(p *pass, g *group, channels string) bool {
	if b == nil || b.owner != p.snap.Mux.UID || b.channels != channels || b.keys != p.annotationKeys() ||
		len(b.sources) != len(g.sources) {
		return false
	}
	for i, s := range g.sources {
		if s.ResourceVersion == "" || b.sources[i] != idOf(s) {
			return false
		}
	}
	return true
}

// keptBefore reports whether desired slice i was found equal to live before,
// when live had the UID and resourceVersion it has now.
func (p *pass) keptBefore(i int, live *discoveryv1.EndpointSlice) bool {
	o := p.origins[i]
	return o.reused && live.ResourceVersion != "" && o.built.kept[o.index] == idOf(live)
}

// builtGroups returns the record of each group key of mux (nil where none).
func (c *Cache) builtGroups(mux string, keys []string) []*builtGroup {
	out := make([]*builtGroup, len(keys))
	if c == nil {
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if b := c.groups[groupKey{mux, k}]; b != nil {
			b.gen = c.gen
			out[i] = b
		}
	}
	return out
}

// rememberSlices stores what this pass built, with the live slice each of its
// slices equals (kept, by desired slice), and a copy of each reused record whose
// slices were found equal to live slices it did not know or no longer equal.
func (p *pass) rememberSlices(kept []objectID) {
	c, m := p.opts.Cache, p.built
	if c == nil || len(m.built) == 0 {
		return
	}
	// Under the lock: a record's gen is written under it, and a copy reads it.
	c.mu.Lock()
	defer c.mu.Unlock()
	copies := map[*builtGroup]*builtGroup{}
	for i, o := range p.origins {
		b := o.built
		if o.reused {
			if kept[i] == b.kept[o.index] {
				continue
			}
			if copies[b] == nil {
				cp := *b
				cp.kept = append([]objectID(nil), b.kept...)
				copies[b] = &cp
			}
			b = copies[b]
		}
		b.kept[o.index] = kept[i]
	}
	if c.groups == nil {
		c.groups = make(map[groupKey]*builtGroup, len(m.built))
	}
	for j, b := range m.built {
		if cp := copies[b]; cp != nil {
			b = cp
		} else if m.reused[j] {
			continue
		}
		b.gen = c.gen
		c.groups[groupKey{p.muxRef, p.groupKeys[j]}] = b
	}
}
