package apply

import (
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Diff returns the minimal writes that bring the live objects of s to plan p, in
// stage order. Nothing changed ⇒ no writes. A frozen plan writes nothing.
func Diff(p plan.Plan, s plan.Snapshot) []Write {
	if p.Frozen {
		return finalizerWrites(p, s)
	}
	var out []Write
	out = append(out, stateWrites(p, s)...)
	out = append(out, muxWrites(p, s)...)
	out = append(out, endpointWrites(p, s)...)
	channels := map[string]*corev1.Service{}
	for _, c := range s.Channels {
		channels[c.Namespace+"/"+c.Name] = c
	}
	strip := map[string]bool{}
	for _, r := range p.StripFinalizers {
		strip[r.String()] = true
	}
	for _, o := range p.Channels {
		if svc := channels[o.Channel.String()]; svc != nil {
			out = append(out, channelWrites(o, svc, p.Keys, strip[o.Channel.String()])...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// DiffUnattached returns the writes for a Service planned by plan.Unattached.
func DiffUnattached(o plan.ChannelOutcome, svc *corev1.Service, keys api.Keys) []Write {
	return channelWrites(o, svc, keys, false)
}

// finalizerWrites strips the Python controller's finalizer from a frozen mux and its
// channels, and touches nothing else.
func finalizerWrites(p plan.Plan, s plan.Snapshot) []Write {
	objs := map[string]*corev1.Service{s.Mux.Namespace + "/" + s.Mux.Name: s.Mux}
	for _, c := range s.Channels {
		objs[c.Namespace+"/"+c.Name] = c
	}
	var out []Write
	for _, r := range p.StripFinalizers {
		svc := objs[r.String()]
		if svc == nil {
			continue
		}
		kind := KindChannel
		if r == p.Mux {
			kind = KindMux
		}
		if w, ok := finalizerWrite(svc, p.Keys.Finalizer, kind); ok {
			out = append(out, w)
		}
	}
	return out
}

func stateWrites(p plan.Plan, s plan.Snapshot) []Write {
	st := p.State
	if !st.Write && !st.WriteNodePorts {
		return nil
	}
	// Each key is sent only when it changed: allocations.json stays byte for byte
	// what it was when only the remembered NodePorts moved.
	data := map[string]string{}
	var fields []string
	if st.Write {
		data[api.StateKey] = st.Encoded
		fields = append(fields, "data["+api.StateKey+"]")
	}
	if st.WriteNodePorts {
		data[api.NodePortsKey] = st.NodePortsEncoded
		fields = append(fields, "data["+api.NodePortsKey+"]")
	}
	w := Write{Stage: StageState, Kind: KindState, Resource: "configmaps", Namespace: p.Mux.Namespace, Name: st.Name,
		Fields: fields}
	if st.Create {
		w.Verb = VerbCreate
		w.Object = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: st.Name, Namespace: p.Mux.Namespace, Labels: st.Labels, Annotations: st.Annotations},
			Data:       data,
		}
		return []Write{w}
	}
	w.Verb = VerbPatch
	w.PatchType = types.MergePatchType
	w.Patch = mustJSON(map[string]any{
		"metadata": map[string]any{"annotations": st.Annotations, "resourceVersion": s.StateConfigMap.ResourceVersion},
		"data":     data,
	})
	return []Write{w}
}

// muxWrites patches spec.ports, the agent-owned annotations and a leftover
// finalizer in one request. Ports are sent without nodePort — the API server keeps a
// port's NodePort by port name, and an unchanged port keeps its name — except a
// port being restored with its remembered NodePort (SPEC §10); that write carries a
// Fallback without them, for when the API server refuses one.
func muxWrites(p plan.Plan, s plan.Snapshot) []Write {
	mux := s.Mux
	meta := map[string]any{}
	spec := map[string]any{}
	var fields []string
	if plan.MuxPortsDiffer(mux.Spec.Ports, p.Ports) {
		spec["ports"] = portsPatch(p.Ports, keepAll)
		fields = append(fields, "spec.ports")
	}
	if ann, changed := annotationPatch(mux.Annotations, p.Annotations, p.RemoveAnnotations); len(changed) > 0 {
		meta["annotations"] = ann
		fields = append(fields, changed...)
	}
	var out []Write
	if len(fields) > 0 {
		body := map[string]any{"metadata": meta}
		if len(spec) > 0 {
			body["spec"] = spec
		}
		w := Write{Stage: StageMux, Kind: KindMux, Verb: VerbPatch, Resource: "services", Namespace: mux.Namespace,
			Name: mux.Name, Fields: fields, PatchType: types.MergePatchType, Patch: mustJSON(body)}
		if len(spec) > 0 {
			w.Fallback = nodePortFallback(p, body)
		}
		out = append(out, w)
	}
	for _, r := range p.StripFinalizers {
		if r == p.Mux {
			if w, ok := finalizerWrite(mux, p.Keys.Finalizer, KindMux); ok {
				out = append(out, w)
			}
		}
	}
	return out
}

// finalizerWrite removes one finalizer with a JSON patch whose "test" pins the
// entry: it needs no resourceVersion, so it cannot conflict with the other writes
// of the same pass, and it never removes anything else.
func finalizerWrite(svc *corev1.Service, finalizer string, kind Kind) (Write, bool) {
	for i, f := range svc.Finalizers {
		if f == finalizer {
			path := fmt.Sprintf("/metadata/finalizers/%d", i)
			return Write{Stage: StageChannels, Kind: kind, Verb: VerbPatch, Resource: "services",
				Namespace: svc.Namespace, Name: svc.Name, Fields: []string{"metadata.finalizers"}, PatchType: types.JSONPatchType,
				Patch: mustJSON([]map[string]any{{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}})}, true
		}
	}
	return Write{}, false
}

// annotationPatch returns the merge-patch annotations (nil value = delete) and the
// changed field names, sorted: the keys plan.AnnotationChanges names, the same
// comparison the MuxAnnotationsUpdated Event is built from.
func annotationPatch(live, want map[string]string, remove []string) (map[string]any, []string) {
	patch := map[string]any{}
	var fields []string
	for _, k := range plan.AnnotationChanges(live, want, remove) {
		if v, ok := want[k]; ok {
			patch[k] = v
		} else {
			patch[k] = nil
		}
		fields = append(fields, "metadata.annotations["+k+"]")
	}
	return patch, fields
}

// endpointWrites follow the planner's verdict on each mux slice (SliceChanges):
// it compared them already, so a steady pass compares nothing here. The live
// slices are looked up only for the ones to update, which are merged into them.
func endpointWrites(p plan.Plan, s plan.Snapshot) []Write {
	var out []Write
	var live map[string]*discoveryv1.EndpointSlice
	for i, want := range p.Slices {
		w := Write{Stage: StageEndpoints, Kind: KindSlice, Resource: "endpointslices", Namespace: want.Namespace, Name: want.Name}
		switch p.SliceChanges[i] {
		case plan.SliceCreated:
			w.Verb, w.Object, w.Fields = VerbCreate, want.DeepCopy(), []string{"endpoints", "ports"}
		case plan.SliceReplaced: // immutable: delete first, then create
			out = append(out, Write{Stage: StageReplace, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices",
				Namespace: want.Namespace, Name: want.Name})
			w.Verb, w.Object, w.Fields = VerbCreate, want.DeepCopy(), []string{"addressType"}
		case plan.SliceUpdated:
			if live == nil {
				live = map[string]*discoveryv1.EndpointSlice{}
				for _, sl := range plan.OwnedSlices(s.MuxSlices) {
					live[sl.Name] = sl
				}
			}
			w.Verb, w.Object, w.Fields = VerbUpdate, mergeSlice(live[want.Name], want), []string{"endpoints", "ports", "metadata"}
		default:
			continue
		}
		out = append(out, w)
	}
	for _, name := range p.StaleSlices {
		out = append(out, Write{Stage: StageCleanup, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices",
			Namespace: p.Mux.Namespace, Name: name})
	}
	out = append(out, legacyWrites(p, s)...)
	return out
}

// mergeSlice is live with the desired content and svcmux's labels and annotations,
// keeping anything else others put on it.
func mergeSlice(live, want *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	u := live.DeepCopy()
	u.Labels = mergeMap(u.Labels, want.Labels)
	u.Annotations = mergeMap(u.Annotations, want.Annotations)
	u.OwnerReferences = want.OwnerReferences
	u.Endpoints = want.Endpoints
	u.Ports = want.Ports
	return u
}

func mergeMap(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func legacyWrites(p plan.Plan, s plan.Snapshot) []Write {
	live := s.MuxEndpoints
	w := Write{Stage: StageEndpoints, Kind: KindEndpoints, Resource: "endpoints", Namespace: p.Mux.Namespace, Name: p.Mux.Name}
	switch {
	case p.Endpoints != nil && live == nil:
		w.Verb, w.Object, w.Fields = VerbCreate, p.Endpoints.DeepCopy(), []string{"subsets"}
	case p.Endpoints != nil && plan.EndpointsDiffers(p.Endpoints, live):
		u := live.DeepCopy()
		u.Labels = mergeMap(u.Labels, p.Endpoints.Labels)
		if _, skip := p.Endpoints.Labels[api.LabelSkipMirror]; !skip {
			// Endpoints-only mode: the cluster must mirror it again (a "both" run set this).
			delete(u.Labels, api.LabelSkipMirror)
		}
		u.Annotations = mergeMap(u.Annotations, p.Endpoints.Annotations)
		u.OwnerReferences = p.Endpoints.OwnerReferences
		u.Subsets = p.Endpoints.Subsets
		w.Verb, w.Object, w.Fields = VerbUpdate, u, []string{"subsets", "metadata"}
	case p.DeleteLegacyEndpoints && live != nil:
		// Only after our slices exist: a mirrored slice would route to stale backends.
		w.Stage, w.Verb, w.Fields = StageCleanup, VerbDelete, []string{"takeover"}
	default:
		return nil
	}
	return []Write{w}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("apply: marshal patch: " + err.Error()) // only plain maps and API types reach here
	}
	return b
}
