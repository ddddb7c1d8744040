package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
)

func TestObserved(t *testing.T) {
	store := func(objs ...any) cache.Indexer {
		s := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		for _, o := range objs {
			_ = s.Add(o)
		}
		return s
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "api", ResourceVersion: "42"}}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-1", ResourceVersion: "7"}}
	r := NewReader(api.NewKeys(""), Sources{Services: store(svc), EndpointSlices: store(sl), ConfigMaps: store(), Endpoints: nil})
	tests := []struct {
		name                  string
		resource, ns, obj, rv string
		deleted, created      bool
		want                  bool
	}{
		{"a write the cache shows at its resourceVersion is observed", "services", "app", "api", "42", false, false, true},
		{"a later resourceVersion in the cache counts as observed", "services", "app", "api", "41", false, false, true},
		{"an older resourceVersion in the cache is not observed yet", "services", "app", "api", "43", false, false, false},
		{"a created object not yet in the cache is not observed", "configmaps", "svc-mux", "state", "5", false, true, false},
		{"a patched object the cache no longer holds was deleted since: observed", "services", "gone", "api", "50", false, false, true},
		{"a delete is observed once the object is gone", "configmaps", "svc-mux", "state", "", true, false, true},
		{"a delete is not observed while the object is cached", "endpointslices", "svc-mux", "mux-1", "", true, false, false},
		{"a kind without a store counts as observed", "endpoints", "svc-mux", "mux", "9", false, false, true},
		{"an unparsable resourceVersion counts as observed", "endpointslices", "svc-mux", "mux-1", "x", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.Observed(Written{Resource: tt.resource, Namespace: tt.ns, Name: tt.obj,
				ResourceVersion: tt.rv, Deleted: tt.deleted, Created: tt.created}))
		})
	}
}
