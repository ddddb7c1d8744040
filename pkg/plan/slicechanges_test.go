package plan

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changesOf is the plan's verdict per desired slice, by the channel the slice
// serves (its channels annotation), and the stale slice names.
func changesOf(t *testing.T, p Plan) (map[string]SliceChange, []string) {
	t.Helper()
	require.Len(t, p.SliceChanges, len(p.Slices), "one verdict per desired slice")
	out := map[string]SliceChange{}
	for i, s := range p.Slices {
		out[s.Annotations[testKeys.Channels]] = p.SliceChanges[i]
	}
	return out, p.StaleSlices
}

func TestThePlannerSaysHowEachMuxSliceDiffersFromTheLiveOne(t *testing.T) {
	first := Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80"), channel("app/b", "http:81")),
		ChannelSlices: slices(slice("app/a", "a-1", "http", 8080, "10.0.0.1"), slice("app/b", "b-1", "http", 8080, "10.0.1.1"))}
	p := compute(t, first)
	idle := applied(first, p)
	require.Len(t, idle.MuxSlices, 2)
	a, b := `["app/a"]`, `["app/b"]`
	nameOf := func(p Plan, channels string) string {
		for _, s := range p.Slices {
			if s.Annotations[testKeys.Channels] == channels {
				return s.Name
			}
		}
		t.Fatalf("no desired slice for %s", channels)
		return ""
	}
	// liveWith is idle with the live mux slice of channel ch changed by edit (nil: gone).
	liveWith := func(ch string, edit func(*discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice) Snapshot {
		s := deepCopySnapshot(idle)
		var live []*discoveryv1.EndpointSlice
		for _, l := range s.MuxSlices {
			if l.Name == nameOf(p, ch) {
				if l = edit(l); l == nil {
					continue
				}
			}
			live = append(live, l)
		}
		s.MuxSlices = live
		return s
	}
	foreign := slice("svc-mux/mux", "mux-mirror", "http", 80, "10.9.9.9")
	foreign.Labels[discoveryv1.LabelManagedBy] = "endpointslicemirroring-controller.k8s.io"
	leftover := idle.MuxSlices[0].DeepCopy()
	leftover.Name = "mux-leftover"

	for _, tc := range []struct {
		name  string
		s     Snapshot
		want  map[string]SliceChange
		stale []string
	}{
		{"a first pass creates every slice", first, map[string]SliceChange{a: SliceCreated, b: SliceCreated}, nil},
		{"a pass over what it wrote keeps every slice", idle, map[string]SliceChange{a: SliceKept, b: SliceKept}, nil},
		{"a slice deleted by someone is created again",
			liveWith(a, func(*discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice { return nil }),
			map[string]SliceChange{a: SliceCreated, b: SliceKept}, nil},
		{"a slice whose endpoints were edited is updated",
			liveWith(a, func(l *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
				l.Endpoints[0].Addresses = []string{"10.0.0.9"}
				return l
			}),
			map[string]SliceChange{a: SliceUpdated, b: SliceKept}, nil},
		{"a slice that lost svcmux's label on it is updated",
			liveWith(b, func(l *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
				delete(l.Labels, discoveryv1.LabelServiceName)
				return l
			}),
			map[string]SliceChange{a: SliceKept, b: SliceUpdated}, nil},
		{"a slice of another address type is replaced, as the field cannot change",
			liveWith(b, func(l *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
				l.AddressType = discoveryv1.AddressTypeIPv6
				return l
			}),
			map[string]SliceChange{a: SliceKept, b: SliceReplaced}, nil},
		{"a managed slice no desired slice names is stale; the cluster's own are not svcmux's",
			func() Snapshot {
				s := deepCopySnapshot(idle)
				s.MuxSlices = append(s.MuxSlices, leftover, foreign)
				return s
			}(),
			map[string]SliceChange{a: SliceKept, b: SliceKept}, []string{"mux-leftover"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stale := changesOf(t, compute(t, tc.s))
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.stale, stale)
		})
	}
}

func TestInEndpointsModeEverySliceSvcmuxLeftIsStale(t *testing.T) {
	first := Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
		ChannelSlices: slices(slice("app/a", "a-1", "http", 8080, "10.0.0.1"))}
	idle := applied(first, compute(t, first))
	require.Len(t, idle.MuxSlices, 1)
	p := compute(t, idle, opts(EndpointsModeEndpoints))
	assert.Empty(t, p.Slices)
	assert.Empty(t, p.SliceChanges)
	assert.Equal(t, []string{idle.MuxSlices[0].Name}, p.StaleSlices)
}
