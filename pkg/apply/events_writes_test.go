package apply

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// changeReport pairs each Normal Event that reports an agent write with the
// writes that make it true: if the planner and apply judged "changed" apart, an
// Event would be posted with no write, or a write made with no Event.
var changeReport = []struct {
	reason string
	wrote  func(Write) bool
}{
	{api.ReasonMuxPortsChanged, func(w Write) bool { return w.Kind == KindMux && hasField(w, "spec.ports") }},
	{api.ReasonMuxAnnotationsUpdated, func(w Write) bool {
		return w.Kind == KindMux && hasFieldPrefix(w, "metadata.annotations[")
	}},
	{api.ReasonMuxEndpointsCreated + "|" + api.ReasonMuxEndpointsChanged, func(w Write) bool {
		return (w.Kind == KindSlice || w.Kind == KindEndpoints) && w.Verb != VerbDelete
	}},
}

func hasField(w Write, f string) bool {
	for _, x := range w.Fields {
		if x == f {
			return true
		}
	}
	return false
}

func hasFieldPrefix(w Write, prefix string) bool {
	for _, x := range w.Fields {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}

// drifts are what other writers do to a converged cluster: each must be restored
// by a write that its Event reports.
var drifts = []struct {
	name  string
	drift func(*plan.Snapshot)
}{
	{"as the agent left it", func(*plan.Snapshot) {}},
	{"after a GitOps re-apply of the placeholder ports", func(s *plan.Snapshot) {
		s.Mux.Spec.Ports = []corev1.ServicePort{{Name: api.PlaceholderPortName, Port: api.PlaceholderPort, Protocol: corev1.ProtocolTCP}}
	}},
	{"after someone edited the summary annotation", func(s *plan.Snapshot) { s.Mux.Annotations[testKeys.Summary] = "edited" }},
	{"after someone removed the topology annotation", func(s *plan.Snapshot) { delete(s.Mux.Annotations, testKeys.Topology) }},
	{"after the mux EndpointSlices were deleted", func(s *plan.Snapshot) { s.MuxSlices = nil }},
	{"after the mux EndpointSlices lost their endpoints", func(s *plan.Snapshot) {
		for _, x := range s.MuxSlices {
			x.Endpoints = nil
		}
	}},
}

// Every scenario's first pass, and every drift of its converged state: the
// planner posts a change Event exactly when apply makes the write it reports.
func TestAChangeEventIsPostedExactlyWhenItsWriteIsMade(t *testing.T) {
	for _, sc := range scenarios() {
		check := func(t *testing.T, s plan.Snapshot) {
			p := compute(t, s, sc.opts)
			ws := diff(t, p, s)
			for _, c := range changeReport {
				posted := false
				for _, e := range p.Events {
					posted = posted || (e.Object == p.Mux && e.Type == api.EventNormal && strings.Contains("|"+c.reason+"|", "|"+e.Reason+"|"))
				}
				wrote := false
				for _, w := range ws {
					wrote = wrote || c.wrote(w)
				}
				assert.Equal(t, wrote, posted, "%s: Event posted %v, write made %v; writes %v", c.reason, posted, wrote, ws)
			}
		}
		t.Run(sc.name+", first pass", func(t *testing.T) { check(t, sc.snap()) })
		for _, d := range drifts {
			t.Run(sc.name+", "+d.name, func(t *testing.T) {
				s := converged(t, sc.snap(), sc.opts)
				s = copySnapshot(s)
				d.drift(&s)
				check(t, s)
			})
		}
	}
}
