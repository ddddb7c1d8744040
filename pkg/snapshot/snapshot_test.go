package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/internal/fixture"
)

var keys = fixture.Keys

const defaultNS = "svc-mux"

func mux(ns, name string, annotations map[string]string) corev1.Service {
	return *fixture.Mux(ns+"/"+name, fixture.Annotations(annotations))
}

func channel(ns, name, class string) corev1.Service {
	return *fixture.Channel(ns+"/"+name, "", nil, fixture.Class(class))
}

func slice(ns, name, service string) discoveryv1.EndpointSlice {
	return discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{api.LabelServiceName: service}}}
}

func names[T interface {
	GetNamespace() string
	GetName() string
}](objs []T) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func lists() Lists {
	return Lists{
		Services: []corev1.Service{
			mux(defaultNS, "mux", nil),
			mux("edge", "custom", map[string]string{keys.AllocationConfigMap: "custom-state"}),
			channel("b", "web", "svc-mux.nowake.ai/mux"),
			channel("a", "api", "svc-mux.nowake.ai/mux."+defaultNS),
			channel("a", "other", "svc-mux.nowake.ai/custom.edge"),
			channel("a", "invalid", "svc-mux.nowake.ai/a.b.c"),
			channel("a", "foreign", "example.com/lb"),
		},
		EndpointSlices: []discoveryv1.EndpointSlice{
			slice("b", "web-2", "web"), slice("b", "web-1", "web"), slice("a", "api-1", "api"),
			slice("a", "other-1", "other"), slice(defaultNS, "mux-x", "mux"), slice("b", "mux-y", "mux"),
		},
		ConfigMaps: []corev1.ConfigMap{
			{ObjectMeta: metav1.ObjectMeta{Namespace: defaultNS, Name: "mux-port-allocations"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "custom-state"}},
		},
		Endpoints: []corev1.Endpoints{{ObjectMeta: metav1.ObjectMeta{Namespace: defaultNS, Name: "mux"}}},
	}
}

func TestSnapshotGathersOneMuxAndWhatIsAttachedToIt(t *testing.T) {
	l := lists()
	r, err := FromLists(keys, defaultNS, l)
	require.NoError(t, err)
	m, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
	require.NoError(t, err)
	require.NotNil(t, m)

	s, err := r.Snapshot(m)
	require.NoError(t, err)
	assert.Same(t, m, s.Mux)
	assert.Equal(t, []string{"a/api", "b/web"}, names(s.Channels), "channels named with or without the default namespace, sorted")
	assert.Equal(t, []string{"a/api-1", "b/web-1", "b/web-2"}, names(s.ChannelSlices))
	assert.Equal(t, []string{defaultNS + "/mux-x"}, names(s.MuxSlices), "only slices in the mux's namespace")
	require.NotNil(t, s.MuxEndpoints)
	require.NotNil(t, s.StateConfigMap)
	assert.Equal(t, "mux-port-allocations", s.StateConfigMap.Name)
	assert.Same(t, &l.Services[3], s.Channels[0], "objects are passed as they are stored, not copied")
}

func TestSnapshotFindsAStateConfigMapNamedByTheMux(t *testing.T) {
	r, err := FromLists(keys, defaultNS, lists())
	require.NoError(t, err)
	m, err := r.Mux(api.MuxRef{Namespace: "edge", Name: "custom"})
	require.NoError(t, err)
	s, err := r.Snapshot(m)
	require.NoError(t, err)
	require.NotNil(t, s.StateConfigMap)
	assert.Equal(t, "custom-state", s.StateConfigMap.Name)
	assert.Nil(t, s.MuxEndpoints)
	assert.Empty(t, s.MuxSlices)
	assert.Equal(t, []string{"a/other"}, names(s.Channels))
}

func TestReaderLookups(t *testing.T) {
	r, err := FromLists(keys, defaultNS, lists())
	require.NoError(t, err)

	t.Run("a Service that is not a mux is no mux", func(t *testing.T) {
		m, err := r.Mux(api.MuxRef{Namespace: "b", Name: "web"})
		require.NoError(t, err)
		assert.Nil(t, m)
	})
	t.Run("a missing Service is nil without error", func(t *testing.T) {
		svc, err := r.Service("nope", "nope")
		require.NoError(t, err)
		assert.Nil(t, svc)
	})
	t.Run("channels of a mux that does not exist are still found", func(t *testing.T) {
		l := lists()
		l.Services = append(l.Services, channel("c", "lost", "svc-mux.nowake.ai/gone"))
		r, err := FromLists(keys, defaultNS, l)
		require.NoError(t, err)
		chs, err := r.Channels(api.MuxRef{Namespace: defaultNS, Name: "gone"})
		require.NoError(t, err)
		assert.Equal(t, []string{"c/lost"}, names(chs))
	})
	t.Run("muxes are listed sorted", func(t *testing.T) {
		assert.Equal(t, []string{"edge/custom", defaultNS + "/mux"}, names(r.Muxes()))
	})
	t.Run("a state ConfigMap leads to the muxes using it", func(t *testing.T) {
		ms, err := r.MuxesWithStateConfigMap("edge", "custom-state")
		require.NoError(t, err)
		assert.Equal(t, []string{"edge/custom"}, names(ms))
		ms, err = r.MuxesWithStateConfigMap(defaultNS, "mux-port-allocations")
		require.NoError(t, err)
		assert.Equal(t, []string{defaultNS + "/mux"}, names(ms))
	})
}

func TestSnapshotDoesNotMutateTheCache(t *testing.T) {
	l := lists()
	before := lists()
	r, err := FromLists(keys, defaultNS, l)
	require.NoError(t, err)
	for _, m := range r.Muxes() {
		_, err := r.Snapshot(m)
		require.NoError(t, err)
	}
	assert.Equal(t, before, l)
}

func TestEmptySourcesReadAsEmpty(t *testing.T) {
	l := lists()
	r, err := FromLists(keys, defaultNS, Lists{Services: l.Services})
	require.NoError(t, err)
	r.src.ConfigMaps, r.src.Endpoints = nil, nil
	m, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
	require.NoError(t, err)
	s, err := r.Snapshot(m)
	require.NoError(t, err)
	assert.Nil(t, s.StateConfigMap)
	assert.Nil(t, s.MuxEndpoints)
	assert.Empty(t, s.ChannelSlices)
}
