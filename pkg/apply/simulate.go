package apply

import (
	"encoding/json"
	"fmt"
	"strconv"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/nowakeai/svcmux/pkg/plan"
)

// Simulate is the snapshot the cluster would show once writes are made, done in
// memory the way the API server does them: patches applied to the objects' JSON,
// creates and updates replacing them, deletes removing them, and every written
// object's resourceVersion moved on. s is not modified. The kubectl plugin's
// `check` predicts the agent's next passes with it, and the tests converge with it,
// so both go through the very writes the agent makes.
func Simulate(s plan.Snapshot, writes []Write) (plan.Snapshot, error) {
	next := s.DeepCopy()
	for _, w := range writes {
		if err := simulateOne(&next, w); err != nil {
			return s, fmt.Errorf("simulate %s: %w", w, err)
		}
	}
	return next, nil
}

func simulateOne(s *plan.Snapshot, w Write) error {
	switch w.Resource {
	case "services":
		svc := s.Mux
		if svc == nil || svc.Namespace != w.Namespace || svc.Name != w.Name {
			svc = findService(s.Channels, w.Namespace, w.Name)
		}
		if svc == nil {
			return fmt.Errorf("service %s/%s is not in the snapshot", w.Namespace, w.Name)
		}
		return patchInPlace(svc, w)
	case "configmaps":
		if w.Verb == VerbCreate {
			s.StateConfigMap = bumped(w.Object.(*corev1.ConfigMap).DeepCopy(), "")
			return nil
		}
		if s.StateConfigMap == nil {
			return fmt.Errorf("configmap %s/%s does not exist", w.Namespace, w.Name)
		}
		return patchInPlace(s.StateConfigMap, w)
	case "endpointslices":
		s.MuxSlices = replaceOrDelete(s.MuxSlices, w, func(x *discoveryv1.EndpointSlice) string { return x.Name })
		return nil
	case "endpoints":
		switch w.Verb {
		case VerbDelete:
			s.MuxEndpoints = nil
		default:
			s.MuxEndpoints = bumped(w.Object.(*corev1.Endpoints).DeepCopy(), rv(s.MuxEndpoints))
		}
		return nil
	}
	return fmt.Errorf("resource %s", w.Resource)
}

func findService(list []*corev1.Service, namespace, name string) *corev1.Service {
	for _, svc := range list {
		if svc.Namespace == namespace && svc.Name == name {
			return svc
		}
	}
	return nil
}

// replaceOrDelete applies a create, update or delete of one named object to list.
func replaceOrDelete[T any, P interface {
	*T
	GetName() string
	GetResourceVersion() string
	SetResourceVersion(string)
}](list []P, w Write, name func(P) string) []P {
	out := make([]P, 0, len(list)+1)
	var old P
	for _, x := range list {
		if name(x) == w.Name {
			old = x
			continue
		}
		out = append(out, x)
	}
	if w.Verb == VerbDelete {
		return out
	}
	obj := w.Object.(P)
	cp := P(new(T))
	*cp = *obj // a shallow copy: the write's object is never modified below
	prev := ""
	if old != nil {
		prev = old.GetResourceVersion()
	}
	cp.SetResourceVersion(next(prev))
	return append(out, cp)
}

// patchInPlace applies w's patch to obj and moves its resourceVersion on.
func patchInPlace[T any, P interface {
	*T
	GetResourceVersion() string
	SetResourceVersion(string)
}](obj P, w Write) error {
	prev := obj.GetResourceVersion()
	var out T
	if err := PatchObject(obj, &out, w); err != nil {
		return err
	}
	*obj = out
	P(obj).SetResourceVersion(next(prev))
	return nil
}

type versioned interface {
	GetResourceVersion() string
	SetResourceVersion(string)
}

func bumped[P versioned](obj P, prev string) P {
	obj.SetResourceVersion(next(prev))
	return obj
}

func rv(obj *corev1.Endpoints) string {
	if obj == nil {
		return ""
	}
	return obj.ResourceVersion
}

// next is the resourceVersion after prev: a larger number, as etcd revisions are.
func next(prev string) string {
	n, _ := strconv.ParseUint(prev, 10, 64)
	return strconv.FormatUint(n+1, 10)
}

// PatchObject applies w's patch to in, as the API server would, into out.
func PatchObject(in, out any, w Write) error {
	if w.Verb != VerbPatch {
		return fmt.Errorf("verb %s on an existing object", w.Verb)
	}
	doc, err := json.Marshal(in)
	if err != nil {
		return err
	}
	switch w.PatchType {
	case types.MergePatchType:
		doc, err = jsonpatch.MergePatch(doc, w.Patch)
	case types.StrategicMergePatchType:
		doc, err = strategicpatch.StrategicMergePatch(doc, w.Patch, out)
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(w.Patch); err == nil {
			doc, err = p.Apply(doc)
		}
	default:
		err = fmt.Errorf("patch type %s", w.PatchType)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, out)
}
