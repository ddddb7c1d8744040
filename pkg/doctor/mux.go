package doctor

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/drift"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/state"
)

func muxRef(m *Mux) string { return m.Snapshot.Mux.Namespace + "/" + m.Snapshot.Mux.Name }

// muxEvent is the planner's Warning of reason on the mux itself, if it posted one.
func muxEvent(p plan.Plan, reason string) (plan.Event, bool) {
	for _, e := range p.Events {
		if e.Object == p.Mux && e.Type == api.EventWarning && e.Reason == reason {
			return e, true
		}
	}
	return plan.Event{}, false
}

// muxCodes maps the planner's mux refusals to catalog codes, with the annotation
// key the fix rewrites.
var muxCodes = []struct {
	reason, code string
	key          func(api.Keys) string
}{
	{api.ReasonNotSupported, "SVCMUX201", nil},
	{api.ReasonNotLoadBalancer, "SVCMUX202", nil},
	{api.ReasonInvalidPortRange, "SVCMUX203", func(k api.Keys) string { return k.PortRange }},
	{api.ReasonInvalidMaxPorts, "SVCMUX204", func(k api.Keys) string { return k.MaxPorts }},
	{api.ReasonInvalidAllowedNamespaces, "SVCMUX206", func(k api.Keys) string { return k.AllowedNamespaces }},
}

// checkMuxes reports every mux the planner refused, in the planner's own words.
func checkMuxes(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		mux := m.Snapshot.Mux
		for _, c := range muxCodes {
			e, ok := muxEvent(m.Plan, c.reason)
			if !ok {
				continue
			}
			args := svcArgs(mux.Namespace, mux.Name, "detail", e.Message)
			if c.key != nil {
				args["key"] = c.key(in.Keys)
			}
			r.add(c.code, serviceObject(mux.Namespace, mux.Name), args)
		}
	}
}

// checkDrift counts the agent-owned fields whose live value differs from the plan:
// the mux's spec.ports and annotations, and its channels' ports annotations. The
// `drift` command shows each one with its writer; doctor only says how many.
func checkDrift(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		if m.Plan.Frozen {
			continue // nothing is applied to a frozen mux: its live fields are not drift
		}
		fields := driftFields(m)
		if len(fields) == 0 {
			continue
		}
		mux := m.Snapshot.Mux
		r.add("SVCMUX205", serviceObject(mux.Namespace, mux.Name), svcArgs(mux.Namespace, mux.Name,
			"mux", muxRef(m), "count", strconv.Itoa(len(fields)), "fields", strings.Join(fields, ", ")))
	}
}

// driftFields are the mux Service and channel fields pkg/drift finds differing
// (the drift command's own comparison), spec.ports and annotations only: the
// endpoints, statuses and state are the drift command's to show.
func driftFields(m *Mux) []string {
	var fields []string
	mux := m.Snapshot.Mux
	for _, d := range drift.Mux(m.Plan, m.Snapshot) {
		if d.Object.Kind != "Service" {
			continue
		}
		var f string
		switch {
		case d.Field == "spec.ports":
			f = "spec.ports"
			if isPlaceholder(mux.Spec.Ports) {
				f += " (live: the placeholder)"
			}
		case strings.HasPrefix(d.Field, "metadata.annotations["):
			f = "annotation " + strings.TrimSuffix(strings.TrimPrefix(d.Field, "metadata.annotations["), "]")
		default:
			continue
		}
		if d.Object.Namespace != mux.Namespace || d.Object.Name != mux.Name {
			f = "channel " + d.Object.Namespace + "/" + d.Object.Name + " " + f
		}
		fields = append(fields, f)
	}
	return fields
}

func isPlaceholder(ps []corev1.ServicePort) bool {
	return len(ps) == 1 && ps[0].Name == api.PlaceholderPortName && ps[0].Port == api.PlaceholderPort
}

// checkState decodes each valid mux's state ConfigMap with pkg/state, as the agent
// does, to tell invalid from foreign from older-format.
func checkState(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		if m.Plan.Frozen {
			continue // SVCMUX2xx first: a frozen mux reads no state
		}
		mux := m.Snapshot.Mux
		ref := muxRef(m)
		cm := m.Snapshot.StateConfigMap
		if cm == nil {
			r.add("SVCMUX403", serviceObject(mux.Namespace, mux.Name), svcArgs(mux.Namespace, mux.Name,
				"mux", ref, "configmap", mux.Namespace+"/"+m.Plan.State.Name))
			continue
		}
		object := "ConfigMap " + cm.Namespace + "/" + cm.Name
		args := svcArgs(cm.Namespace, cm.Name, "mux", ref, "configmap", cm.Namespace+"/"+cm.Name)
		doc, err := state.Decode(cm.Data[api.StateKey])
		if err != nil {
			args["detail"] = "state ConfigMap " + cm.Namespace + "/" + cm.Name + " of mux " + ref + ": " + err.Error()
			r.add("SVCMUX401", object, args)
			continue
		}
		owner := api.MuxRef{Namespace: mux.Namespace, Name: mux.Name}
		if err := state.ValidateOwner(cm.Namespace, cm.Name, cm.Annotations[in.Keys.Mux], doc, owner); err != nil {
			args["detail"] = err.Error()
			r.add("SVCMUX402", object, args)
			continue
		}
		if doc.Migrated {
			r.add("SVCMUX404", object, args)
		}
	}
}
