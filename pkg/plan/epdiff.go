package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// OwnedSlices keeps the slices svcmux manages (never the cluster's own, nor a mirror).
func OwnedSlices(live []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range live {
		if isOwnedSlice(s) {
			out = append(out, s)
		}
	}
	return out
}

func isOwnedSlice(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == api.EndpointSliceManagedBy
}

// SliceDiffers reports whether live differs from desired in a field svcmux owns.
func SliceDiffers(desired, live *discoveryv1.EndpointSlice) bool {
	return sliceDiffers(desired, live, pairsOf(desired.Labels))
}

// sliceDiffers is SliceDiffers with desired's labels given as pairs: a pass
// compares thousands of slices that share one label map.
func sliceDiffers(desired, live *discoveryv1.EndpointSlice, labels []pair) bool {
	return desired.AddressType != live.AddressType ||
		!sameEndpoints(desired.Endpoints, live.Endpoints) ||
		!samePorts(desired.Ports, live.Ports) ||
		!pairsContained(live.Labels, labels) ||
		!metaContains(live.Annotations, desired.Annotations) ||
		!sameOwners(desired.OwnerReferences, live.OwnerReferences)
}

// pair is one key and value of a label or annotation map.
type pair struct{ key, value string }

func pairsOf(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for k, v := range m {
		out = append(out, pair{k, v})
	}
	return out
}

// pairsContained is metaContains with want as pairs.
func pairsContained(have map[string]string, want []pair) bool {
	for _, w := range want {
		if hv, ok := have[w.key]; !ok || hv != w.value {
			return false
		}
	}
	return true
}

func sameOwners(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].APIVersion != b[i].APIVersion || a[i].Kind != b[i].Kind || a[i].Name != b[i].Name ||
			a[i].UID != b[i].UID || !sameBool(a[i].Controller, b[i].Controller) || !sameBool(a[i].BlockOwnerDeletion, b[i].BlockOwnerDeletion) {
			return false
		}
	}
	return true
}

// sameEndpoints compares the fields svcmux sets, without reflection: a steady pass
// compares every endpoint of every channel.
func sameEndpoints(a, b []discoveryv1.Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if !sameStrings(x.Addresses, y.Addresses) || !sameBool(x.Conditions.Ready, y.Conditions.Ready) ||
			!sameBool(x.Conditions.Serving, y.Conditions.Serving) || !sameBool(x.Conditions.Terminating, y.Conditions.Terminating) ||
			!sameString(x.Hostname, y.Hostname) || !sameString(x.NodeName, y.NodeName) || !sameString(x.Zone, y.Zone) ||
			!sameTarget(x.TargetRef, y.TargetRef) {
			return false
		}
	}
	return true
}

func samePorts(a, b []discoveryv1.EndpointPort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameString(a[i].Name, b[i].Name) || !sameInt(a[i].Port, b[i].Port) ||
			!sameProto(a[i].Protocol, b[i].Protocol) || !sameString(a[i].AppProtocol, b[i].AppProtocol) {
			return false
		}
	}
	return true
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func samePtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func sameBool(a, b *bool) bool             { return samePtr(a, b) }
func sameString(a, b *string) bool         { return samePtr(a, b) }
func sameInt(a, b *int32) bool             { return samePtr(a, b) }
func sameProto(a, b *corev1.Protocol) bool { return samePtr(a, b) }
func sameTarget(a, b *corev1.ObjectReference) bool {
	return (a == nil) == (b == nil) && (a == nil || (a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name && a.UID == b.UID))
}

// EndpointsDiffers reports whether the live legacy Endpoints differs from desired.
func EndpointsDiffers(desired, live *corev1.Endpoints) bool {
	_, wantSkip := desired.Labels[api.LabelSkipMirror]
	_, haveSkip := live.Labels[api.LabelSkipMirror]
	return wantSkip != haveSkip || !metaContains(live.Labels, desired.Labels) ||
		!metaContains(live.Annotations, desired.Annotations) ||
		!equality.Semantic.DeepEqual(desired.OwnerReferences, live.OwnerReferences) ||
		!equality.Semantic.DeepEqual(nonNilSubsets(desired.Subsets), nonNilSubsets(live.Subsets))
}

func nonNilSubsets(s []corev1.EndpointSubset) []corev1.EndpointSubset {
	if s == nil {
		return []corev1.EndpointSubset{}
	}
	return s
}

// metaContains reports whether every key of want has the same value in have.
func metaContains(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// endpointEvents compares desired endpoints with the live ones and records
// MuxEndpointsCreated or MuxEndpointsChanged.
func (p *pass) endpointEvents() {
	var liveSet, wantSet tupleSet
	created, changed := false, false
	// In every mode: in endpoints mode no slice is desired, so any of svcmux's
	// own left from slices mode is stale and goes.
	owned := p.compareSlices()
	if p.opts.EndpointsMode.slices() {
		created = owned == 0 && len(p.plan.Slices) > 0
		for _, c := range p.plan.SliceChanges {
			changed = changed || c != SliceKept
		}
		changed = !created && (changed || len(p.plan.StaleSlices) > 0)
		// The readable diff is only built when there is something to tell.
		if created || changed {
			owned := OwnedSlices(p.snap.MuxSlices)
			liveSet.grow(owned)
			for _, s := range owned {
				liveSet.addSlice(s)
			}
			wantSet.grow(p.plan.Slices)
			for _, s := range p.plan.Slices {
				wantSet.addSlice(s)
			}
		}
	} else {
		live := p.snap.MuxEndpoints
		created = live == nil
		wantSet.addEndpoints(p.plan.Endpoints)
		if live != nil {
			liveSet.addEndpoints(live)
			changed = EndpointsDiffers(p.plan.Endpoints, live)
		}
	}
	switch {
	case created:
		p.endpointsEvent(api.ReasonMuxEndpointsCreated, fmt.Sprintf("Mux endpoints created: %d ready, %d not ready", len(wantSet.ready), len(wantSet.notReady)))
	case changed:
		p.endpointsEvent(api.ReasonMuxEndpointsChanged, endpointsChangeMessage(liveSet, wantSet))
	}
}

// endpointsEvent is normalMux for buildEndpoints, which may run beside stages that
// post to the plan's Events themselves.
func (p *pass) endpointsEvent(reason, msg string) {
	p.endpointsEvents = append(p.endpointsEvents, Event{Object: p.plan.Mux, Type: api.EventNormal, Reason: reason, Message: msg})
}

// compareSlices fills the plan's SliceChanges and StaleSlices from the live slices
// svcmux manages, and returns how many there are. A steady pass of a large mux
// compares thousands of slices, each with its own: the two halves run side by side.
func (p *pass) compareSlices() (owned int) {
	live := make(map[string]*discoveryv1.EndpointSlice, len(p.snap.MuxSlices))
	for _, s := range p.snap.MuxSlices {
		if isOwnedSlice(s) {
			live[s.Name] = s
		}
	}
	owned = len(live)
	// Every desired slice carries the pass's labels: their pairs are listed once.
	labels := pairsOf(p.sliceLabels())
	desired := p.plan.Slices
	changes := make([]SliceChange, len(desired))
	kept := make([]objectID, len(desired)) // the live slice each desired one equals
	var matched [2]int                     // live slices desired too, by half
	inHalves(len(desired), func(half, from, to int) {
		for i := from; i < to; i++ {
			s := desired[i]
			l, ok := live[s.Name]
			switch {
			case !ok:
				changes[i] = SliceCreated
				continue
			case l.AddressType != s.AddressType:
				changes[i] = SliceReplaced
			case p.keptBefore(i, l) || !sliceDiffers(s, l, labels):
				kept[i] = idOf(l)
			default:
				changes[i] = SliceUpdated
			}
			matched[half]++
		}
	})
	p.plan.SliceChanges = changes
	p.rememberSlices(kept)
	if matched[0]+matched[1] < owned { // desired slice names are distinct
		p.plan.StaleSlices = staleSlices(live, desired)
	}
	return owned
}

// staleSlices names, sorted, the live slices no desired slice has the name of.
func staleSlices(live map[string]*discoveryv1.EndpointSlice, desired []*discoveryv1.EndpointSlice) []string {
	for _, s := range desired {
		delete(live, s.Name)
	}
	stale := make([]string, 0, len(live))
	for name := range live {
		stale = append(stale, name)
	}
	sort.Strings(stale)
	return stale
}

// tupleSet holds "ip:port/protocol" endpoints split by readiness. The tuples are
// kept as values and formatted only when a message lists them: a new mux has one
// per backend and port, and its Event only counts them.
type tupleSet struct{ ready, notReady map[tuple]bool }

type tuple struct {
	ip    string
	port  int32
	proto corev1.Protocol
}

func (t tuple) String() string { return t.ip + ":" + strconv.Itoa(int(t.port)) + "/" + string(t.proto) }

func (t *tupleSet) add(ip string, port int32, proto corev1.Protocol, ready bool) {
	if t.ready == nil {
		t.ready, t.notReady = map[tuple]bool{}, map[tuple]bool{}
	}
	if ready {
		t.ready[tuple{ip, port, proto}] = true
	} else {
		t.notReady[tuple{ip, port, proto}] = true
	}
}

// grow makes room for the tuples of slices, ready or not.
func (t *tupleSet) grow(slices []*discoveryv1.EndpointSlice) {
	n := 0
	for _, s := range slices {
		n += len(s.Endpoints) * len(s.Ports)
	}
	t.ready, t.notReady = make(map[tuple]bool, n), map[tuple]bool{}
}

func (t *tupleSet) addSlice(s *discoveryv1.EndpointSlice) {
	for _, e := range s.Endpoints {
		for _, port := range s.Ports {
			if port.Port != nil && len(e.Addresses) > 0 {
				proto := corev1.ProtocolTCP
				if port.Protocol != nil {
					proto = *port.Protocol
				}
				t.add(e.Addresses[0], *port.Port, proto, isReady(e))
			}
		}
	}
}

func (t *tupleSet) addEndpoints(ep *corev1.Endpoints) {
	for _, sub := range ep.Subsets {
		for _, port := range sub.Ports {
			for _, a := range sub.Addresses {
				t.add(a.IP, port.Port, port.Protocol, true)
			}
			for _, a := range sub.NotReadyAddresses {
				t.add(a.IP, port.Port, port.Protocol, false)
			}
		}
	}
}

func endpointsChangeMessage(live, want tupleSet) string {
	var parts []string
	if added := setMinus(want.ready, live.ready); len(added) > 0 {
		parts = append(parts, fmt.Sprintf("Added %d endpoint(s): %s", len(added), joinLimited(added, 20)))
	}
	if removed := setMinus(live.ready, want.ready); len(removed) > 0 {
		parts = append(parts, fmt.Sprintf("Removed %d endpoint(s): %s", len(removed), joinLimited(removed, 20)))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Mux endpoints updated: %d ready, %d not ready", len(want.ready), len(want.notReady))
	}
	return strings.Join(parts, "; ")
}

// setMinus lists the tuples of a that b lacks, formatted and sorted.
func setMinus(a, b map[tuple]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k.String())
		}
	}
	sort.Strings(out)
	return out
}

func joinLimited(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(", and %d more", len(items)-max)
}
