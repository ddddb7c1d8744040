package agent

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func TestAWriteEventIsPostedOnceAndDoesNotRepostTheMuxsStandingWarnings(t *testing.T) {
	standing := warning(muxRef, api.ReasonInvalidPortRange, "mux edge/mux: annotation port-range: bad")
	fellBack := warning(muxRef, api.ReasonNodePortReassigned, "mux edge/mux: the API server refused the remembered NodePorts (abc=31000)")
	rec := record.NewFakeRecorder(10)
	p := newEventPoster(rec, slog.New(slog.DiscardHandler), newMetrics())
	covered := []plan.ObjectRef{muxRef}

	p.post(covered, []plan.Event{standing})
	p.postWriteEvents([]plan.Event{fellBack})
	p.postWriteEvents([]plan.Event{fellBack}) // the same pass's echo
	p.post(covered, []plan.Event{standing})   // the next pass stands behind the warning only

	assert.Equal(t, []string{
		"Warning InvalidPortRange mux edge/mux: annotation port-range: bad",
		"Warning NodePortReassigned mux edge/mux: the API server refused the remembered NodePorts (abc=31000)",
	}, drain(rec))
}
