package apply

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Carried is the ports annotation a channel's status write carries beside the
// status. A Service's status subresource stores metadata too (its strategy resets
// only spec: one of the core types that have always allowed it), so when a pass
// changes both, one request sets both: half the writes of a cold start, and a
// reader never sees the condition without the annotation it describes. Should an
// API server ever ignore metadata there (kubernetes/kubernetes#45539 asks that of
// new resources), the Executor finds the annotation missing from the answer and
// sends Patch, the annotation alone, to the Service itself.
type Carried struct {
	Annotation string
	Value      *string // nil: removed
	Patch      []byte  // JSON merge patch of the annotation alone, for the Service itself
}

// landedOn reports whether svc, as the API server answered the status write,
// holds the annotation as carried.
func (c *Carried) landedOn(svc *corev1.Service) bool {
	v, ok := svc.Annotations[c.Annotation]
	if c.Value == nil {
		return !ok
	}
	return ok && v == *c.Value
}

// channelWrites brings a channel to its outcome: its ports annotation and status
// (ingress and the Accepted condition) in one status write when both change (see
// Carried), else whichever changes on its own; a leftover finalizer is removed
// apart, on the object.
func channelWrites(o plan.ChannelOutcome, svc *corev1.Service, keys api.Keys, stripFinalizer bool) []Write {
	var out []Write
	ann, meta := annotationWrite(o, svc, keys)
	if stripFinalizer {
		if w, ok := finalizerWrite(svc, keys.Finalizer, KindChannel); ok {
			out = append(out, w)
		}
	}
	status, fields := statusChanges(o, svc, keys)
	switch {
	case len(fields) > 0 && meta != nil:
		// The same metadata in a strategic merge patch, where null deletes a map
		// key as in a merge patch.
		w := statusWrite(svc, map[string]any{"metadata": meta, "status": status}, append(ann.Fields, fields...))
		w.Carries = &Carried{Annotation: keys.Ports, Value: o.PortsAnnotation, Patch: ann.Patch}
		out = append(out, w)
	case len(fields) > 0:
		out = append(out, statusWrite(svc, map[string]any{"status": status}, fields))
	case meta != nil:
		out = append(out, ann)
	}
	return out
}

// annotationWrite patches the channel's ports annotation on the object (a merge
// patch; null deletes it when the outcome has none) and returns the patch's
// metadata too; nil when the annotation is as planned.
func annotationWrite(o plan.ChannelOutcome, svc *corev1.Service, keys api.Keys) (Write, map[string]any) {
	live, has := svc.Annotations[keys.Ports]
	var value any
	switch {
	case o.PortsAnnotation == nil && has:
		value = nil
	case o.PortsAnnotation != nil && (!has || live != *o.PortsAnnotation):
		value = *o.PortsAnnotation
	default:
		return Write{}, nil
	}
	meta := map[string]any{"annotations": map[string]any{keys.Ports: value}}
	return Write{Stage: StageChannels, Kind: KindChannel, Verb: VerbPatch, Resource: "services",
		Namespace: svc.Namespace, Name: svc.Name, Fields: []string{"metadata.annotations[" + keys.Ports + "]"},
		PatchType: types.MergePatchType, Patch: mustJSON(map[string]any{"metadata": meta})}, meta
}

// statusWrite sets status.loadBalancer.ingress (an atomic list) and the Accepted
// condition with a strategic merge patch of body: Service status conditions merge
// by type, so other controllers' conditions are kept without a resourceVersion
// precondition, and a finalizer patch of the same pass cannot make this one
// conflict.
func statusWrite(svc *corev1.Service, body map[string]any, fields []string) Write {
	return Write{Stage: StageChannelStatus, Kind: KindChannel, Verb: VerbPatch, Resource: "services", Subresource: "status",
		Namespace: svc.Namespace, Name: svc.Name, Fields: fields, PatchType: types.StrategicMergePatchType,
		Patch: mustJSON(body)}
}

// statusChanges is the status patch body and the fields it changes.
func statusChanges(o plan.ChannelOutcome, svc *corev1.Service, keys api.Keys) (map[string]any, []string) {
	var live *metav1.Condition
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == keys.AcceptedCondition {
			live = &svc.Status.Conditions[i]
		}
	}
	var fields []string
	status := map[string]any{}
	if !equality.Semantic.DeepEqual(emptyNil(svc.Status.LoadBalancer.Ingress), emptyNil(o.Ingress)) {
		status["loadBalancer"] = map[string]any{"ingress": emptyNil(o.Ingress)}
		fields = append(fields, "status.loadBalancer")
	}
	switch {
	case o.Condition == nil && live != nil:
		status["conditions"] = []map[string]any{{"$patch": "delete", "type": keys.AcceptedCondition}}
		fields = append(fields, "status.conditions")
	case o.Condition != nil && (live == nil || !sameCondition(*live, *o.Condition)):
		status["conditions"] = []metav1.Condition{*o.Condition}
		fields = append(fields, "status.conditions")
	}
	return status, fields
}

func emptyNil(in []corev1.LoadBalancerIngress) []corev1.LoadBalancerIngress {
	if len(in) == 0 {
		return nil
	}
	return in
}

// sameCondition compares what svcmux sets; lastTransitionTime at second
// precision, which is what the API server stores.
func sameCondition(a, b metav1.Condition) bool {
	return a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message &&
		a.ObservedGeneration == b.ObservedGeneration &&
		a.LastTransitionTime.Rfc3339Copy().Time.Equal(b.LastTransitionTime.Rfc3339Copy().Time)
}
