// Package repair rebuilds a mux's state document from live evidence, the way the
// agent's precedence (SPEC §3) would after state loss, and proves the rebuilt
// document moves no live port before anyone writes it. It is pure: it reads a
// plan.Snapshot and returns a Plan; `kubectl svcmux repair --apply` writes it.
//
// It owns no precedence rules of its own. The claims of the old document that
// agree with the live mux are handed to plan.Compute as if they were the persisted
// state; the planner recovers every other owner from the live mux ports and the
// channels' ports annotations (SPEC §3 step 2) and its State.Document is the
// rebuilt document. A second Compute with that document is the proof.
package repair

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// Actions on the state ConfigMap.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionNone   = "none"
)

// Problems found in the state ConfigMap, in the order they are listed.
const (
	ProblemMissing     = "missing"      // no ConfigMap: the rebuilt one is created
	ProblemInvalid     = "invalid"      // allocations.json does not decode
	ProblemForeign     = "foreign"      // annotated for, or naming, another mux
	ProblemShared      = "shared"       // another mux's allocation-configmap names it too
	ProblemUnlabelled  = "unlabelled"   // the agent's informer cannot see it
	ProblemOlderFormat = "older-format" // only "allocations": migrated to portClaims
	ProblemStale       = "stale"        // claims of channels or ports that are gone
	ProblemConflicting = "conflicting"  // claims that disagree with the live mux or each other
)

// Refusal reasons.
const (
	ReasonSharedStateConfigMap = "SharedStateConfigMap"
	ReasonMuxFrozen            = "MuxFrozen"
	ReasonLivePortWouldMove    = "LivePortWouldMove"
	ReasonLivePortWouldBeLost  = "LivePortWouldBeLost"
)

// Input is what Compute reads for one mux.
type Input struct {
	// Snapshot is the mux as the plugin read it; StateConfigMap is the ConfigMap at
	// the mux's state name even when it lost the label the agent selects on.
	Snapshot plan.Snapshot
	Options  plan.Options
	// SharedWith are the other muxes whose state ConfigMap has the same name.
	SharedWith []api.MuxRef
}

// Plan is what repair would do for one mux.
type Plan struct {
	Mux   api.MuxRef `json:"-"`
	State State      `json:"state"`
	// Kept are the claims of the rebuilt document and the evidence behind each.
	Kept []Kept `json:"kept"`
	// Dropped are claims of the old document that the rebuilt one leaves out.
	Dropped []Dropped `json:"dropped"`
	// Refused says why nothing may be written; empty when the write is safe.
	Refused []Refusal `json:"refused"`

	// Old and New are the allocations.json values (Old "" when there is none).
	Old string `json:"-"`
	New string `json:"-"`
	// NodePorts is the nodeports.json the agent would write next (the live mux's
	// NodePorts), "" when the ConfigMap's key already says so: written with the
	// repair, the agent resumes without a write of its own.
	NodePorts string `json:"-"`
	// Labels and Annotations the repaired ConfigMap carries (SPEC §4).
	Labels      map[string]string `json:"-"`
	Annotations map[string]string `json:"-"`
}

// State is the state ConfigMap and what happens to it.
type State struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Action    string   `json:"action"`
	Problems  []string `json:"problems"`
	// Detail is the agent's own words for an unreadable state.
	Detail string `json:"detail,omitempty"`
	// Diff is a unified diff of allocations.json, old to new ("" when unchanged).
	Diff string `json:"diff"`
}

// Evidence a kept claim rests on.
const (
	EvidenceClaim      = "claim"      // the old document, confirmed by the live mux or unopposed
	EvidenceMuxPort    = "mux-port"   // the live mux spec.ports entry named by its hash
	EvidenceAnnotation = "annotation" // the channel's <prefix>/ports annotation
	EvidenceSpec       = "spec"       // the channel's own port or external-ports (static)
	EvidenceAllocated  = "allocated"  // a new automatic port from the range
)

// Kept is one claim of the rebuilt document.
type Kept struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	PortName  string `json:"portName"`
	MuxPort   int32  `json:"muxPort"`
	Protocol  string `json:"protocol"`
	Source    string `json:"source"`
	// Evidence is empty on a dropped claim.
	Evidence string `json:"evidence,omitempty"`
}

// String is "ns/svc:port -> muxPort/PROTO".
func (k Kept) String() string {
	return fmt.Sprintf("%s/%s:%s -> %d/%s", k.Namespace, k.Service, k.PortName, k.MuxPort, k.Protocol)
}

// Dropped is a claim of the old document left out, and why.
type Dropped struct {
	Kept
	Reason string `json:"reason"` // ProblemStale or ProblemConflicting
	Detail string `json:"detail"`
}

// Refusal is one reason not to write.
type Refusal struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Compute rebuilds the state of in.Snapshot.Mux and checks it is safe to write.
func Compute(in Input) Plan {
	s := in.Snapshot
	keys := in.Options.Keys
	ref := api.MuxRef{Namespace: s.Mux.Namespace, Name: s.Mux.Name}
	r := Plan{Mux: ref, Kept: []Kept{}, Dropped: []Dropped{}, Refused: []Refusal{},
		State: State{Namespace: ref.Namespace, Name: plan.StateConfigMapName(s.Mux, keys), Problems: []string{}}}
	old := readOld(s.StateConfigMap, ref, keys)
	r.Old, r.State.Detail = old.raw, old.detail
	r.State.Problems = append(r.State.Problems, old.problems...)
	if len(in.SharedWith) > 0 && !old.ours {
		r.State.Problems = append(r.State.Problems, ProblemShared)
		r.Refused = append(r.Refused, sharedRefusal(r.State, ref, in.SharedWith, keys))
	}

	ev := newEvidence(s, keys)
	trusted, dropped := ev.filter(old.doc.Claims)
	if dropped != nil {
		r.Dropped = dropped
	}
	r.State.Problems = appendDropProblems(r.State.Problems, dropped)

	rebuilt := plan.Compute(withState(s, ref, keys, trusted), in.Options)
	r.Labels, r.Annotations = rebuilt.State.Labels, rebuilt.State.Annotations
	if rebuilt.Frozen {
		r.Refused = append(r.Refused, Refusal{Reason: ReasonMuxFrozen, Message: fmt.Sprintf(
			"mux %s is not reconciled (%s): the agent changes nothing on it, so there is no state to rebuild; fix the mux first (kubectl svcmux topology %s)",
			ref, rebuilt.FrozenReason, ref)})
		r.State.Action = ActionNone
		return r
	}
	doc := rebuilt.State.Document
	r.New = doc.Encode()
	if s.StateConfigMap == nil || s.StateConfigMap.Data[api.NodePortsKey] != rebuilt.State.NodePortsEncoded {
		r.NodePorts = rebuilt.State.NodePortsEncoded
	}
	r.Kept = ev.kept(doc.Claims, trusted)

	proof := plan.Compute(withState(s, ref, keys, doc.Claims), in.Options)
	current := plan.Compute(s, in.Options)
	r.Refused = append(r.Refused, ev.prove(proof, current)...)

	r.State.Action = action(s.StateConfigMap, old, doc)
	if r.shared() {
		// The ConfigMap is another mux's: there is nothing to write into it for this one.
		r.State.Action, r.New = ActionNone, ""
	}
	if r.State.Action != ActionNone {
		r.State.Diff = unifiedDiff(r.State, r.Old, r.New)
	}
	return r
}

func (r Plan) shared() bool {
	for _, x := range r.Refused {
		if x.Reason == ReasonSharedStateConfigMap {
			return true
		}
	}
	return false
}

// action is create for a missing ConfigMap, none when the agent would read the
// same content from it, update otherwise.
func action(cm *corev1.ConfigMap, old oldState, doc state.Document) string {
	switch {
	case cm == nil:
		return ActionCreate
	case old.readable && old.visible && !old.doc.Migrated && old.doc.Equal(doc):
		return ActionNone
	}
	return ActionUpdate
}

func sharedRefusal(st State, ref api.MuxRef, others []api.MuxRef, keys api.Keys) Refusal {
	names := make([]string, len(others))
	for i, o := range others {
		names[i] = o.String()
	}
	sort.Strings(names)
	return Refusal{Reason: ReasonSharedStateConfigMap, Message: fmt.Sprintf(
		"state ConfigMap %s/%s is also the state of mux %v and does not belong to %s; give %s its own: kubectl annotate service -n %s %s %s=%s-port-allocations --overwrite, then run repair again",
		st.Namespace, st.Name, names, ref, ref, ref.Namespace, ref.Name, keys.AllocationConfigMap, ref.Name)}
}

func appendDropProblems(problems []string, dropped []Dropped) []string {
	var stale, conflicting bool
	for _, d := range dropped {
		stale = stale || d.Reason == ProblemStale
		conflicting = conflicting || d.Reason == ProblemConflicting
	}
	if stale {
		problems = append(problems, ProblemStale)
	}
	if conflicting {
		problems = append(problems, ProblemConflicting)
	}
	return problems
}

// withState is s with a readable state ConfigMap holding claims, so the planner
// treats them as persisted and recovers the rest.
func withState(s plan.Snapshot, ref api.MuxRef, keys api.Keys, claims []state.Claim) plan.Snapshot {
	cm := &corev1.ConfigMap{}
	if s.StateConfigMap != nil {
		cm = s.StateConfigMap.DeepCopy()
	}
	cm.Namespace, cm.Name = ref.Namespace, plan.StateConfigMapName(s.Mux, keys)
	cm.Annotations = map[string]string{keys.Mux: ref.String()}
	cm.Data = map[string]string{api.StateKey: state.Document{Mux: ref, Claims: claims}.Encode()}
	s.StateConfigMap = cm
	return s
}

// keyOf is a ServicePort's (port, protocol), TCP when unset.
func keyOf(sp corev1.ServicePort) ports.Key { return ports.NewKey(sp.Port, sp.Protocol) }
