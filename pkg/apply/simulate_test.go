package apply

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/equality"
)

// Simulate makes the first pass's writes as the API server would: the input
// stays as it was, every written object's resourceVersion moves on, and the next
// pass over the result writes nothing.
func TestSimulateMakesTheWritesAsTheAPIServerWould(t *testing.T) {
	s := apiSnapshot()
	before := copySnapshot(s)
	p := compute(t, s)
	next, err := Simulate(s, diff(t, p, s))
	require.NoError(t, err)
	assert.True(t, equality.Semantic.DeepEqual(before, copySnapshot(s)), "Simulate changed its input")

	assert.Equal(t, p.Ports, next.Mux.Spec.Ports)
	assert.NotEqual(t, s.Mux.ResourceVersion, next.Mux.ResourceVersion)
	require.NotNil(t, next.StateConfigMap)
	assert.Equal(t, "1", next.StateConfigMap.ResourceVersion, "a created object starts at 1")
	assert.Equal(t, p.State.Encoded, next.StateConfigMap.Data["allocations.json"])
	assert.Len(t, next.MuxSlices, len(p.Slices))
	assert.Equal(t, "http:8080->8080", next.Channels[0].Annotations[testKeys.Ports])
	assert.Empty(t, shapes(diff(t, compute(t, next), next)), "converged: the next pass writes nothing")
}

func TestSimulateRefusesAWriteToAnObjectTheSnapshotLacks(t *testing.T) {
	s := apiSnapshot()
	ws := diff(t, compute(t, s), s)
	s.Channels = nil // the channel's status write has nowhere to go
	_, err := Simulate(s, ws)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service app/api is not in the snapshot")
}
