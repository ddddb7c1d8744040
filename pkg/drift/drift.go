// Package drift compares, for every field the agent owns (SPEC §5, §6), the value
// the planner wants with the live one, and names who last wrote each live value
// that differs, from the object's managedFields (the status subresource included).
// It is pure: it reads a plan.Plan and the plan.Snapshot it was computed from, and
// decides "differs" with the planner's own comparisons, so a drift is exactly a
// field the agent would write on its next pass.
package drift

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/state"
)

// Absent is the value shown for a field or object that does not exist.
const Absent = "<absent>"

// Fields of a drift about a whole object (EndpointSlices, legacy Endpoints).
const (
	FieldMissing   = "(missing)"   // the agent would create it
	FieldExtra     = "(extra)"     // the agent would delete it
	FieldDifferent = "(different)" // the agent would rewrite it
)

// Object names the object a drift is on.
type Object struct {
	Kind      string
	Namespace string
	Name      string
}

// String is "kind/namespace/name", kind lower-case as kubectl's -o name prints it.
func (o Object) String() string { return strings.ToLower(o.Kind) + "/" + o.Namespace + "/" + o.Name }

// Drift is one agent-owned field whose live value is not the planned one.
type Drift struct {
	Object  Object
	Field   string
	Desired string
	Live    string
	// Writer owns the live value; WriterUnknown when nothing does (a removed
	// field, a missing object).
	Writer Writer
}

// Mux returns the drifts of one planned mux: its ports and annotations, its
// endpoints, its channels and its state, in that order. A frozen plan (invalid
// mux, invalid max-ports) has none: the agent applies nothing to it.
func Mux(p plan.Plan, s plan.Snapshot) []Drift {
	if p.Frozen {
		return nil
	}
	out := muxDrifts(p, s.Mux)
	out = append(out, sliceDrifts(p, s)...)
	out = append(out, endpointsDrifts(p, s)...)
	channels := make(map[string]*corev1.Service, len(s.Channels))
	for _, c := range s.Channels {
		channels[c.Namespace+"/"+c.Name] = c
	}
	for _, o := range p.Channels {
		if svc := channels[o.Channel.String()]; svc != nil {
			out = append(out, Channel(o, svc, p.Keys)...)
		}
	}
	return append(out, stateDrifts(p, s)...)
}

func path(parts ...any) fieldpath.Path { return fieldpath.MakePathOrDie(parts...) }

func annotationField(key string) string { return "metadata.annotations[" + key + "]" }

// muxDrifts: spec.ports and the agent-owned annotations (channels, topology,
// summary and the external-dns keys the agent owns or must remove).
func muxDrifts(p plan.Plan, mux *corev1.Service) []Drift {
	obj := Object{Kind: "Service", Namespace: mux.Namespace, Name: mux.Name}
	own := newOwnership(mux.ManagedFields)
	var out []Drift
	if plan.MuxPortsDiffer(mux.Spec.Ports, p.Ports) {
		out = append(out, Drift{Object: obj, Field: "spec.ports", Desired: servicePorts(p.Ports),
			Live: servicePorts(mux.Spec.Ports), Writer: own.blame(path("spec", "ports"))})
	}
	want := make(map[string]*string, len(p.Annotations)+len(p.RemoveAnnotations))
	for k, v := range p.Annotations {
		want[k] = &v
	}
	for _, k := range p.RemoveAnnotations {
		want[k] = nil
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d, ok := annotationDrift(obj, own, mux.Annotations, k, want[k]); ok {
			out = append(out, d)
		}
	}
	return out
}

// annotationDrift compares one annotation; want nil means it must be absent.
func annotationDrift(obj Object, own *ownership, live map[string]string, key string, want *string) (Drift, bool) {
	lv, has := live[key]
	if want == nil && !has || want != nil && has && lv == *want {
		return Drift{}, false
	}
	d := Drift{Object: obj, Field: annotationField(key), Desired: Absent, Live: Absent,
		Writer: own.blame(path("metadata", "annotations", key))}
	if want != nil {
		d.Desired = *want
	}
	if has {
		d.Live = lv
	}
	return d, true
}

// Channel returns the drifts of one channel outcome (attached, or planned by
// plan.Unattached): the ports annotation, status.loadBalancer and the Accepted
// condition, compared on status, reason, message and observedGeneration — not on
// lastTransitionTime, which says when, not what.
func Channel(o plan.ChannelOutcome, svc *corev1.Service, keys api.Keys) []Drift {
	obj := Object{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
	own := newOwnership(svc.ManagedFields)
	var out []Drift
	if d, ok := annotationDrift(obj, own, svc.Annotations, keys.Ports, o.PortsAnnotation); ok {
		out = append(out, d)
	}
	if live := svc.Status.LoadBalancer.Ingress; !equality.Semantic.DeepEqual(emptyNil(live), emptyNil(o.Ingress)) {
		out = append(out, Drift{Object: obj, Field: "status.loadBalancer", Desired: ingress(o.Ingress), Live: ingress(live),
			Writer: own.blame(path("status", "loadBalancer"))})
	}
	var live *metav1.Condition
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == keys.AcceptedCondition {
			live = &svc.Status.Conditions[i]
		}
	}
	if !sameCondition(o.Condition, live) {
		out = append(out, Drift{Object: obj, Field: "status.conditions[type=" + keys.AcceptedCondition + "]",
			Desired: condition(o.Condition), Live: condition(live),
			Writer: own.blame(path("status", "conditions", fieldpath.KeyByFields("type", keys.AcceptedCondition)))})
	}
	return out
}

func sameCondition(want, live *metav1.Condition) bool {
	if want == nil || live == nil {
		return want == nil && live == nil
	}
	return want.Status == live.Status && want.Reason == live.Reason && want.Message == live.Message &&
		want.ObservedGeneration == live.ObservedGeneration
}

func emptyNil(in []corev1.LoadBalancerIngress) []corev1.LoadBalancerIngress {
	if len(in) == 0 {
		return nil
	}
	return in
}

// stateDrifts compares allocations.json semantically (state.Document.Equal): an
// older format with the same claims is a migration the agent makes, not a drift.
// An unreadable state, or one the agent does not write this pass, has none.
func stateDrifts(p plan.Plan, s plan.Snapshot) []Drift {
	st := p.State
	if !st.Readable || !st.Write {
		return nil
	}
	obj := Object{Kind: "ConfigMap", Namespace: p.Mux.Namespace, Name: st.Name}
	field := "data[" + api.StateKey + "]"
	desired := compactJSON(st.Document.Encode())
	cm := s.StateConfigMap
	if cm == nil {
		return []Drift{{Object: obj, Field: FieldMissing, Desired: desired, Live: Absent, Writer: Writer{Kind: WriterUnknown}}}
	}
	raw, has := cm.Data[api.StateKey]
	if doc, err := state.Decode(raw); err == nil && doc.Equal(st.Document) {
		return nil
	}
	live := Absent
	if has {
		live = compactJSON(raw)
	}
	return []Drift{{Object: obj, Field: field, Desired: desired, Live: live,
		Writer: newOwnership(cm.ManagedFields).blame(path("data", api.StateKey))}}
}
