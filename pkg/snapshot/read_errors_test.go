package snapshot

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

var errBroken = errors.New("store unavailable")

// brokenIndexer is a cache whose reads of some keys (GetByKey) and index values
// (ByIndex) fail, as a store not backed by memory could.
type brokenIndexer struct {
	cache.Indexer
	broken map[string]bool
}

func breakKeys(store cache.Indexer, keys ...string) brokenIndexer {
	b := brokenIndexer{Indexer: store, broken: map[string]bool{}}
	for _, k := range keys {
		b.broken[k] = true
	}
	return b
}

func (b brokenIndexer) GetByKey(key string) (any, bool, error) {
	if b.broken[key] {
		return nil, false, errBroken
	}
	return b.Indexer.GetByKey(key)
}

func (b brokenIndexer) ByIndex(name, value string) ([]any, error) {
	if b.broken[value] {
		return nil, errBroken
	}
	return b.Indexer.ByIndex(name, value)
}

func TestASnapshotWhoseCacheReadFailsSaysWhatItWasReading(t *testing.T) {
	selector := map[string]string{keys.AllowedNamespaceSelector: "team=a"}
	tests := []struct {
		name string
		mux  map[string]string
		fail func(r *Reader)
		want string
	}{
		{"the mux's channels", nil, func(r *Reader) { r.src.Services = breakKeys(r.src.Services, defaultNS+"/mux") },
			"list channels of mux svc-mux/mux: store unavailable"},
		{"a channel's EndpointSlices", nil, func(r *Reader) { r.src.EndpointSlices = breakKeys(r.src.EndpointSlices, "b/web") },
			"list endpointslices of b/web: store unavailable"},
		{"the mux's own EndpointSlices", nil, func(r *Reader) { r.src.EndpointSlices = breakKeys(r.src.EndpointSlices, defaultNS+"/mux") },
			"list endpointslices of svc-mux/mux: store unavailable"},
		{"the mux's legacy Endpoints", nil, func(r *Reader) { r.src.Endpoints = breakKeys(r.src.Endpoints, defaultNS+"/mux") },
			"get endpoints svc-mux/mux: store unavailable"},
		{"the state ConfigMap", nil, func(r *Reader) { r.src.ConfigMaps = breakKeys(r.src.ConfigMaps, defaultNS+"/mux-port-allocations") },
			"get state configmap svc-mux/mux-port-allocations: store unavailable"},
		{"a channel's Namespace, for a selector mux", selector, func(r *Reader) {
			r.SetNamespaces(breakKeys(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), "a"))
		}, "get namespace a: store unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lists()
			l.Services[0] = mux(defaultNS, "mux", tt.mux)
			r, err := FromLists(keys, defaultNS, l)
			require.NoError(t, err)
			m, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
			require.NoError(t, err)
			tt.fail(r)
			s, err := r.Snapshot(m)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.ErrorIs(t, err, errBroken, "the store's error is wrapped, not replaced")
			assert.Equal(t, plan.Snapshot{}, s)
		})
	}
}

func TestAStateConfigMapKeyHoldingAnotherKindIsAnError(t *testing.T) {
	r, err := FromLists(keys, defaultNS, lists())
	require.NoError(t, err)
	wrong := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	require.NoError(t, wrong.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: defaultNS, Name: "mux-port-allocations"}}))
	r.src.ConfigMaps = wrong
	m, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
	require.NoError(t, err)
	_, err = r.Snapshot(m)
	require.Error(t, err)
	assert.Equal(t, "get state configmap svc-mux/mux-port-allocations: object svc-mux/mux-port-allocations in the cache is *v1.Service, not *v1.ConfigMap", err.Error())
}

func TestAMuxLookupByStateConfigMapThatFailsSaysWhichConfigMap(t *testing.T) {
	r, err := FromLists(keys, defaultNS, lists())
	require.NoError(t, err)
	r.src.Services = breakKeys(r.src.Services, "edge/custom-state")
	_, err = r.MuxesWithStateConfigMap("edge", "custom-state")
	require.Error(t, err)
	assert.Equal(t, "find muxes of configmap edge/custom-state: store unavailable", err.Error())
}

func TestAReaderWithoutStoresReadsEverythingAsEmpty(t *testing.T) {
	m := mux(defaultNS, "mux", nil)
	s, err := NewReader(keys, Sources{}).Snapshot(&m)
	require.NoError(t, err)
	assert.Equal(t, plan.Snapshot{Mux: &m}, s, "no channels, slices, Endpoints, state, and no NodePort holder to ask")
}

func TestTwoChannelsInOneNamespaceShareItsLabels(t *testing.T) {
	l := lists()
	l.Services = []corev1.Service{mux(defaultNS, "mux", map[string]string{keys.AllowedNamespaceSelector: "team=a"}),
		channel("a", "api", "svc-mux.nowake.ai/mux"), channel("a", "web", "svc-mux.nowake.ai/mux")}
	l.Namespaces, l.NamespacesListed = []corev1.Namespace{namespace("a", map[string]string{"team": "a"})}, true
	r, err := FromLists(keys, defaultNS, l)
	require.NoError(t, err)
	s, err := r.Snapshot(&l.Services[0])
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{"a": {"team": "a"}}, s.Namespaces)
}

func TestIndexersSkipObjectsTheyDoNotIndex(t *testing.T) {
	services := ServiceIndexers(keys, defaultNS)
	slices := EndpointSliceIndexers()
	unlabelled := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "mirror-1"}}
	cm := &corev1.ConfigMap{}
	tests := []struct {
		name    string
		indexer cache.IndexFunc
		obj     any
	}{
		{"the mux index skips what is not a Service", services[IndexMux], cm},
		{"the state ConfigMap index skips what is not a Service", services[IndexStateConfigMap], cm},
		{"the Service index skips what is not an EndpointSlice", slices[IndexService], cm},
		{"the Service index skips a slice without kubernetes.io/service-name", slices[IndexService], unlabelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := tt.indexer(tt.obj)
			require.NoError(t, err)
			assert.Nil(t, values)
		})
	}
}

func TestObservedCountsAnUnreadableCacheAsSeen(t *testing.T) {
	// Waiting on a cache that cannot answer would hold the mux up for ever; the
	// next pass reads whatever the cache then shows.
	notMeta := cache.NewIndexer(func(any) (string, error) { return "app/x", nil }, cache.Indexers{})
	require.NoError(t, notMeta.Add("not an object"))
	tests := []struct {
		name  string
		store cache.Indexer
	}{
		{"a read that fails", breakKeys(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), "app/x")},
		{"an entry without object metadata", notMeta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(keys, Sources{Services: tt.store})
			assert.True(t, r.Observed(Written{Resource: "services", Namespace: "app", Name: "x", ResourceVersion: "9", Created: true}))
		})
	}
}
