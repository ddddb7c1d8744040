package agent

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// A deleted mux leaves no per-mux gauge behind, whichever states it reported.
func TestForgettingAMuxDropsEveryOneOfItsSeries(t *testing.T) {
	m := newMetrics()
	gone, kept := api.MuxRef{Namespace: "svc-mux", Name: "gone"}, api.MuxRef{Namespace: "svc-mux", Name: "kept"}
	m.observeMux(gone, plan.Stats{Channels: 3, Accepted: 1, Kept: 1, Rejected: 1, Ports: 2})
	m.observeMux(kept, plan.Stats{Channels: 1, Accepted: 1, Ports: 1})
	m.forgetMux(gone)
	assert.Equal(t, 4, series(m.channels), "only the other mux's attached/accepted/kept/rejected")
	assert.Equal(t, 1, series(m.ports))
}

// series counts the metrics a collector exports now.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// Each timed stage of a Run is one observation under its stage's name.
func TestEveryTimedStageIsObservedUnderItsName(t *testing.T) {
	m := newMetrics()
	m.observeWrites(apply.Result{Stages: []apply.StageTime{
		{Stage: apply.StageMux, Writes: 1, Took: 150 * time.Millisecond},
		{Stage: apply.StageChannels, Writes: 40, Took: 20 * time.Millisecond},
		{Stage: apply.StageChannels, Writes: 2, Took: 5 * time.Millisecond},
	}})
	count := func(stage string) uint64 {
		h := &dto.Metric{}
		if err := m.stages.WithLabelValues(stage).(prometheus.Metric).Write(h); err != nil {
			t.Fatal(err)
		}
		return h.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(1), count("mux"))
	assert.Equal(t, uint64(2), count("channels"))
	assert.Equal(t, 2, series(m.stages))
}

func TestAPassLogsItsStagesOnOneLine(t *testing.T) {
	assert.Equal(t, "state:1/3ms mux:1/150ms", stageTimes([]apply.StageTime{
		{Stage: apply.StageState, Writes: 1, Took: 3100 * time.Microsecond},
		{Stage: apply.StageMux, Writes: 1, Took: 150 * time.Millisecond},
	}))
	assert.Empty(t, stageTimes(nil))
}
