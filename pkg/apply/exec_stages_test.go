package apply

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each stage that wrote is timed from its first write to its last answer: every
// write is held 2 ms by the server, so no stage takes less, and none more than
// the whole Run.
func TestEveryStageThatWroteIsTimed(t *testing.T) {
	ws, objs := stagedWrites()
	want := map[Stage]int{}
	for _, w := range ws {
		want[w.Stage]++
	}
	rec := &recorder{delay: 2 * time.Millisecond}
	e := &Executor{Client: newClient(rec, objs...), Workers: 8}
	began := time.Now()
	res, err := e.Run(context.Background(), ws)
	took := time.Since(began)
	require.NoError(t, err)

	got := map[Stage]int{}
	for _, st := range res.Stages {
		got[st.Stage] += st.Writes
		assert.GreaterOrEqual(t, st.Took, rec.delay, "stage %s", st.Stage)
		assert.LessOrEqual(t, st.Took, took, "stage %s", st.Stage)
	}
	assert.Equal(t, want, got, "every write is in the stage it was planned in")
}

func TestAStageIsNamedForMetricsAndLogs(t *testing.T) {
	for stage, want := range map[Stage]string{
		StageState: "state", StageMux: "mux", StageReplace: "replace", StageEndpoints: "endpoints",
		StageCleanup: "cleanup", StageChannels: "channels", StageChannelStatus: "channel-status",
		Stage(-1): "stage--1", Stage(7): "stage-7",
	} {
		assert.Equal(t, want, stage.String())
	}
}
