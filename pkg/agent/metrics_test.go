package agent

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"

	"github.com/nowakeai/svcmux/pkg/api"
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
