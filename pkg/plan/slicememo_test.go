package plan

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sliceWith is the index of the plan's slice whose first endpoint has address ip.
func sliceWith(t *testing.T, p Plan, ip string) int {
	t.Helper()
	for i, s := range p.Slices {
		if len(s.Endpoints) > 0 && s.Endpoints[0].Addresses[0] == ip {
			return i
		}
	}
	require.Failf(t, "no slice", "no mux slice starts with %s", ip)
	return -1
}

// liveNamed is the index of the snapshot's live mux slice called name.
func liveNamed(s Snapshot, name string) int {
	for i, l := range s.MuxSlices {
		if l.Name == name {
			return i
		}
	}
	return -1
}

func TestASteadyPassReusesTheSlicesOfUnchangedChannelSlicesAndComparesOnlyWhatChanged(t *testing.T) {
	const n = 20
	const channel3 = "10.0.3.1" // benchWorld's first backend of channel 3
	for _, tc := range []struct {
		name    string
		before  func(s *Snapshot) // before the first pass
		change  func(s *Snapshot, first Plan)
		rebuilt string      // "none", "channel 3" or "all"
		verdict SliceChange // of channel 3's slice
		address string      // channel 3's slice's first endpoint after the change
	}{
		{name: "nothing changed", change: func(*Snapshot, Plan) {}, rebuilt: "none", verdict: SliceKept, address: channel3},
		{name: "a channel slice changed (a new resourceVersion)", change: func(s *Snapshot, _ Plan) {
			cs := s.ChannelSlices[3].DeepCopy()
			cs.Endpoints[0].Addresses = []string{"10.0.3.0"}
			cs.ResourceVersion = "2"
			s.ChannelSlices[3] = cs
		}, rebuilt: "channel 3", verdict: SliceUpdated, address: "10.0.3.0"},
		{name: "a channel slice has no resourceVersion (never read from the API server)", before: func(s *Snapshot) {
			cs := s.ChannelSlices[3].DeepCopy()
			cs.ResourceVersion = ""
			s.ChannelSlices[3] = cs
		}, change: func(*Snapshot, Plan) {}, rebuilt: "channel 3", verdict: SliceKept, address: channel3},
		{name: "the mux was recreated (a new UID for the owner reference)", change: func(s *Snapshot, _ Plan) {
			s.Mux = s.Mux.DeepCopy()
			s.Mux.UID = "recreated"
		}, rebuilt: "all", verdict: SliceUpdated, address: channel3},
		{name: "the live mux slice was edited (a new resourceVersion)", change: func(s *Snapshot, first Plan) {
			i := liveNamed(*s, first.Slices[sliceWith(t, first, channel3)].Name)
			l := s.MuxSlices[i].DeepCopy()
			l.Endpoints = l.Endpoints[:1]
			l.ResourceVersion += "0"
			s.MuxSlices[i] = l
		}, rebuilt: "none", verdict: SliceUpdated, address: channel3},
		{name: "the live mux slice was edited but kept its resourceVersion, which the API server never does", change: func(s *Snapshot, first Plan) {
			i := liveNamed(*s, first.Slices[sliceWith(t, first, channel3)].Name)
			l := s.MuxSlices[i].DeepCopy()
			l.Endpoints = l.Endpoints[:1]
			s.MuxSlices[i] = l
		}, rebuilt: "none", verdict: SliceKept, address: channel3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := deepCopySnapshot(benchWorld(n, true))
			if tc.before != nil {
				tc.before(&s)
			}
			c := NewCache()
			first := compute(t, s, cached(c))
			require.Equal(t, make([]SliceChange, n), first.SliceChanges, "the world is steady")
			tc.change(&s, first)

			again := compute(t, s, cached(c))
			require.Len(t, again.Slices, n)
			i := sliceWith(t, again, tc.address)
			assert.Equal(t, tc.verdict, again.SliceChanges[i])
			for j, sl := range again.Slices {
				want := tc.rebuilt == "all" || tc.rebuilt == "channel 3" && j == i
				assert.Equal(t, want, sl != first.Slices[j], "slice %s built again", sl.Name)
				if j != i {
					assert.Equal(t, first.SliceChanges[j] == SliceKept && tc.rebuilt != "all", again.SliceChanges[j] == SliceKept, "slice %s", sl.Name)
				}
			}
			if tc.verdict == SliceKept && tc.name != "the live mux slice was edited but kept its resourceVersion, which the API server never does" {
				uncached := compute(t, s)
				assert.Equal(t, uncached.Slices, again.Slices, "the same slices as a pass without the Cache")
				assert.Equal(t, uncached.SliceChanges, again.SliceChanges)
			}
		})
	}
}

func TestOnlyTheGroupsBuiltBesideReusedOnesGetAllocationsOfTheirOwn(t *testing.T) {
	// A slice built now points into the pass's slabs, which hold every channel's
	// endpoints; remembered beside reused slices, it would keep them all alive.
	withCache, without := &pass{opts: benchOptions()}, &pass{opts: testOpts}
	for _, tc := range []struct {
		name string
		p    *pass
		m    groupReuse
		want bool
	}{
		{"a cold pass (every group built now)", withCache, groupReuse{newSlices: 5}, false},
		{"a steady pass (every group reused)", withCache, groupReuse{reusedSlices: 5}, false},
		{"a pass that builds one group and reuses the rest", withCache, groupReuse{newSlices: 1, reusedSlices: 4}, true},
		{"a pass without a Cache", without, groupReuse{newSlices: 1, reusedSlices: 4}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.p.ownAllocations(tc.m))
		})
	}
}

func TestTheCacheForgetsTheSlicesOfAMuxNoPassPlans(t *testing.T) {
	c := NewCache()
	compute(t, benchWorld(50, true), cached(c))
	require.Len(t, c.groups, 50)
	// Another mux's channels keep being planned; the first mux was deleted.
	other := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20099"))}
	for i := 0; i < 600; i++ {
		other.Channels = append(other.Channels, channel(fmt.Sprintf("other/svc-%d", i), "http:80"))
	}
	for range 20 {
		Compute(other, cached(c))
	}
	assert.Empty(t, c.groups)
}
