// Package apply turns a Plan and the live objects it was computed from into the
// minimal list of API writes (pure: Diff), and performs them (Executor). The agent
// runs both; the kubectl plugin shows Diff as drift and dry-run output.
package apply

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Kind is the kind of object a write touches, as counted in metrics.
type Kind string

const (
	KindMux       Kind = "mux"
	KindChannel   Kind = "channel"
	KindState     Kind = "state"
	KindSlice     Kind = "endpointslice"
	KindEndpoints Kind = "endpoints"
)

// Verb is the API operation.
type Verb string

const (
	VerbCreate Verb = "create"
	VerbUpdate Verb = "update"
	VerbPatch  Verb = "patch"
	VerbDelete Verb = "delete"
)

// Stage orders writes: every write of a stage finishes before the next stage
// starts, but for the last two, where a channel's status waits only for the
// channel stage's writes to its own Service (Executor.Run); writes inside a stage
// may run concurrently.
type Stage int

const (
	// StageState persists claims before they are exposed anywhere.
	StageState Stage = iota
	// StageMux writes mux spec.ports and annotations.
	StageMux
	// StageReplace deletes a slice that must be created anew (its addressType is immutable).
	StageReplace
	// StageEndpoints creates and updates the mux's own endpoints.
	StageEndpoints
	// StageCleanup deletes stale slices and, after ours exist, the Python Endpoints.
	StageCleanup
	// StageChannels writes channel annotations that change without the status,
	// and finalizers.
	StageChannels
	// StageChannelStatus writes a channel's status, with its ports annotation
	// when both change (Carried), after its channel-stage writes, so a reader
	// that sees Accepted=True also sees the ports annotation it describes; it
	// waits for the earlier stages of every object, and for the channel stage of
	// its own Service only.
	StageChannelStatus
)

// stageNames are the stages as metric label and log values.
var stageNames = [...]string{"state", "mux", "replace", "endpoints", "cleanup", "channels", "channel-status"}

// String is the stage's name in metrics and logs ("mux", "channel-status").
func (s Stage) String() string {
	if s < 0 || int(s) >= len(stageNames) {
		return fmt.Sprintf("stage-%d", int(s))
	}
	return stageNames[s]
}

// Write is one API request.
type Write struct {
	Stage     Stage
	Kind      Kind
	Verb      Verb
	Namespace string
	Name      string
	// Fields names what changes, for drift and dry-run output ("spec.ports", ...).
	Fields []string
	// Patch payload (VerbPatch): a JSON merge patch, optionally on a subresource.
	Patch       []byte
	PatchType   types.PatchType
	Subresource string
	// Object for VerbCreate and VerbUpdate.
	Object runtime.Object
	// Resource is the plural resource name: services, configmaps, endpointslices, endpoints.
	Resource string
	// Fallback, on a mux write asking for remembered NodePorts, is sent instead
	// when the API server refuses them.
	Fallback *Fallback
	// Carries, on a channel's status write, is the ports annotation it sets too.
	Carries *Carried
}

// String is a one-line description: "patch services app/api status (status.conditions)".
func (w Write) String() string {
	s := fmt.Sprintf("%s %s %s/%s", w.Verb, w.Resource, w.Namespace, w.Name)
	if w.Subresource != "" {
		s += " " + w.Subresource
	}
	if len(w.Fields) > 0 {
		s += fmt.Sprintf(" %v", w.Fields)
	}
	return s
}

// EventStage is the stage whose writes a Normal Event of the plan reports (0 for a
// Warning, which describes the cluster rather than a write): a pass that fails
// part-way still posts what it did, and nothing it did not do.
func EventStage(reason string) Stage {
	switch reason {
	case api.ReasonMuxPortsChanged, api.ReasonMuxAnnotationsUpdated:
		return StageMux
	case api.ReasonMuxEndpointsCreated, api.ReasonMuxEndpointsChanged:
		return StageCleanup
	}
	return 0
}
