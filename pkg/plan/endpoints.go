package plan

import (
	stdslices "slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// group is one set of mux endpoints sharing an address type and a port list: an
// EndpointSlice carries one port list for all its endpoints, so each channel's
// backends (and each distinct resolution of a named targetPort) form their own group.
type group struct {
	key         string
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   []discoveryv1.Endpoint
	channels    []string                     // refs of the channels in the group, distinct
	sources     []*discoveryv1.EndpointSlice // the channel slices its endpoints came from, in order
}

// svcKey names a Service without building "namespace/name".
type svcKey struct{ namespace, name string }

// endpointsWork is buildEndpoints' scratch: a mux has a slice per channel, so the
// groups, their endpoints and the slices are carved from slabs sized once.
type endpointsWork struct {
	groups    map[string]*group
	order     []*group // the groups, in the order they were made
	groupSlab []group
	chanSlab  []string                     // the groups' channel lists: one each, as a rule
	srcSlab   []*discoveryv1.EndpointSlice // the groups' sources: one each, as a rule
	epSlab    []discoveryv1.Endpoint
	portSlab  []discoveryv1.EndpointPort
	ports     []discoveryv1.EndpointPort // the port list being built, reused
	key       []byte                     // the group key being built, reused
	tcp       *corev1.Protocol           // shared by ports whose slice leaves it unset
}

// buildEndpoints computes the mux's EndpointSlices and/or legacy Endpoints from
// the channels' slices (gatherChannelSlices has given each channel its own).
func (p *pass) buildEndpoints() {
	tcp := corev1.ProtocolTCP
	w := &endpointsWork{groups: make(map[string]*group, len(p.channels)), order: make([]*group, 0, len(p.channels)),
		groupSlab: newSlab[group](len(p.channels)),
		chanSlab:  newSlab[string](len(p.channels)), srcSlab: newSlab[*discoveryv1.EndpointSlice](len(p.channels)),
		epSlab: newSlab[discoveryv1.Endpoint](p.channelEndpoints), portSlab: newSlab[discoveryv1.EndpointPort](p.served), tcp: &tcp}
	for _, c := range p.channels {
		if served := c.decision.served; len(served) > 0 {
			for _, s := range c.slices {
				w.add(c.refStr, s, served)
			}
		}
	}
	// The groups in the order they were made, which the channels' order fixes: the
	// slices are sorted by name in the end, so only the legacy Endpoints, whose
	// subsets follow the groups, need them sorted by key.
	ordered := w.order
	for _, g := range ordered {
		sortEndpoints(g)
		if len(g.channels) > 1 {
			sort.Strings(g.channels)
		}
	}
	if p.opts.EndpointsMode.slices() {
		p.plan.Slices = p.slicesFor(ordered)
	}
	if p.opts.EndpointsMode.endpoints() {
		sortBy(ordered, func(a, b *group) int { return strings.Compare(a.key, b.key) })
		p.plan.Endpoints = p.legacyEndpoints(ordered)
	}
	p.plan.DeleteLegacyEndpoints = p.opts.EndpointsMode == EndpointsModeSlices && IsPythonEndpoints(p.snap.MuxEndpoints)
	p.endpointEvents()
}

// add maps one channel slice onto mux port names and adds its endpoints to the
// group of its address type and port list.
func (w *endpointsWork) add(channel string, s *discoveryv1.EndpointSlice, served []servedPort) {
	if s.AddressType == discoveryv1.AddressTypeFQDN {
		return
	}
	w.ports = w.ports[:0]
	for _, sp := range s.Ports {
		if sp.Name == nil || sp.Port == nil {
			continue
		}
		var muxName *string
		for i := range served { // a handful of ports: a scan beats a map
			if served[i].pv.name == *sp.Name {
				muxName = &served[i].pv.muxName // read-only, like the plan
			}
		}
		if muxName == nil {
			continue
		}
		proto := w.tcp
		if sp.Protocol != nil {
			proto = sp.Protocol
		}
		// The pointers are shared with the pass and the snapshot, not copied: plans
		// are read-only, like snapshots.
		w.ports = append(w.ports, discoveryv1.EndpointPort{Name: muxName, Port: sp.Port, Protocol: proto, AppProtocol: sp.AppProtocol})
	}
	if len(w.ports) == 0 {
		return
	}
	if len(w.ports) > 1 {
		sortBy(w.ports, func(a, b discoveryv1.EndpointPort) int { return strings.Compare(*a.Name, *b.Name) })
	}
	kb := append(w.key[:0], s.AddressType...)
	for _, e := range w.ports {
		kb = append(kb, '|')
		kb = append(kb, *e.Name...)
		kb = append(kb, ':')
		kb = strconv.AppendInt(kb, int64(*e.Port), 10)
		kb = append(kb, '/')
		kb = append(kb, *e.Protocol...)
	}
	w.key = kb
	g, ok := w.groups[string(kb)]
	if !ok {
		g = &carve(&w.groupSlab, 1)[:1][0]
		*g = group{key: string(kb), addressType: s.AddressType,
			ports:     append(carve(&w.portSlab, len(w.ports)), w.ports...),
			endpoints: carve(&w.epSlab, len(s.Endpoints)),
			channels:  carve(&w.chanSlab, 1), sources: carve(&w.srcSlab, 1)}
		w.groups[g.key] = g
		w.order = append(w.order, g)
	}
	// A channel's slices are added one after another, so a repeat is the last one.
	if n := len(g.channels); n == 0 || g.channels[n-1] != channel {
		g.channels = append(g.channels, channel)
	}
	g.sources = append(g.sources, s)
	for _, e := range s.Endpoints {
		if len(e.Addresses) == 0 {
			continue
		}
		// The fields svcmux carries are shared with the snapshot, not copied: a
		// steady pass over thousands of backends would otherwise allocate for each.
		// Plans are read-only, like snapshots.
		g.endpoints = append(g.endpoints, discoveryv1.Endpoint{
			Addresses: e.Addresses, Conditions: e.Conditions,
			Hostname: e.Hostname, TargetRef: e.TargetRef, NodeName: e.NodeName, Zone: e.Zone,
		})
	}
}

// sortEndpoints orders by first address and drops repeats of the same address.
func sortEndpoints(g *group) {
	eps := g.endpoints
	if len(eps) < 2 {
		return
	}
	byAddress := func(a, b discoveryv1.Endpoint) int { return strings.Compare(a.Addresses[0], b.Addresses[0]) }
	if !isSortedBy(eps, byAddress) {
		sortStableBy(eps, byAddress)
	}
	// Endpoints are moved only from the first repeat on: most groups have none.
	n := 1
	for n < len(eps) && eps[n].Addresses[0] != eps[n-1].Addresses[0] {
		n++
	}
	for i := n + 1; i < len(eps); i++ {
		if eps[i].Addresses[0] != eps[i-1].Addresses[0] {
			eps[n] = eps[i]
			n++
		}
	}
	g.endpoints = eps[:n]
}

// slicesFor cuts each group into slices of at most 100 endpoints, named after the
// mux and a hash of the group (newSliceName), or takes the slices an earlier pass
// built from the same channel slices (slicememo.go). The slices of a group share
// their annotations, and all share their labels and owner reference (plans are
// read-only); the result is sorted by name, and p.origins says where each came from.
func (p *pass) slicesFor(groups []*group) []*discoveryv1.EndpointSlice {
	// A group without endpoints needs no slice: an empty slice routes nothing.
	keys := make([]string, 0, len(groups))
	withEndpoints := groups[:0:0]
	for _, g := range groups {
		if len(g.endpoints) > 0 {
			keys = append(keys, g.key)
			withEndpoints = append(withEndpoints, g)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	lists := groupChannelsJSON(withEndpoints)
	m := p.reuseGroups(keys, withEndpoints, lists)
	names := make([]sliceName, len(keys))
	p.opts.Cache.sliceNames(p.mux.Name, keys, names)
	cut := sliceCut{groups: withEndpoints, m: m, names: names, lists: lists,
		own: p.ownAllocations(m), owners: p.ownerReferences(), labels: p.sliceLabels()}
	// The groups are cut in halves, each into its own slab and list: a group's
	// slices are its own, and so is its record.
	var halves [2][]desiredSlice
	inHalves(len(withEndpoints), func(half, from, to int) { halves[half] = p.cutSlices(&cut, from, to) })
	entries := append(halves[0], halves[1]...)
	sortDesiredByName(entries)
	out := make([]*discoveryv1.EndpointSlice, len(entries))
	p.origins = make([]sliceOrigin, len(entries))
	for i, e := range entries {
		out[i], p.origins[i] = e.s, e.origin
	}
	p.groupKeys, p.built = keys, m
	return out
}

// sliceCut is what cutting groups into slices reads: the groups with endpoints,
// their reuse records, names and channel lists, and what every slice shares.
type sliceCut struct {
	groups []*group
	m      groupReuse
	names  []sliceName
	lists  []string
	own    bool // new slices get allocations of their own (ownAllocations)
	owners []metav1.OwnerReference
	labels map[string]string
}

// cutSlices is the slices of groups [from, to): an earlier pass's where it built
// them from the same channel slices, else new ones of at most 100 endpoints, cut
// from one slab.
func (p *pass) cutSlices(cut *sliceCut, from, to int) []desiredSlice {
	fresh, all := 0, 0
	for j := from; j < to; j++ {
		if cut.m.reused[j] {
			all += len(cut.m.built[j].slices)
		} else {
			fresh += chunksOf(cut.groups[j])
		}
	}
	store, entries := newSlab[discoveryv1.EndpointSlice](fresh), make([]desiredSlice, 0, all+fresh)
	for j := from; j < to; j++ {
		g, b := cut.groups[j], cut.m.built[j]
		if cut.m.reused[j] {
			for k, s := range b.slices {
				entries = append(entries, desiredSlice{s, sliceOrigin{b, k, true}})
			}
			continue
		}
		chunks := chunksOf(g)
		eps, ports, st := g.endpoints, g.ports, carve(&store, chunks)
		if cut.own {
			eps, ports, st = stdslices.Clone(eps), stdslices.Clone(ports), make([]discoveryv1.EndpointSlice, 0, chunks)
		}
		annotations := p.endpointsAnnotations(cut.lists[j])
		for i := range chunks {
			s := &st[:i+1][i]
			name := cut.names[j].first
			if i > 0 {
				name = cut.names[j].base + strconv.Itoa(i)
			}
			s.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: p.mux.Namespace,
				Labels: cut.labels, Annotations: annotations, OwnerReferences: cut.owners}
			s.AddressType = g.addressType
			s.Endpoints = eps[i*api.MaxEndpointsPerSlice : min((i+1)*api.MaxEndpointsPerSlice, len(eps))]
			s.Ports = ports
			if b != nil {
				b.slices = append(b.slices, s)
			}
			entries = append(entries, desiredSlice{s, sliceOrigin{b, i, false}})
		}
	}
	return entries
}

// desiredSlice is a slice of this pass and where it came from, sorted together.
type desiredSlice struct {
	s      *discoveryv1.EndpointSlice
	origin sliceOrigin
}

// groupChannelsJSON is channelsJSON of the channels of each group with endpoints,
// cut from one string: a mux has a group per channel.
func groupChannelsJSON(groups []*group) []string {
	size, n := 0, 0
	for _, g := range groups {
		if len(g.endpoints) > 0 {
			size += channelsJSONSize(g.channels)
			n++
		}
	}
	var b strings.Builder
	b.Grow(size)
	ends := make([]int, 0, n)
	for _, g := range groups {
		if len(g.endpoints) > 0 {
			writeChannelsJSON(&b, g.channels)
			ends = append(ends, b.Len())
		}
	}
	all, lists := b.String(), make([]string, n)
	start := 0
	for i, end := range ends {
		lists[i], start = all[start:end], end
	}
	return lists
}

// sliceLabels are the labels of every mux slice, built once a pass and shared
// (plans are read-only).
func (p *pass) sliceLabels() map[string]string {
	if p.labels == nil {
		p.labels = map[string]string{
			api.LabelManagedBy:           api.AppName,
			api.LabelComponent:           api.ComponentMuxEndpoints,
			discoveryv1.LabelServiceName: p.mux.Name,
			discoveryv1.LabelManagedBy:   api.EndpointSliceManagedBy,
		}
	}
	return p.labels
}

// endpointsAnnotations are the annotations of mux slices and the legacy Endpoints.
func (p *pass) endpointsAnnotations(channels string) map[string]string {
	return map[string]string{
		p.keys.Managed:  "true",
		p.keys.Mux:      p.muxRef,
		p.keys.Channels: channels,
	}
}

// ownerReferences makes the mux the controller of its endpoint objects.
func (p *pass) ownerReferences() []metav1.OwnerReference {
	isController := true
	return []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Service", Name: p.mux.Name, UID: p.snap.Mux.UID, Controller: &isController,
	}}
}

// legacyEndpoints is the one core/v1 Endpoints object the Python controller wrote.
func (p *pass) legacyEndpoints(groups []*group) *corev1.Endpoints {
	all := make([]string, 0, len(p.channels))
	for _, c := range p.channels {
		all = append(all, c.refStr)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: p.mux.Name, Namespace: p.mux.Namespace,
		Labels: map[string]string{
			api.LabelManagedBy: api.AppName,
			api.LabelComponent: api.ComponentMuxEndpoints,
		},
		Annotations:     p.endpointsAnnotations(channelsJSON(all)),
		OwnerReferences: p.ownerReferences(),
	}, Subsets: []corev1.EndpointSubset{}}
	if p.opts.EndpointsMode == EndpointsModeBoth {
		ep.Labels[api.LabelSkipMirror] = "true"
	}
	for _, g := range groups {
		var sub corev1.EndpointSubset
		for _, e := range g.endpoints {
			a := corev1.EndpointAddress{IP: e.Addresses[0], NodeName: e.NodeName, TargetRef: e.TargetRef.DeepCopy()}
			if e.Hostname != nil {
				a.Hostname = *e.Hostname
			}
			switch {
			case isTerminating(e):
			case isReady(e):
				sub.Addresses = append(sub.Addresses, a)
			default:
				sub.NotReadyAddresses = append(sub.NotReadyAddresses, a)
			}
		}
		if len(sub.Addresses)+len(sub.NotReadyAddresses) == 0 {
			continue
		}
		for _, port := range g.ports {
			sub.Ports = append(sub.Ports, corev1.EndpointPort{Name: *port.Name, Port: *port.Port, Protocol: *port.Protocol})
		}
		ep.Subsets = append(ep.Subsets, sub)
	}
	return ep
}

// IsPythonEndpoints reports whether ep is the Python controller's generated mux Endpoints.
func IsPythonEndpoints(ep *corev1.Endpoints) bool {
	return ep != nil && ep.Labels[api.LabelManagedBy] == api.AppName && ep.Labels[api.LabelComponent] == api.ComponentMuxEndpoints
}

// isReady follows the EndpointSlice API: a nil ready condition means ready.
func isReady(e discoveryv1.Endpoint) bool {
	return (e.Conditions.Ready == nil || *e.Conditions.Ready) && !isTerminating(e)
}

func isTerminating(e discoveryv1.Endpoint) bool {
	return e.Conditions.Terminating != nil && *e.Conditions.Terminating
}
