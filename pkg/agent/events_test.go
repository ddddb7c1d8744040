package agent

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

var (
	muxRef = plan.ObjectRef{Kind: "Service", Namespace: "edge", Name: "mux", UID: "mux-uid"}
	webRef = plan.ObjectRef{Kind: "Service", Namespace: "app", Name: "web", UID: "web-uid"}
)

func warning(obj plan.ObjectRef, reason, message string) plan.Event {
	return plan.Event{Object: obj, Type: api.EventWarning, Reason: reason, Message: message}
}

// drain returns what the fake recorder received, in order.
func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// pass is one call to post: the objects the pass covered and its events.
type pass struct {
	covered []plan.ObjectRef
	events  []plan.Event
}

func TestEventPosterPostsEachEventOnce(t *testing.T) {
	conflict := warning(webRef, api.ReasonMuxPortConflict, "20000/TCP is already claimed by app/api:1a2b3c4")
	conflictElsewhere := warning(webRef, api.ReasonMuxPortConflict, "20001/TCP is already claimed by app/api:1a2b3c4")
	ports := plan.Event{Object: muxRef, Type: api.EventNormal, Reason: api.ReasonMuxPortsChanged, Message: "Added 1 port(s): 20000/TCP"}
	both := []plan.ObjectRef{muxRef, webRef}
	tests := []struct {
		name   string
		passes []pass
		want   []string
	}{
		{"an identical event is not re-posted on later passes",
			[]pass{{both, []plan.Event{conflict}}, {both, []plan.Event{conflict}}, {both, []plan.Event{conflict}}},
			[]string{"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4"}},
		{"a changed message is posted",
			[]pass{{both, []plan.Event{conflict}}, {both, []plan.Event{conflictElsewhere}}},
			[]string{
				"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4",
				"Warning MuxPortConflict 20001/TCP is already claimed by app/api:1a2b3c4",
			}},
		{"the same mistake is reported again after a pass without it",
			[]pass{{both, []plan.Event{conflict}}, {both, nil}, {both, []plan.Event{conflict}}},
			[]string{
				"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4",
				"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4",
			}},
		{"a pass that does not cover an object keeps what was posted about it",
			[]pass{{both, []plan.Event{conflict}}, {[]plan.ObjectRef{muxRef}, nil}, {both, []plan.Event{conflict}}},
			[]string{"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4"}},
		{"one pass posts the same event only once",
			[]pass{{both, []plan.Event{conflict, conflict}}},
			[]string{"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4"}},
		{"events about different objects are independent",
			[]pass{{both, []plan.Event{ports, conflict}}, {both, []plan.Event{conflict}}},
			[]string{
				"Normal MuxPortsChanged Added 1 port(s): 20000/TCP",
				"Warning MuxPortConflict 20000/TCP is already claimed by app/api:1a2b3c4",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(10)
			p := newEventPoster(rec, slog.New(slog.DiscardHandler), newMetrics())
			for _, ps := range tt.passes {
				p.post(ps.covered, ps.events)
			}
			assert.Equal(t, tt.want, drain(rec))
		})
	}
}

func TestEventPosterForgetsDeletedObjects(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	p := newEventPoster(rec, slog.New(slog.DiscardHandler), newMetrics())
	e := warning(webRef, api.ReasonMuxNotFound, "channel app/web names mux svc-mux/gone")
	p.post([]plan.ObjectRef{webRef}, []plan.Event{e})
	p.forget(webRef.UID)
	assert.Empty(t, p.last)
	// A new object that happens to reuse the name has another UID anyway; the same
	// UID after forget (not possible on a cluster) would simply be reported again.
	p.post([]plan.ObjectRef{webRef}, []plan.Event{e})
	assert.Len(t, drain(rec), 2)
}

func TestEventPosterInDryRunPostsNothingAndLogsOnce(t *testing.T) {
	var logs bytes.Buffer
	p := newEventPoster(nil, slog.New(slog.NewTextHandler(&logs, nil)), newMetrics())
	e := warning(webRef, api.ReasonInvalidPortMapping, "channel app/web: unknown port name")
	assert.Equal(t, 1, p.post([]plan.ObjectRef{webRef}, []plan.Event{e}))
	assert.Equal(t, 0, p.post([]plan.ObjectRef{webRef}, []plan.Event{e}))
	assert.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("dry-run: would post event")))
}

func TestObjectReferenceNamesTheObject(t *testing.T) {
	e := warning(webRef, api.ReasonInvalidPort, "spec.ports[0].name is required")
	e.FieldPath = "spec.ports[0]"
	ref := objectReference(e)
	assert.Equal(t, "v1", ref.APIVersion)
	assert.Equal(t, "Service", ref.Kind)
	assert.Equal(t, "app", ref.Namespace)
	assert.Equal(t, "web", ref.Name)
	assert.Equal(t, webRef.UID, ref.UID)
	assert.Equal(t, "spec.ports[0]", ref.FieldPath)
}

func TestEventPosterSeed(t *testing.T) {
	t.Run("an event an earlier process posted is not posted again", func(t *testing.T) {
		rec := record.NewFakeRecorder(10)
		p := newEventPoster(rec, slog.New(slog.DiscardHandler), nil)
		ref := plan.ObjectRef{Kind: "Service", Namespace: "app", Name: "a", UID: "uid-a"}
		n := p.seed([]corev1.Event{
			{InvolvedObject: corev1.ObjectReference{UID: "uid-a"}, Source: corev1.EventSource{Component: EventComponent},
				Type: "Warning", Reason: "MuxPortConflict", Message: "taken"},
			{InvolvedObject: corev1.ObjectReference{UID: "uid-a"}, Source: corev1.EventSource{Component: "someone-else"},
				Type: "Warning", Reason: "Other", Message: "x"},
		})
		require.Equal(t, 1, n)
		fresh := p.post([]plan.ObjectRef{ref}, []plan.Event{{Object: ref, Type: "Warning", Reason: "MuxPortConflict", Message: "taken"}})
		assert.Equal(t, 0, fresh)
		fresh = p.post([]plan.ObjectRef{ref}, []plan.Event{{Object: ref, Type: "Warning", Reason: "MuxPortConflict", Message: "changed"}})
		assert.Equal(t, 1, fresh)
	})
}
