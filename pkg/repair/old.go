package repair

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// oldState is what the live state ConfigMap says, read as the agent reads it.
type oldState struct {
	raw      string
	doc      state.Document // empty unless readable
	readable bool           // decodes and belongs to this mux
	// ours: the ConfigMap names this mux, by annotation or (without one) by its
	// document; a ConfigMap that names nobody is nobody's when two muxes share it.
	ours bool
	// visible: the agent's informer selects it (the component label).
	visible  bool
	problems []string
	detail   string
}

func readOld(cm *corev1.ConfigMap, ref api.MuxRef, keys api.Keys) oldState {
	if cm == nil {
		return oldState{readable: true, problems: []string{ProblemMissing}}
	}
	o := oldState{raw: cm.Data[api.StateKey], visible: cm.Labels[api.LabelComponent] == api.ComponentMuxState}
	if !o.visible {
		o.problems = append(o.problems, ProblemUnlabelled)
	}
	doc, err := state.Decode(o.raw)
	if err != nil {
		o.problems = append(o.problems, ProblemInvalid)
		o.detail = fmt.Sprintf("mux state ConfigMap %s/%s: %v", cm.Namespace, cm.Name, err)
		return o
	}
	annotation := cm.Annotations[keys.Mux]
	if err := state.ValidateOwner(cm.Namespace, cm.Name, annotation, doc, ref); err != nil {
		o.problems = append(o.problems, ProblemForeign)
		o.detail = err.Error()
		return o
	}
	o.doc, o.readable = doc, true
	o.ours = annotation == ref.String() || (annotation == "" && doc.Mux == ref)
	if doc.Migrated {
		o.problems = append(o.problems, ProblemOlderFormat)
	}
	return o
}
