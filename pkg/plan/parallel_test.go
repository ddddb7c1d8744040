package plan

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	stdslices "slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// serially runs f with every stage and loop run one after another, as a small mux's.
func serially(f func() Plan) Plan {
	saved := parallelFrom
	parallelFrom = math.MaxInt
	defer func() { parallelFrom = saved }()
	return f()
}

// changedWorld is a steady mux of n channels where a live slice was lost, one was
// edited by hand, one is left over from a channel that went, and a new channel
// arrived: every verdict the slice comparison can give, in both halves.
func changedWorld(n int) Snapshot {
	s := deepCopySnapshot(benchWorld(n, true))
	live := s.MuxSlices
	edited := live[n/4].DeepCopy()
	edited.Endpoints = edited.Endpoints[:1]
	stale := live[3*n/4].DeepCopy()
	stale.Name += "-left"
	s.MuxSlices = append(append([]*discoveryv1.EndpointSlice{edited, stale}, live[1:n/4]...), live[n/4+1:]...)
	s.Channels = append(s.Channels, auto(channel("ns0/svc-new", "http:700", "grpc:9090"), "grpc:auto"))
	s.ChannelSlices = append(s.ChannelSlices, slice("ns0/svc-new", "svc-new-x", "http", 8080, "10.200.0.1"))
	return s
}

func TestALargeMuxIsPlannedTheSameSideBySideAsOneStepAfterAnother(t *testing.T) {
	n := 2 * parallelFrom // both halves past the threshold
	for name, s := range map[string]Snapshot{
		"a cold pass":                     benchWorld(n, false),
		"a steady pass":                   benchWorld(n, true),
		"a pass with every slice verdict": changedWorld(n),
	} {
		t.Run(name, func(t *testing.T) {
			split := Compute(s, benchOptions())
			one := serially(func() Plan { return Compute(s, benchOptions()) })
			require.Len(t, split.Slices, len(one.Slices))
			assert.Equal(t, one, split)
		})
	}
}

func TestThePassWithEverySliceVerdictHasThem(t *testing.T) {
	p := Compute(changedWorld(2*parallelFrom), benchOptions())
	seen := map[SliceChange]int{}
	for _, c := range p.SliceChanges {
		seen[c]++
	}
	assert.Equal(t, map[SliceChange]int{SliceKept: 2*parallelFrom - 2, SliceCreated: 2, SliceUpdated: 1}, seen)
	assert.Len(t, p.StaleSlices, 1)
}

func TestSortInHalvesSortsAsSortBy(t *testing.T) {
	for _, n := range []int{0, 1, parallelFrom - 1, parallelFrom, parallelFrom + 1, 5001} {
		t.Run(fmt.Sprintf("%d values", n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 7))
			s := make([]int, n)
			for i := range s {
				s[i] = r.IntN(n/3 + 1) // repeats, so equal values meet at the merge
			}
			want := stdslices.Clone(s)
			sortBy(want, cmp.Compare[int])
			sortInHalves(s, cmp.Compare[int])
			require.Equal(t, want, s)
		})
	}
}
