package snapshot

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Lists are the results of one List per kind, as the kubectl plugin reads them.
type Lists struct {
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	ConfigMaps     []corev1.ConfigMap
	Endpoints      []corev1.Endpoints
	// Namespaces are read only when some mux uses a namespace selector
	// (NamespacesListed); without them such a mux plans as frozen.
	Namespaces       []corev1.Namespace
	NamespacesListed bool
}

// FromLists indexes l the way the agent's informers are indexed, so the plugin and
// the agent build snapshots with the same Reader. The stores point into l's
// slices: l must not be modified afterwards.
func FromLists(keys api.Keys, defaultMuxNamespace string, l Lists) (*Reader, error) {
	src := Sources{
		Services:       cache.NewIndexer(cache.MetaNamespaceKeyFunc, ServiceIndexers(keys, defaultMuxNamespace)),
		EndpointSlices: cache.NewIndexer(cache.MetaNamespaceKeyFunc, EndpointSliceIndexers()),
		ConfigMaps:     cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		Endpoints:      cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
	}
	add := func(store cache.Indexer, kind string, obj any) error {
		if err := store.Add(obj); err != nil {
			return fmt.Errorf("index %s: %w", kind, err)
		}
		return nil
	}
	for i := range l.Services {
		if err := add(src.Services, "services", &l.Services[i]); err != nil {
			return nil, err
		}
	}
	for i := range l.EndpointSlices {
		if err := add(src.EndpointSlices, "endpointslices", &l.EndpointSlices[i]); err != nil {
			return nil, err
		}
	}
	for i := range l.ConfigMaps {
		if err := add(src.ConfigMaps, "configmaps", &l.ConfigMaps[i]); err != nil {
			return nil, err
		}
	}
	for i := range l.Endpoints {
		if err := add(src.Endpoints, "endpoints", &l.Endpoints[i]); err != nil {
			return nil, err
		}
	}
	r := NewReader(keys, src)
	if l.NamespacesListed {
		ns := cache.NewStore(cache.MetaNamespaceKeyFunc)
		for i := range l.Namespaces {
			if err := ns.Add(&l.Namespaces[i]); err != nil {
				return nil, fmt.Errorf("index namespaces: %w", err)
			}
		}
		r.SetNamespaces(ns)
	}
	return r, nil
}
