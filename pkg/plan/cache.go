package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Cache remembers, across passes, what the planner derives from each channel alone:
// its named ports with their mux port names (a SHA-256 each), claim keys and owner
// strings, and its parsed external-ports annotation; the names of the mux's
// endpoint slices, a SHA-256 of each endpoint group; and the slices built for each
// group, with what they were built from and compared with (slicememo.go). The agent keeps one for all its
// muxes, so a steady pass over thousands of unchanged channels derives none of it
// again. An entry is used only while the fields it was derived from are unchanged
// (the port names, protocols and numbers, the annotation), so a plan computed with a
// Cache equals one computed without. Entries that no pass has used for two sweeps
// are dropped. Safe for concurrent use; what it returns is shared and read-only.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	slices  map[sliceKey]sliceName   // the names of a mux's endpoint slices, by group
	groups  map[groupKey]*builtGroup // the slices built for each group (slicememo.go)
	claims  map[string]*claimIndex   // the index of each mux's state document (claimindex.go)
	gen     uint32                   // sweep generation
	uses    int                      // lookups since the last sweep
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[cacheKey]*cacheEntry{}, slices: map[sliceKey]sliceName{}}
}

// sliceKey is a mux and one of its endpoint groups (address type and port list).
type sliceKey struct{ mux, group string }

// sliceName is the name prefix of a group's slices ("<mux>-<hash>-") and the name
// of its first slice: a SHA-256 of the group and two strings, the same every pass.
type sliceName struct {
	base, first string
	gen         uint32
}

// sliceNames fills out[i] with the names of group keys[i]'s slices on mux.
func (c *Cache) sliceNames(mux string, keys []string, out []sliceName) {
	if c == nil {
		for i, k := range keys {
			out[i] = newSliceName(mux, k)
		}
		return
	}
	var misses []int
	c.mu.Lock()
	for i, k := range keys {
		if n, ok := c.slices[sliceKey{mux, k}]; ok {
			out[i] = n
			if n.gen != c.gen {
				n.gen = c.gen
				c.slices[sliceKey{mux, k}] = n
			}
			continue
		}
		misses = append(misses, i)
	}
	c.uses += len(keys)
	c.sweep()
	c.mu.Unlock()
	if len(misses) == 0 {
		return
	}
	// A hash each: a new agent's first pass of a large mux names thousands.
	inHalves(len(misses), func(_, from, to int) {
		for _, i := range misses[from:to] {
			out[i] = newSliceName(mux, keys[i])
		}
	})
	c.mu.Lock()
	if len(c.slices) == 0 {
		c.slices = make(map[sliceKey]sliceName, len(misses)) // a new cache: sized once, not grown
	}
	for _, i := range misses {
		n := out[i]
		n.gen = c.gen
		c.slices[sliceKey{mux, keys[i]}] = n
	}
	c.mu.Unlock()
}

// newSliceName names a group's slices after the mux and a hash of the group, so
// the names stay stable as other channels come and go.
func newSliceName(mux, group string) sliceName {
	var buf [256]byte
	sum := sha256.Sum256(append(buf[:0], group...))
	var hash [8]byte
	hex.Encode(hash[:], sum[:4])
	first := mux + "-" + string(hash[:]) + "-0" // one string: the base is its prefix
	return sliceName{base: first[:len(first)-1], first: first}
}

type cacheKey struct{ namespace, name string }

// cacheEntry is one channel's projection and the inputs it was derived from.
type cacheEntry struct {
	inputs   []portInput
	keyName  string // the external-ports annotation key the projection read
	dnsKey   string // and the external-dns hostname key pr.dns read
	external string // and its value
	pr       projection
	// version is the resourceVersion pr.ignored and pr.dns were derived from: the fields it
	// reads are the whole spec and every annotation, too many to compare on every
	// pass, and a channel that changed none of them keeps its resourceVersion.
	version string
	gen     uint32 // last sweep generation that used the entry
}

// portInput is what the projection reads of one spec.ports entry.
type portInput struct {
	name     string
	protocol corev1.Protocol
	port     int32
}

func (e *cacheEntry) matches(svc *corev1.Service, keys api.Keys) bool {
	if e.keyName != keys.ExternalPorts || e.dnsKey != keys.ExternalDNSHostname || e.external != svc.Annotations[keys.ExternalPorts] ||
		len(e.inputs) != len(svc.Spec.Ports) {
		return false
	}
	for i := range e.inputs {
		sp := &svc.Spec.Ports[i]
		if in := &e.inputs[i]; in.name != sp.Name || in.protocol != sp.Protocol || in.port != sp.Port {
			return false
		}
	}
	return true
}

// projectAll fills out[i] with the projection of svcs[i]: remembered ones under one
// lock, the rest derived outside it into slabs sized for the misses only (a
// remembered projection must not pin a large slab of a pass long gone), then
// remembered under a second lock.
func (c *Cache) projectAll(svcs []*corev1.Service, keys api.Keys, out []projection) {
	c.mu.Lock()
	// Looked up in halves under the one lock: map reads do not race one another, and
	// each half marks its own entries (a snapshot names a channel once).
	var halves [2][]int
	inHalves(len(svcs), func(half, from, to int) {
		for i := from; i < to; i++ {
			svc := svcs[i]
			if e := c.entries[cacheKey{svc.Namespace, svc.Name}]; e != nil && e.matches(svc, keys) {
				e.gen = c.gen
				if svc.ResourceVersion == "" || e.version != svc.ResourceVersion {
					// Its ports are as they were, but anything else of it may have changed.
					e.pr.ignored, e.pr.dns, e.version = IgnoredChannelFields(svc), readChannelDNS(svc, keys), svc.ResourceVersion
				}
				out[i] = e.pr
				continue
			}
			halves[half] = append(halves[half], i)
		}
	})
	misses := append(halves[0], halves[1]...)
	c.uses += len(svcs)
	c.sweep()
	c.mu.Unlock()
	if len(misses) == 0 {
		return
	}
	entries := make([]cacheEntry, len(misses))
	// A new agent derives every channel: both halves at once, each into its own slabs.
	inHalves(len(misses), func(_, from, to int) {
		ports := 0
		for _, i := range misses[from:to] {
			ports += len(svcs[i].Spec.Ports)
		}
		inputs := newSlab[portInput](ports)
		views := newSlab[portView](ports)
		for j := from; j < to; j++ {
			svc := svcs[misses[j]]
			e := &entries[j]
			*e = cacheEntry{keyName: keys.ExternalPorts, dnsKey: keys.ExternalDNSHostname, external: svc.Annotations[keys.ExternalPorts], version: svc.ResourceVersion,
				inputs: carve(&inputs, len(svc.Spec.Ports)), pr: projectPorts(svc, keys, &views)}
			for _, sp := range svc.Spec.Ports {
				e.inputs = append(e.inputs, portInput{name: sp.Name, protocol: sp.Protocol, port: sp.Port})
			}
			out[misses[j]] = e.pr
		}
	})
	c.mu.Lock()
	if len(c.entries) == 0 {
		c.entries = make(map[cacheKey]*cacheEntry, len(misses)) // a new cache: sized once, not grown
	}
	for j, i := range misses {
		entries[j].gen = c.gen
		c.entries[cacheKey{svcs[i].Namespace, svcs[i].Name}] = &entries[j]
	}
	c.mu.Unlock()
}

// sweep starts a new generation once there have been as many lookups as entries
// (every live channel has had its turn, however the passes are spread over muxes)
// and drops what the last two generations did not use: deleted channels and muxes
// do not stay in memory. Called with mu held.
func (c *Cache) sweep() {
	if c.uses < len(c.entries)+1024 {
		return
	}
	for k, e := range c.entries {
		if c.gen-e.gen >= 2 {
			delete(c.entries, k)
		}
	}
	for k, n := range c.slices {
		if c.gen-n.gen >= 2 {
			delete(c.slices, k)
		}
	}
	for k, b := range c.groups {
		if c.gen-b.gen >= 2 {
			delete(c.groups, k)
		}
	}
	for k, ix := range c.claims {
		if c.gen-ix.gen >= 2 {
			delete(c.claims, k)
		}
	}
	c.gen++
	c.uses = 0
}

// Len is the number of channels remembered, and twice that of endpoint groups
// (their slices' names, and the slices built for them).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries) + len(c.slices) + len(c.groups)
}

// project fills out[i] with the projection of svcs[i], through c when there is
// one, else derived into one slab for the pass.
func (c *Cache) project(svcs []*corev1.Service, keys api.Keys, ports int, out []projection) {
	if c != nil {
		c.projectAll(svcs, keys, out)
		return
	}
	slab := newSlab[portView](ports)
	for i, svc := range svcs {
		out[i] = projectPorts(svc, keys, &slab)
	}
}
