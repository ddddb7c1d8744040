package agent

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// Work item keys. A mux key "ns/name" runs a pass over a mux and everything attached
// to it; a channel key "channel:ns/name" runs a pass over one Service that no mux
// pass covers (a class that does not parse, or leftovers on a former channel).
const channelKeyPrefix = "channel:"

func muxKey(ref api.MuxRef) string { return ref.String() }

func channelKey(namespace, name string) string { return channelKeyPrefix + namespace + "/" + name }

// parseKey splits a work item key; ok is false for a malformed key.
func parseKey(key string) (channel bool, namespace, name string, ok bool) {
	channel = strings.HasPrefix(key, channelKeyPrefix)
	namespace, name, ok = strings.Cut(strings.TrimPrefix(key, channelKeyPrefix), "/")
	return channel, namespace, name, ok && namespace != "" && name != ""
}

// keyMapper maps a changed object to the work items it affects. It only reads
// (the object, and the Service cache to tell a channel's slice from a mux's).
type keyMapper struct {
	keys             api.Keys
	defaultNamespace string
	reader           *snapshot.Reader
}

// serviceKeys: a mux → itself; a channel → the mux its class names, or its own
// channel key when the class does not parse; a former channel still carrying
// svcmux's annotation or condition → its channel key.
func (m *keyMapper) serviceKeys(svc *corev1.Service) []string {
	var out []string
	if plan.IsMux(svc, m.keys) {
		out = append(out, muxKey(api.MuxRef{Namespace: svc.Namespace, Name: svc.Name}))
	}
	ref, isChannel, err := plan.ChannelMux(svc, m.keys, m.defaultNamespace)
	switch {
	case isChannel && err == nil:
		out = append(out, muxKey(ref))
	case isChannel, plan.HasLeftovers(svc, m.keys):
		out = append(out, channelKey(svc.Namespace, svc.Name))
	}
	return out
}

// sliceKeys: our own mux slice → its mux (even when the mux is gone); any other
// slice → whatever its Service maps to (a channel's slice → its mux; a slice the
// cluster mirrored for a mux → the mux).
func (m *keyMapper) sliceKeys(s *discoveryv1.EndpointSlice) []string {
	name := s.Labels[api.LabelServiceName]
	if name == "" {
		return nil
	}
	if s.Labels[api.LabelSliceManagedBy] == api.EndpointSliceManagedBy {
		return []string{muxKey(api.MuxRef{Namespace: s.Namespace, Name: name})}
	}
	svc, err := m.reader.Service(s.Namespace, name)
	if err != nil || svc == nil {
		// The Service's own delete event already enqueued what it affected.
		return nil
	}
	var out []string
	for _, k := range m.serviceKeys(svc) {
		// Only a mux pass reads slices.
		if !strings.HasPrefix(k, channelKeyPrefix) {
			out = append(out, k)
		}
	}
	return out
}

// configMapKeys: a state ConfigMap → the mux its <prefix>/mux annotation names and
// every mux that uses it as its state (by name, default or chosen). A ConfigMap
// claimed by two muxes wakes both, so each reports the foreign state.
func (m *keyMapper) configMapKeys(cm *corev1.ConfigMap) []string {
	var out []string
	if ns, name, ok := strings.Cut(cm.Annotations[m.keys.Mux], "/"); ok && api.IsDNSLabel(ns) && name != "" {
		out = append(out, muxKey(api.MuxRef{Namespace: ns, Name: name}))
	}
	muxes, err := m.reader.MuxesWithStateConfigMap(cm.Namespace, cm.Name)
	if err == nil {
		for _, mux := range muxes {
			out = append(out, muxKey(api.MuxRef{Namespace: mux.Namespace, Name: mux.Name}))
		}
	}
	return out
}

// endpointsKeys: a mux's legacy Endpoints shares the mux's name.
func (m *keyMapper) endpointsKeys(ep *corev1.Endpoints) []string {
	return []string{muxKey(api.MuxRef{Namespace: ep.Namespace, Name: ep.Name})}
}

// objectKeys dispatches on the object's type.
func (m *keyMapper) objectKeys(obj any) []string {
	switch o := obj.(type) {
	case *corev1.Service:
		return m.serviceKeys(o)
	case *discoveryv1.EndpointSlice:
		return m.sliceKeys(o)
	case *corev1.ConfigMap:
		return m.configMapKeys(o)
	case *corev1.Endpoints:
		return m.endpointsKeys(o)
	}
	return nil
}

// union is the sorted, de-duplicated keys of both lists.
func union(a, b []string) []string {
	set := map[string]struct{}{}
	for _, k := range append(append([]string(nil), a...), b...) {
		set[k] = struct{}{}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unwrapTombstone returns the last known object of a delete notification.
func unwrapTombstone(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// eventHandler only enqueues: adds and deletes enqueue the object's keys, updates
// the union of the old and the new object's keys (a class change wakes the mux
// the channel left and the one it joined), except for a resync of an unchanged
// object. onDelete learns the UID of a deleted object.
func eventHandler(m *keyMapper, enqueue func(string), onDelete func(types.UID)) cache.ResourceEventHandlerFuncs {
	add := func(keys []string) {
		for _, k := range keys {
			enqueue(k)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { add(m.objectKeys(obj)) },
		UpdateFunc: func(oldObj, newObj any) {
			if sameVersion(oldObj, newObj) {
				return
			}
			add(union(m.objectKeys(oldObj), m.objectKeys(newObj)))
		},
		DeleteFunc: func(obj any) {
			obj = unwrapTombstone(obj)
			add(m.objectKeys(obj))
			if o, err := meta.Accessor(obj); err == nil && onDelete != nil && o.GetUID() != "" {
				onDelete(o.GetUID())
			}
		},
	}
}

func sameVersion(oldObj, newObj any) bool {
	o, err1 := meta.Accessor(oldObj)
	n, err2 := meta.Accessor(newObj)
	return err1 == nil && err2 == nil && o.GetResourceVersion() == n.GetResourceVersion()
}

// stripManagedFields drops managedFields before an object enters the cache: the
// agent never reads them and they are often the larger part of an object.
func stripManagedFields(obj any) (any, error) {
	if o, err := meta.Accessor(obj); err == nil && o.GetManagedFields() != nil {
		o.SetManagedFields(nil)
	}
	return obj, nil
}
