package agent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svcmux_mux_passes_total is the per-mux signal the real-cluster tests wait on
// before asserting that nothing was written: it must count one mux's passes
// only, whatever the result, and never a channel's pass.
func TestEveryPassOfAMuxIsCountedUnderThatMuxOnly(t *testing.T) {
	c, _ := newTestController(t, &stubExecutor{},
		muxService(testDefaultNS, "edge", nil), muxService(testDefaultNS, "other", nil),
		channelService("app", "web", "svc-mux.nowake.ai/edge"))
	for _, key := range []string{testDefaultNS + "/edge", testDefaultNS + "/edge", testDefaultNS + "/gone", "channel:app/web"} {
		require.NoError(t, c.sync(t.Context(), key))
	}
	assert.Equal(t, 2.0, counterValue(t, c.metrics.muxPasses.WithLabelValues(testDefaultNS, "edge")))
	assert.Equal(t, 1.0, counterValue(t, c.metrics.muxPasses.WithLabelValues(testDefaultNS, "gone")), "a pass that finds no mux is a pass too")
	assert.Equal(t, 0.0, counterValue(t, c.metrics.muxPasses.WithLabelValues(testDefaultNS, "other")))
	assert.Equal(t, 0.0, counterValue(t, c.metrics.muxPasses.WithLabelValues("app", "web")), "a channel pass is not a mux pass")
}
