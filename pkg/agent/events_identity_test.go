package agent

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func TestAnObjectWithoutUIDIsKnownByKindAndName(t *testing.T) {
	assert.Equal(t, "Service:app/web", identity(plan.ObjectRef{Kind: "Service", Namespace: "app", Name: "web"}))
	assert.Equal(t, "web-uid", identity(webRef))
}

func TestAnEventOnAnObjectThePassDidNotCoverIsPostedOnce(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	p := newEventPoster(rec, slog.New(slog.DiscardHandler), nil)
	stray := warning(webRef, api.ReasonMuxPortConflict, "taken")
	assert.Equal(t, 1, p.post([]plan.ObjectRef{muxRef}, []plan.Event{stray}))
	assert.Equal(t, 0, p.post([]plan.ObjectRef{muxRef}, []plan.Event{stray}))
	assert.Equal(t, []string{"Warning MuxPortConflict taken"}, drain(rec))
}

func TestForgettingAnObjectWithoutUIDKeepsEverything(t *testing.T) {
	p := newEventPoster(record.NewFakeRecorder(10), slog.New(slog.DiscardHandler), nil)
	p.post([]plan.ObjectRef{webRef}, []plan.Event{warning(webRef, api.ReasonMuxPortConflict, "taken")})
	p.forget("")
	assert.Len(t, p.last, 1)
}

func TestAWriteEventOnAnObjectNoPassCoveredIsRemembered(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	p := newEventPoster(rec, slog.New(slog.DiscardHandler), nil)
	e := plan.Event{Object: muxRef, Type: api.EventWarning, Reason: api.ReasonNodePortReassigned, Message: "31000 is held by app/np"}
	p.postWriteEvents([]plan.Event{e})
	p.postWriteEvents([]plan.Event{e})
	assert.Equal(t, []string{"Warning " + api.ReasonNodePortReassigned + " 31000 is held by app/np"}, drain(rec))
}

func TestAnEventOnAnEndpointSliceNamesTheDiscoveryAPI(t *testing.T) {
	ref := objectReference(plan.Event{Object: plan.ObjectRef{Kind: "EndpointSlice", Namespace: "edge", Name: "mux-svcmux", UID: "s-1"}})
	assert.Equal(t, &corev1.ObjectReference{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice", Namespace: "edge",
		Name: "mux-svcmux", UID: "s-1"}, ref)
}
