package snapshot

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/plan"
)

// namespaceStore holds the Namespace cache once a reader has one: the agent
// starts watching Namespaces only when some mux uses a selector (SPEC §10), after
// its other informers, so the store arrives late and is read by every worker.
type namespaceStore struct{ store cache.Store }

// SetNamespaces gives the reader a synced Namespace store; Snapshot then fills
// plan.Snapshot.Namespaces for muxes with <prefix>/allowed-namespace-selector.
func (r *Reader) SetNamespaces(store cache.Store) { r.namespaces.Store(&namespaceStore{store}) }

// WatchesNamespaces reports whether SetNamespaces was called.
func (r *Reader) WatchesNamespaces() bool { return r.namespaces.Load() != nil }

// namespaceLabels returns the labels of the channels' namespaces, or nil when the
// mux needs none or the reader has no Namespace store (the planner says so).
func (r *Reader) namespaceLabels(mux *corev1.Service, channels []*corev1.Service) (map[string]map[string]string, error) {
	ns := r.namespaces.Load()
	if ns == nil || !plan.UsesNamespaceSelector(mux, r.keys) {
		return nil, nil
	}
	out := map[string]map[string]string{}
	for _, ch := range channels {
		if _, done := out[ch.Namespace]; done {
			continue
		}
		obj, ok, err := ns.store.GetByKey(ch.Namespace)
		if err != nil {
			return nil, fmt.Errorf("get namespace %s: %w", ch.Namespace, err)
		}
		out[ch.Namespace] = nil // a namespace not in the cache has no labels: it matches no selector
		if n, isNS := obj.(*corev1.Namespace); ok && isNS {
			out[ch.Namespace] = n.Labels
		}
	}
	return out, nil
}
