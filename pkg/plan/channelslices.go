package plan

import (
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// gatherChannelSlices gives each channel its EndpointSlices, sorted by name, and
// counts its ready backends, which the annotations show. It reads neither the
// decisions nor anything admission writes, so it runs beside admission
// (Compute): on two cores a large mux's slices are gathered while its ports are
// decided, and the endpoints stage, the longest of a cold pass, starts with them.
func (p *pass) gatherChannelSlices() {
	// Each Service's slices, in snapshot order, as chains through next: no slice
	// of slices per channel until each one's count is known.
	type chain struct{ head, tail, n int }
	bySvc := make(map[svcKey]chain, len(p.channels))
	next := make([]int, len(p.snap.ChannelSlices))
	for i, s := range p.snap.ChannelSlices {
		k := svcKey{s.Namespace, s.Labels[discoveryv1.LabelServiceName]}
		next[i] = -1
		p.channelEndpoints += len(s.Endpoints)
		if ch, ok := bySvc[k]; ok {
			next[ch.tail], ch.tail, ch.n = i, i, ch.n+1
			bySvc[k] = ch
		} else {
			bySvc[k] = chain{i, i, 1}
		}
	}
	slab := newSlab[*discoveryv1.EndpointSlice](len(p.snap.ChannelSlices))
	byName := func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) }
	for _, c := range p.channels {
		ch, ok := bySvc[svcKey{c.ref.Namespace, c.ref.Name}]
		if !ok {
			continue
		}
		c.slices = carve(&slab, ch.n)
		for i := ch.head; i >= 0; i = next[i] {
			c.slices = append(c.slices, p.snap.ChannelSlices[i])
		}
		if len(c.slices) > 1 {
			sortBy(c.slices, byName)
		}
		c.ready = countReady(c.slices)
		p.plan.Stats.ReadyPods += c.ready
	}
}

// countReady counts distinct ready backends of one channel (a pod in an IPv4 and
// an IPv6 slice counts once).
func countReady(slices []*discoveryv1.EndpointSlice) int {
	if len(slices) == 1 {
		// One slice holds each backend once: no de-duplication needed.
		n := 0
		for _, e := range slices[0].Endpoints {
			if isReady(e) && len(e.Addresses) > 0 {
				n++
			}
		}
		return n
	}
	seen := map[string]bool{}
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if !isReady(e) || len(e.Addresses) == 0 {
				continue
			}
			id := e.Addresses[0]
			if e.TargetRef != nil {
				id = e.TargetRef.Namespace + "/" + e.TargetRef.Name
			}
			seen[id] = true
		}
	}
	return len(seen)
}

// CountBackends counts one channel's distinct backends and how many are ready, the
// way the topology annotation counts ready pods; the plugin shows both.
func CountBackends(slices []*discoveryv1.EndpointSlice) (ready, total int) {
	seen := map[string]bool{}
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			id := e.Addresses[0]
			if e.TargetRef != nil {
				id = e.TargetRef.Namespace + "/" + e.TargetRef.Name
			}
			seen[id] = true
		}
	}
	return countReady(slices), len(seen)
}
