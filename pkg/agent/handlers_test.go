package agent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/internal/fixture"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

var testKeys = fixture.Keys

const testDefaultNS = "svc-mux"

func muxService(ns, name string, annotations map[string]string) *corev1.Service {
	return fixture.Mux(ns+"/"+name, fixture.UID("uid-"+ns+"-"+name), fixture.ResourceVersion("1"), fixture.Annotations(annotations))
}

func channelService(ns, name, class string) *corev1.Service {
	return fixture.Channel(ns+"/"+name, "", fixture.Ports("http:8080"),
		fixture.UID("uid-"+ns+"-"+name), fixture.ResourceVersion("1"), fixture.Class(class))
}

func plainService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name), ResourceVersion: "1"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
	}
}

func slice(ns, name, service string, labels map[string]string) *discoveryv1.EndpointSlice {
	l := map[string]string{}
	if service != "" {
		l[api.LabelServiceName] = service
	}
	for k, v := range labels {
		l[k] = v
	}
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l, ResourceVersion: "1"}}
}

// newMapper indexes services the way the agent's informer does.
func newMapper(t *testing.T, services ...*corev1.Service) *keyMapper {
	t.Helper()
	store := cache.NewIndexer(cache.MetaNamespaceKeyFunc, snapshot.ServiceIndexers(testKeys, testDefaultNS))
	for _, s := range services {
		require.NoError(t, store.Add(s))
	}
	reader := snapshot.NewReader(testKeys, snapshot.Sources{Services: store})
	return &keyMapper{keys: testKeys, defaultNamespace: testDefaultNS, reader: reader}
}

func TestServiceKeys(t *testing.T) {
	withLeftovers := plainService("app", "old")
	withLeftovers.Annotations = map[string]string{testKeys.Ports: "http:8080->8080"}
	withCondition := plainService("app", "old2")
	withCondition.Status.Conditions = []metav1.Condition{{Type: testKeys.AcceptedCondition, Status: metav1.ConditionTrue}}
	notLB := channelService("app", "web", "svc-mux.nowake.ai/mux")
	notLB.Spec.Type = corev1.ServiceTypeClusterIP
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{"a mux maps to itself", muxService("edge", "mux", nil), []string{"edge/mux"}},
		{"a channel without a namespace part maps to the mux in the default namespace",
			channelService("app", "web", "svc-mux.nowake.ai/mux"), []string{"svc-mux/mux"}},
		{"a channel with a namespace part maps to the mux it names",
			channelService("app", "web", "svc-mux.nowake.ai/mux.edge"), []string{"edge/mux"}},
		{"a channel whose class does not parse gets its own channel key",
			channelService("app", "web", "svc-mux.nowake.ai/Bad_Name"), []string{"channel:app/web"}},
		{"a Service of another load balancer class maps to nothing",
			channelService("app", "web", "example.com/lb"), nil},
		{"a ClusterIP Service with a svcmux class is not a channel", notLB, nil},
		{"a former channel with a ports annotation gets a channel key", withLeftovers, []string{"channel:app/old"}},
		{"a former channel with an Accepted condition gets a channel key", withCondition, []string{"channel:app/old2"}},
		{"a plain Service maps to nothing", plainService("app", "db"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, newMapper(t).serviceKeys(tt.svc))
		})
	}
}

func TestSliceKeys(t *testing.T) {
	mux := muxService("edge", "mux", nil)
	web := channelService("app", "web", "svc-mux.nowake.ai/mux.edge")
	bad := channelService("app", "bad", "svc-mux.nowake.ai/a.b.c")
	m := newMapper(t, mux, web, bad)
	tests := []struct {
		name  string
		slice *discoveryv1.EndpointSlice
		want  []string
	}{
		{"a channel's slice maps to the channel's mux", slice("app", "web-abcde", "web", nil), []string{"edge/mux"}},
		{"svcmux's own mux slice maps to its mux", slice("edge", "mux-1", "mux", map[string]string{api.LabelSliceManagedBy: api.EndpointSliceManagedBy}), []string{"edge/mux"}},
		{"svcmux's own slice maps to its mux even when the mux is gone",
			slice("edge", "gone-1", "gone", map[string]string{api.LabelSliceManagedBy: api.EndpointSliceManagedBy}), []string{"edge/gone"}},
		{"a slice mirrored for a mux maps to the mux",
			slice("edge", "mux-mirror", "mux", map[string]string{api.LabelSliceManagedBy: "endpointslicemirroring-controller.k8s.io"}), []string{"edge/mux"}},
		{"a slice of a channel with an invalid class maps to nothing", slice("app", "bad-1", "bad", nil), nil},
		{"a slice of an unknown Service maps to nothing", slice("app", "x-1", "x", nil), nil},
		{"a slice without a service-name label maps to nothing", slice("app", "y-1", "", nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, m.sliceKeys(tt.slice))
		})
	}
}

func TestConfigMapKeys(t *testing.T) {
	m := newMapper(t,
		muxService("edge", "mux", nil),
		muxService("edge", "custom", map[string]string{testKeys.AllocationConfigMap: "my-state"}),
	)
	cm := func(name string, annotations map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: name, Annotations: annotations}}
	}
	tests := []struct {
		name string
		cm   *corev1.ConfigMap
		want []string
	}{
		{"a state ConfigMap with the default name maps to its mux", cm("mux-port-allocations", nil), []string{"edge/mux"}},
		{"a state ConfigMap named by allocation-configmap maps to its mux", cm("my-state", nil), []string{"edge/custom"}},
		{"a ConfigMap annotated for a mux maps to that mux", cm("other", map[string]string{testKeys.Mux: "prod/api"}), []string{"prod/api"}},
		{"a ConfigMap annotated for one mux and used by another wakes both",
			cm("mux-port-allocations", map[string]string{testKeys.Mux: "prod/api"}), []string{"prod/api", "edge/mux"}},
		{"a malformed mux annotation is ignored", cm("other", map[string]string{testKeys.Mux: "not a ref"}), nil},
		{"an unrelated ConfigMap maps to nothing", cm("settings", nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, m.configMapKeys(tt.cm))
		})
	}
}

func TestEventHandler(t *testing.T) {
	updated := func(svc *corev1.Service, rv string, class string) *corev1.Service {
		c := svc.DeepCopy()
		c.ResourceVersion = rv
		c.Spec.LoadBalancerClass = &class
		return c
	}
	web := channelService("app", "web", "svc-mux.nowake.ai/a")
	mux := muxService("edge", "mux", nil)
	unmarked := mux.DeepCopy()
	unmarked.ResourceVersion = "2"
	delete(unmarked.Annotations, testKeys.Multiplexer)
	tests := []struct {
		name      string
		call      func(h cache.ResourceEventHandler)
		want      []string
		forgotten []types.UID
	}{
		{"an added channel enqueues its mux",
			func(h cache.ResourceEventHandler) { h.OnAdd(web, false) }, []string{"svc-mux/a"}, nil},
		{"a class change enqueues the mux the channel left and the one it joined",
			func(h cache.ResourceEventHandler) { h.OnUpdate(web, updated(web, "2", "svc-mux.nowake.ai/b")) },
			[]string{"svc-mux/a", "svc-mux/b"}, nil},
		{"a class change to an invalid class enqueues the old mux and the channel",
			func(h cache.ResourceEventHandler) { h.OnUpdate(web, updated(web, "2", "svc-mux.nowake.ai/x.y.z")) },
			[]string{"channel:app/web", "svc-mux/a"}, nil},
		{"an update with the same resourceVersion enqueues nothing",
			func(h cache.ResourceEventHandler) { h.OnUpdate(web, updated(web, "1", "svc-mux.nowake.ai/b")) }, nil, nil},
		{"removing the multiplexer annotation still enqueues the former mux",
			func(h cache.ResourceEventHandler) { h.OnUpdate(mux, unmarked) }, []string{"edge/mux"}, nil},
		{"a deleted mux enqueues itself and forgets its events",
			func(h cache.ResourceEventHandler) { h.OnDelete(mux) }, []string{"edge/mux"}, []types.UID{mux.UID}},
		{"a tombstone of a deleted channel enqueues its mux and forgets its events",
			func(h cache.ResourceEventHandler) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "app/web", Obj: web})
			}, []string{"svc-mux/a"}, []types.UID{web.UID}},
		{"a tombstone of a mux slice enqueues the mux",
			func(h cache.ResourceEventHandler) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "edge/mux-1",
					Obj: slice("edge", "mux-1", "mux", map[string]string{api.LabelSliceManagedBy: api.EndpointSliceManagedBy})})
			}, []string{"edge/mux"}, nil},
		{"a legacy Endpoints object enqueues the mux named like it",
			func(h cache.ResourceEventHandler) {
				h.OnAdd(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "mux"}}, false)
			}, []string{"edge/mux"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var forgotten []types.UID
			h := eventHandler(newMapper(t), func(k string) { got = append(got, k) },
				func(uid types.UID) { forgotten = append(forgotten, uid) })
			tt.call(h)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.forgotten, forgotten)
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name          string
		key           string
		channel, ok   bool
		namespace, nm string
	}{
		{"a mux key is namespace/name", "edge/mux", false, true, "edge", "mux"},
		{"a channel key carries the channel prefix", "channel:app/web", true, true, "app", "web"},
		{"a key without a slash is malformed", "mux", false, false, "", "mux"},
		{"a key with an empty name is malformed", "edge/", false, false, "edge", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channel, ns, name, ok := parseKey(tt.key)
			assert.Equal(t, tt.channel, channel)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.namespace, ns)
				assert.Equal(t, tt.nm, name)
			}
		})
	}
}

func TestStripManagedFieldsDropsOnlyManagedFields(t *testing.T) {
	svc := plainService("app", "db")
	svc.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	out, err := stripManagedFields(svc)
	require.NoError(t, err)
	assert.Nil(t, out.(*corev1.Service).ManagedFields)
	assert.Equal(t, "db", out.(*corev1.Service).Name)

	tomb := cache.DeletedFinalStateUnknown{Key: "app/db"}
	out, err = stripManagedFields(tomb)
	require.NoError(t, err)
	assert.Equal(t, tomb, out)
}
