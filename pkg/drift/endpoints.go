package drift

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/nowakeai/svcmux/pkg/plan"
)

// Paths that say who wrote an endpoints object's content. endpoints, ports and
// subsets are atomic lists, so their writer owns them whole; addressType is
// written once, by the creator, so an extra slice always has a writer.
var (
	slicePaths     = []fieldpath.Path{path("endpoints"), path("ports"), path("addressType")}
	endpointsPaths = []fieldpath.Path{path("subsets")}
	labelsPath     = path("metadata", "labels")
)

// objectWriter blames content first, then the labels (an Endpoints object with no
// subsets has no content to own).
func objectWriter(own *ownership, content []fieldpath.Path) Writer {
	if w := own.blame(content...); w.Kind != WriterUnknown {
		return w
	}
	return own.blame(labelsPath)
}

// sliceDrifts reports the mux's own EndpointSlices as the planner found them
// against the live ones (Plan.SliceChanges, StaleSlices): missing (the agent
// creates it), different (rewrites it; also a slice of another address type,
// which it replaces), extra (deletes it). Slices of other controllers are none of
// its business.
func sliceDrifts(p plan.Plan, s plan.Snapshot) []Drift {
	live := map[string]*discoveryv1.EndpointSlice{}
	for _, sl := range plan.OwnedSlices(s.MuxSlices) {
		live[sl.Name] = sl
	}
	var out []Drift
	for i, want := range p.Slices {
		obj := Object{Kind: "EndpointSlice", Namespace: want.Namespace, Name: want.Name}
		switch p.SliceChanges[i] {
		case plan.SliceCreated:
			out = append(out, Drift{Object: obj, Field: FieldMissing, Desired: sliceSummary(want), Live: Absent,
				Writer: Writer{Kind: WriterUnknown}})
		case plan.SliceUpdated, plan.SliceReplaced:
			l := live[want.Name]
			d := Drift{Object: obj, Field: FieldDifferent, Desired: sliceSummary(want), Live: sliceSummary(l),
				Writer: objectWriter(newOwnership(l.ManagedFields), slicePaths)}
			if d.Desired == d.Live {
				d.Live += metadataDiffers
			}
			out = append(out, d)
		}
	}
	for _, name := range p.StaleSlices {
		l := live[name]
		out = append(out, Drift{Object: Object{Kind: "EndpointSlice", Namespace: l.Namespace, Name: name},
			Field: FieldExtra, Desired: Absent, Live: sliceSummary(l), Writer: objectWriter(newOwnership(l.ManagedFields), slicePaths)})
	}
	return out
}

// metadataDiffers marks a live object whose content reads the same as the
// desired one: what differs is its labels, annotations or owner references.
const metadataDiffers = " (labels, annotations or owner references differ)"

// endpointsDrifts compares the legacy Endpoints object with plan.EndpointsDiffers
// (endpoints and both modes), and reports the previous controller's Endpoints the
// agent deletes on takeover (slices mode).
func endpointsDrifts(p plan.Plan, s plan.Snapshot) []Drift {
	live := s.MuxEndpoints
	obj := Object{Kind: "Endpoints", Namespace: p.Mux.Namespace, Name: p.Mux.Name}
	switch {
	case p.Endpoints != nil && live == nil:
		return []Drift{{Object: obj, Field: FieldMissing, Desired: endpointsSummary(p.Endpoints), Live: Absent,
			Writer: Writer{Kind: WriterUnknown}}}
	case p.Endpoints != nil && plan.EndpointsDiffers(p.Endpoints, live):
		d := Drift{Object: obj, Field: FieldDifferent, Desired: endpointsSummary(p.Endpoints), Live: endpointsSummary(live),
			Writer: objectWriter(newOwnership(live.ManagedFields), endpointsPaths)}
		if d.Desired == d.Live {
			d.Live += metadataDiffers
		}
		return []Drift{d}
	case p.Endpoints == nil && p.DeleteLegacyEndpoints && live != nil:
		return []Drift{{Object: obj, Field: FieldExtra, Desired: Absent, Live: endpointsSummary(live),
			Writer: objectWriter(newOwnership(live.ManagedFields), endpointsPaths)}}
	}
	return nil
}
