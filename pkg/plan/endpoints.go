package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	channels    map[string]bool
}

// buildEndpoints computes the mux's EndpointSlices and/or legacy Endpoints from
// the channels' slices, and the ready-pod counts the annotations show.
func (p *pass) buildEndpoints() {
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range p.snap.ChannelSlices {
		name := s.Labels[discoveryv1.LabelServiceName]
		slicesBySvc[s.Namespace+"/"+name] = append(slicesBySvc[s.Namespace+"/"+name], s)
	}
	groups := map[string]*group{}
	for _, c := range p.channels {
		ref := c.ref.String()
		slices := slicesBySvc[ref]
		if len(slices) > 1 {
			sort.Slice(slices, func(i, j int) bool { return slices[i].Name < slices[j].Name })
		}
		p.readyByChannel[c.ref] = countReady(slices)
		p.plan.Stats.ReadyPods += p.readyByChannel[c.ref]
		served := p.decisions[c].served
		if len(served) == 0 {
			continue
		}
		for _, s := range slices {
			addGroup(groups, ref, s, served)
		}
	}
	ordered := make([]*group, 0, len(groups))
	for _, g := range groups {
		sortEndpoints(g)
		ordered = append(ordered, g)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].key < ordered[j].key })
	if p.opts.EndpointsMode.slices() {
		for _, g := range ordered {
			p.plan.Slices = append(p.plan.Slices, p.slicesFor(g)...)
		}
		sort.Slice(p.plan.Slices, func(i, j int) bool { return p.plan.Slices[i].Name < p.plan.Slices[j].Name })
	}
	if p.opts.EndpointsMode.endpoints() {
		p.plan.Endpoints = p.legacyEndpoints(ordered)
	}
	p.plan.DeleteLegacyEndpoints = p.opts.EndpointsMode == EndpointsModeSlices && IsPythonEndpoints(p.snap.MuxEndpoints)
	p.endpointEvents()
}

// addGroup maps one channel slice onto mux port names and adds its endpoints.
func addGroup(groups map[string]*group, channel string, s *discoveryv1.EndpointSlice, served []servedPort) {
	if s.AddressType == discoveryv1.AddressTypeFQDN {
		return
	}
	var eps []discoveryv1.EndpointPort
	for _, sp := range s.Ports {
		if sp.Name == nil || sp.Port == nil {
			continue
		}
		muxName := ""
		for _, x := range served { // a handful of ports: a scan beats a map
			if x.pv.name == *sp.Name {
				muxName = x.pv.muxName
			}
		}
		if muxName == "" {
			continue
		}
		proto := corev1.ProtocolTCP
		if sp.Protocol != nil {
			proto = *sp.Protocol
		}
		name, port := muxName, *sp.Port
		eps = append(eps, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	if len(eps) == 0 {
		return
	}
	sort.Slice(eps, func(i, j int) bool { return *eps[i].Name < *eps[j].Name })
	var kb strings.Builder
	kb.WriteString(string(s.AddressType))
	for _, e := range eps {
		kb.WriteString("|" + *e.Name + ":" + strconv.Itoa(int(*e.Port)) + "/" + string(*e.Protocol))
	}
	key := kb.String()
	g, ok := groups[key]
	if !ok {
		g = &group{key: key, addressType: s.AddressType, ports: eps, channels: map[string]bool{}}
		groups[key] = g
	}
	g.channels[channel] = true
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
	sort.SliceStable(g.endpoints, func(i, j int) bool { return g.endpoints[i].Addresses[0] < g.endpoints[j].Addresses[0] })
	out := g.endpoints[:0]
	for i, e := range g.endpoints {
		if i > 0 && e.Addresses[0] == g.endpoints[i-1].Addresses[0] {
			continue
		}
		out = append(out, e)
	}
	g.endpoints = out
}

// slicesFor cuts a group into slices of at most 100 endpoints, named after the mux
// and a hash of the group so names stay stable as other channels come and go.
func (p *pass) slicesFor(g *group) []*discoveryv1.EndpointSlice {
	sum := sha256.Sum256([]byte(g.key))
	base := fmt.Sprintf("%s-%s", p.mux.Name, hex.EncodeToString(sum[:])[:8])
	var out []*discoveryv1.EndpointSlice
	// A group without endpoints needs no slice: an empty slice routes nothing.
	for i := 0; i*api.MaxEndpointsPerSlice < len(g.endpoints); i++ {
		end := min((i+1)*api.MaxEndpointsPerSlice, len(g.endpoints))
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  p.endpointsMeta(fmt.Sprintf("%s-%d", base, i), sortedStrings(g.channels)),
			AddressType: g.addressType,
			Endpoints:   g.endpoints[i*api.MaxEndpointsPerSlice : end],
			Ports:       g.ports,
		}
		s.Labels = p.sliceLabels()
		out = append(out, s)
	}
	return out
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

// endpointsMeta is the metadata shared by mux slices and the legacy Endpoints.
func (p *pass) endpointsMeta(name string, channels []string) metav1.ObjectMeta {
	isController := true
	return metav1.ObjectMeta{
		Name: name, Namespace: p.mux.Namespace,
		Labels: map[string]string{
			api.LabelManagedBy: api.AppName,
			api.LabelComponent: api.ComponentMuxEndpoints,
		},
		Annotations: map[string]string{
			p.keys.Managed:  "true",
			p.keys.Mux:      p.muxRef,
			p.keys.Channels: channelsJSON(channels),
		},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Service", Name: p.mux.Name, UID: p.snap.Mux.UID, Controller: &isController,
		}},
	}
}

// legacyEndpoints is the one core/v1 Endpoints object the Python controller wrote.
func (p *pass) legacyEndpoints(groups []*group) *corev1.Endpoints {
	var all []string
	for _, c := range p.channels {
		all = append(all, c.ref.String())
	}
	ep := &corev1.Endpoints{ObjectMeta: p.endpointsMeta(p.mux.Name, all), Subsets: []corev1.EndpointSubset{}}
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
