package apply

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func endpointWritesOf(t *testing.T, s plan.Snapshot, o ...plan.Options) (plan.Plan, []Write) {
	t.Helper()
	p := compute(t, s, o...)
	var out []Write
	for _, w := range diff(t, p, s) {
		if w.Kind == KindSlice || w.Kind == KindEndpoints {
			out = append(out, w)
		}
	}
	return p, out
}

func TestAMissingMuxSliceIsCreated(t *testing.T) {
	s := converged(t, apiSnapshot())
	s.MuxSlices = nil
	p, ws := endpointWritesOf(t, s)
	require.Len(t, p.Slices, 1)
	assert.Equal(t, []shape{{StageEndpoints, KindSlice, VerbCreate, "endpointslices", "svc-mux", p.Slices[0].Name, "", ""}}, shapes(ws))
	assert.Equal(t, p.Slices[0], ws[0].Object)
	created := ws[0].Object.(*discoveryv1.EndpointSlice)
	assert.Equal(t, map[string]string{
		discoveryv1.LabelServiceName: "mux",
		discoveryv1.LabelManagedBy:   api.EndpointSliceManagedBy,
		api.LabelManagedBy:           api.AppName,
		api.LabelComponent:           api.ComponentMuxEndpoints,
	}, created.Labels)
	assert.Empty(t, created.ResourceVersion)
}

func TestAMuxSliceWhoseEndpointsChangedIsUpdatedKeepingWhatOthersPutOnIt(t *testing.T) {
	s := converged(t, apiSnapshot())
	live := s.MuxSlices[0]
	live.ResourceVersion = "30"
	live.Labels["example.com/team"] = "net"
	live.Annotations["example.com/note"] = "hello"
	s.ChannelSlices = []*discoveryv1.EndpointSlice{channelSlice("app/api", "http", 8080, "10.0.0.1", "10.0.0.2")}

	p, ws := endpointWritesOf(t, s)
	assert.Equal(t, []shape{{StageEndpoints, KindSlice, VerbUpdate, "endpointslices", "svc-mux", live.Name, "", ""}}, shapes(ws))
	assert.Equal(t, []string{"endpoints", "ports", "metadata"}, ws[0].Fields)

	want := live.DeepCopy()
	want.Endpoints = p.Slices[0].Endpoints
	assert.Equal(t, want, ws[0].Object, "the live object with the new endpoints: foreign labels, annotations and resourceVersion kept")
	got := ws[0].Object.(*discoveryv1.EndpointSlice)
	assert.Equal(t, "30", got.ResourceVersion, "an update is conditional on the version read")
	assert.Equal(t, "net", got.Labels["example.com/team"])
	assert.Len(t, got.Endpoints, 2)
	assert.Equal(t, "10.0.0.1", s.MuxSlices[0].Endpoints[0].Addresses[0])
	assert.Len(t, s.MuxSlices[0].Endpoints, 1, "the live slice in the snapshot is not changed")
}

func TestAMuxSliceMissingOurLabelsOrOwnerIsUpdated(t *testing.T) {
	s := converged(t, apiSnapshot())
	live := s.MuxSlices[0]
	delete(live.Labels, api.LabelComponent)
	delete(live.Annotations, testKeys.Channels)
	live.OwnerReferences = nil
	p, ws := endpointWritesOf(t, s)
	require.Len(t, ws, 1)
	assert.Equal(t, VerbUpdate, ws[0].Verb)
	got := ws[0].Object.(*discoveryv1.EndpointSlice)
	assert.Equal(t, p.Slices[0].Labels, got.Labels)
	assert.Equal(t, p.Slices[0].Annotations, got.Annotations)
	assert.Equal(t, p.Slices[0].OwnerReferences, got.OwnerReferences)
}

func TestAMuxSliceWithAnotherAddressTypeIsReplaced(t *testing.T) {
	s := converged(t, apiSnapshot())
	s.MuxSlices[0].AddressType = discoveryv1.AddressTypeIPv6 // immutable on the API server
	p, ws := endpointWritesOf(t, s)
	name := p.Slices[0].Name
	assert.Equal(t, []shape{
		{StageReplace, KindSlice, VerbDelete, "endpointslices", "svc-mux", name, "", ""},
		{StageEndpoints, KindSlice, VerbCreate, "endpointslices", "svc-mux", name, "", ""},
	}, shapes(ws), "delete first (an earlier stage), then create")
	assert.Equal(t, []string{"addressType"}, ws[1].Fields)
	assert.Equal(t, p.Slices[0], ws[1].Object)
}

func TestStaleMuxSlicesAreDeletedOnlyWhenOurs(t *testing.T) {
	s := converged(t, apiSnapshot())
	owned := s.MuxSlices[0].DeepCopy()
	owned.Name = "mux-0000dead-0"
	mirrored := s.MuxSlices[0].DeepCopy()
	mirrored.Name = "mux-mirror-abcde"
	mirrored.Labels[discoveryv1.LabelManagedBy] = "endpointslicemirroring-controller.k8s.io"
	unlabelled := s.MuxSlices[0].DeepCopy()
	unlabelled.Name = "mux-by-hand"
	delete(unlabelled.Labels, discoveryv1.LabelManagedBy)
	another := s.MuxSlices[0].DeepCopy()
	another.Name = "mux-0000beef-0"
	s.MuxSlices = append(s.MuxSlices, unlabelled, another, mirrored, owned)

	_, ws := endpointWritesOf(t, s)
	assert.Equal(t, []shape{
		{StageCleanup, KindSlice, VerbDelete, "endpointslices", "svc-mux", "mux-0000beef-0", "", ""},
		{StageCleanup, KindSlice, VerbDelete, "endpointslices", "svc-mux", "mux-0000dead-0", "", ""},
	}, shapes(ws), "stale owned slices go, sorted by name, after ours are written; the mirror and the hand-made slice stay")
}

func TestAChannelWithoutBackendsLeavesNoMuxSlice(t *testing.T) {
	s := converged(t, apiSnapshot())
	s.ChannelSlices = nil
	p, ws := endpointWritesOf(t, s)
	assert.Empty(t, p.Slices)
	assert.Equal(t, []shape{{StageCleanup, KindSlice, VerbDelete, "endpointslices", "svc-mux", s.MuxSlices[0].Name, "", ""}}, shapes(ws))
}

func TestLegacyEndpoints(t *testing.T) {
	endpointsMode := testOpts
	endpointsMode.EndpointsMode = plan.EndpointsModeEndpoints
	bothMode := testOpts
	bothMode.EndpointsMode = plan.EndpointsModeBoth

	t.Run("a missing Endpoints object is created in endpoints mode", func(t *testing.T) {
		p, ws := endpointWritesOf(t, apiSnapshot(), endpointsMode)
		require.NotNil(t, p.Endpoints)
		assert.Equal(t, []shape{{StageEndpoints, KindEndpoints, VerbCreate, "endpoints", "svc-mux", "mux", "", ""}}, shapes(ws))
		assert.Equal(t, []string{"subsets"}, ws[0].Fields)
		assert.Equal(t, p.Endpoints, ws[0].Object)
		assert.NotSame(t, p.Endpoints, ws[0].Object)
	})

	t.Run("a missing Endpoints object and a slice are both created in both mode", func(t *testing.T) {
		p, ws := endpointWritesOf(t, apiSnapshot(), bothMode)
		assert.Equal(t, []shape{
			{StageEndpoints, KindSlice, VerbCreate, "endpointslices", "svc-mux", p.Slices[0].Name, "", ""},
			{StageEndpoints, KindEndpoints, VerbCreate, "endpoints", "svc-mux", "mux", "", ""},
		}, shapes(ws))
		assert.Equal(t, "true", ws[1].Object.(*corev1.Endpoints).Labels[api.LabelSkipMirror])
	})

	t.Run("Endpoints whose addresses changed are updated keeping foreign labels and the resourceVersion", func(t *testing.T) {
		s := converged(t, apiSnapshot(), endpointsMode)
		s.MuxEndpoints.ResourceVersion = "60"
		s.MuxEndpoints.Labels["example.com/team"] = "net"
		s.ChannelSlices = []*discoveryv1.EndpointSlice{channelSlice("app/api", "http", 8080, "10.0.0.1", "10.0.0.2")}
		p, ws := endpointWritesOf(t, s, endpointsMode)
		assert.Equal(t, []shape{{StageEndpoints, KindEndpoints, VerbUpdate, "endpoints", "svc-mux", "mux", "", ""}}, shapes(ws))
		assert.Equal(t, []string{"subsets", "metadata"}, ws[0].Fields)
		want := s.MuxEndpoints.DeepCopy()
		want.Subsets = p.Endpoints.Subsets
		assert.Equal(t, want, ws[0].Object)
		assert.Len(t, want.Subsets[0].Addresses, 2)
	})

	t.Run("the Python controller's Endpoints are adopted in endpoints mode, never deleted", func(t *testing.T) {
		s := converged(t, apiSnapshot(), endpointsMode)
		s.MuxEndpoints = pythonEndpoints()
		p, ws := endpointWritesOf(t, s, endpointsMode)
		assert.False(t, p.DeleteLegacyEndpoints)
		assert.Equal(t, []shape{{StageEndpoints, KindEndpoints, VerbUpdate, "endpoints", "svc-mux", "mux", "", ""}}, shapes(ws))
		assert.Equal(t, "50", ws[0].Object.(*corev1.Endpoints).ResourceVersion)
	})
}

func TestTakeoverDeletesOnlyThePythonEndpointsAndOnlyInSlicesMode(t *testing.T) {
	bothMode := testOpts
	bothMode.EndpointsMode = plan.EndpointsModeBoth
	userEndpoints := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux",
		Labels: map[string]string{api.LabelManagedBy: "someone-else", api.LabelComponent: api.ComponentMuxEndpoints}}}
	halfLabelled := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux",
		Labels: map[string]string{api.LabelManagedBy: api.AppName}}}
	tests := []struct {
		name string
		live *corev1.Endpoints
		opts plan.Options
		want []shape
	}{
		{"the Python-labelled Endpoints go in cleanup, after our slices exist", pythonEndpoints(), testOpts,
			[]shape{{StageCleanup, KindEndpoints, VerbDelete, "endpoints", "svc-mux", "mux", "", ""}}},
		{"a user's Endpoints named like the mux stay", userEndpoints, testOpts, []shape{}},
		{"Endpoints with only one of the Python labels stay", halfLabelled, testOpts, []shape{}},
		{"in both mode the Python Endpoints are updated, not deleted", pythonEndpoints(), bothMode,
			[]shape{{StageEndpoints, KindEndpoints, VerbUpdate, "endpoints", "svc-mux", "mux", "", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := converged(t, apiSnapshot(), tt.opts)
			s.MuxEndpoints = tt.live
			_, ws := endpointWritesOf(t, s, tt.opts)
			assert.Equal(t, tt.want, shapes(ws))
			if len(ws) == 1 && ws[0].Verb == VerbDelete {
				assert.Equal(t, []string{"takeover"}, ws[0].Fields)
				assert.Nil(t, ws[0].Object)
			}
		})
	}
}

func TestEndpointsModeRemovesTheSkipMirrorLabelABothRunLeft(t *testing.T) {
	opts := plan.Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux", EndpointsMode: plan.EndpointsModeEndpoints}
	s := converged(t, apiSnapshot(), opts)
	require.NotNil(t, s.MuxEndpoints)
	s.MuxEndpoints.Labels[api.LabelSkipMirror] = "true"
	_, ws := endpointWritesOf(t, s, opts)
	require.Len(t, ws, 1)
	assert.Equal(t, VerbUpdate, ws[0].Verb)
	assert.NotContains(t, ws[0].Object.(*corev1.Endpoints).Labels, api.LabelSkipMirror)
}
