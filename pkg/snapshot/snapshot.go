// Package snapshot is svcmux's only read side: from informer caches (the agent) or
// from one List per kind (the kubectl plugin) it gathers what plan.Compute needs for
// one mux. It reads; it never writes and never mutates an object it returns: the
// pointers come straight from the cache, and the planner treats them as read-only.
package snapshot

import (
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Index names. They are registered on the informers before they start, so a pass
// finds a mux's channels and a Service's slices without scanning every object.
const (
	// IndexMux maps a channel Service to the "ns/name" of the mux its class names.
	IndexMux = "svcmux.nowake.ai/mux"
	// IndexStateConfigMap maps a mux Service to "ns/name" of its state ConfigMap, so a
	// ConfigMap event finds its mux even under a user-chosen or hashed name.
	IndexStateConfigMap = "svcmux.nowake.ai/state-configmap"
	// IndexService maps an EndpointSlice to "ns/<kubernetes.io/service-name>".
	IndexService = "svcmux.nowake.ai/service"
)

// ServiceIndexers index channel Services by the mux their loadBalancerClass names
// and muxes by their state ConfigMap. A class that does not parse is not indexed:
// such a channel is attached to no mux and is handled on its own (plan.Unattached).
func ServiceIndexers(keys api.Keys, defaultMuxNamespace string) cache.Indexers {
	return cache.Indexers{
		IndexMux: func(obj any) ([]string, error) {
			svc, ok := obj.(*corev1.Service)
			if !ok {
				return nil, nil
			}
			ref, isChannel, err := plan.ChannelMux(svc, keys, defaultMuxNamespace)
			if !isChannel || err != nil {
				return nil, nil
			}
			return []string{ref.String()}, nil
		},
		IndexStateConfigMap: func(obj any) ([]string, error) {
			svc, ok := obj.(*corev1.Service)
			if !ok || !plan.IsMux(svc, keys) {
				return nil, nil
			}
			return []string{svc.Namespace + "/" + plan.StateConfigMapName(svc, keys)}, nil
		},
	}
}

// EndpointSliceIndexers index EndpointSlices by the Service they belong to.
func EndpointSliceIndexers() cache.Indexers {
	return cache.Indexers{IndexService: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		name := s.Labels[api.LabelServiceName]
		if name == "" {
			return nil, nil
		}
		return []string{s.Namespace + "/" + name}, nil
	}}
}

// Sources are the stores a Reader reads. Services must carry ServiceIndexers and
// EndpointSlices EndpointSliceIndexers. ConfigMaps and Endpoints may be filtered
// (the agent watches only labelled ones); a nil store reads as empty.
type Sources struct {
	Services       cache.Indexer
	EndpointSlices cache.Indexer
	ConfigMaps     cache.Indexer
	Endpoints      cache.Indexer
}

// Reader builds plan snapshots from Sources.
type Reader struct {
	keys       api.Keys
	src        Sources
	namespaces atomic.Pointer[namespaceStore]
}

// NewReader reads src with the annotation keys of one prefix.
func NewReader(keys api.Keys, src Sources) *Reader {
	return &Reader{keys: keys, src: src}
}

// Service returns the Service ns/name, or nil when it does not exist.
func (r *Reader) Service(namespace, name string) (*corev1.Service, error) {
	return get[*corev1.Service](r.src.Services, namespace, name)
}

// Mux returns the Service ref names when it is an annotated mux, else nil.
func (r *Reader) Mux(ref api.MuxRef) (*corev1.Service, error) {
	svc, err := r.Service(ref.Namespace, ref.Name)
	if err != nil || !plan.IsMux(svc, r.keys) {
		return nil, err
	}
	return svc, nil
}

// Muxes returns every annotated mux Service, sorted by namespace/name.
func (r *Reader) Muxes() []*corev1.Service {
	var out []*corev1.Service
	for _, obj := range r.src.Services.List() {
		if svc, ok := obj.(*corev1.Service); ok && plan.IsMux(svc, r.keys) {
			out = append(out, svc)
		}
	}
	sortByName(out)
	return out
}

// MuxesWithStateConfigMap returns the muxes whose state ConfigMap is ns/name.
func (r *Reader) MuxesWithStateConfigMap(namespace, name string) ([]*corev1.Service, error) {
	out, err := byIndex[*corev1.Service](r.src.Services, IndexStateConfigMap, namespace+"/"+name)
	if err != nil {
		return nil, fmt.Errorf("find muxes of configmap %s/%s: %w", namespace, name, err)
	}
	sortByName(out)
	return out, nil
}

// Channels returns the Services whose class names ref, sorted by namespace/name,
// whether or not ref exists as a mux.
func (r *Reader) Channels(ref api.MuxRef) ([]*corev1.Service, error) {
	out, err := byIndex[*corev1.Service](r.src.Services, IndexMux, ref.String())
	if err != nil {
		return nil, fmt.Errorf("list channels of mux %s: %w", ref, err)
	}
	sortByName(out)
	return out, nil
}

// Snapshot gathers everything plan.Compute reads for mux. Slices are sorted by
// namespace/name so that a plan does not depend on map order in the cache.
func (r *Reader) Snapshot(mux *corev1.Service) (plan.Snapshot, error) {
	ref := api.MuxRef{Namespace: mux.Namespace, Name: mux.Name}
	s := plan.Snapshot{Mux: mux}
	var err error
	if s.Channels, err = r.Channels(ref); err != nil {
		return plan.Snapshot{}, err
	}
	for _, ch := range s.Channels {
		slices, err := r.slicesOf(ch.Namespace, ch.Name)
		if err != nil {
			return plan.Snapshot{}, err
		}
		s.ChannelSlices = append(s.ChannelSlices, slices...)
	}
	if s.Namespaces, err = r.namespaceLabels(mux, s.Channels); err != nil {
		return plan.Snapshot{}, err
	}
	if s.MuxSlices, err = r.slicesOf(mux.Namespace, mux.Name); err != nil {
		return plan.Snapshot{}, err
	}
	if s.MuxEndpoints, err = get[*corev1.Endpoints](r.src.Endpoints, mux.Namespace, mux.Name); err != nil {
		return plan.Snapshot{}, fmt.Errorf("get endpoints %s: %w", ref, err)
	}
	cm := plan.StateConfigMapName(mux, r.keys)
	if s.StateConfigMap, err = get[*corev1.ConfigMap](r.src.ConfigMaps, mux.Namespace, cm); err != nil {
		return plan.Snapshot{}, fmt.Errorf("get state configmap %s/%s: %w", mux.Namespace, cm, err)
	}
	s.NodePortHolder = r.nodePortHolder(mux)
	return s, nil
}

func (r *Reader) slicesOf(namespace, service string) ([]*discoveryv1.EndpointSlice, error) {
	out, err := byIndex[*discoveryv1.EndpointSlice](r.src.EndpointSlices, IndexService, namespace+"/"+service)
	if err != nil {
		return nil, fmt.Errorf("list endpointslices of %s/%s: %w", namespace, service, err)
	}
	sortByName(out)
	return out, nil
}

// Written is one write of this agent as the API server left it: the object's
// resourceVersion after the write (empty for a delete), and whether the write
// created or deleted the object.
type Written struct {
	Resource        string
	Namespace       string
	Name            string
	ResourceVersion string
	Deleted         bool
	Created         bool
}

// Observed reports whether the cache already shows a write: the object is gone
// after a delete, or carries the written resourceVersion — or a later one, since
// another writer may have moved it on (resourceVersions are etcd revisions, so a
// numeric comparison is a safe heuristic; an unparsable one counts as seen). An
// object the cache no longer holds after an update or patch was deleted by someone
// else since: the cache is past the write. Only a create can be missing because
// the cache is behind.
func (r *Reader) Observed(w Written) bool {
	var store cache.Indexer
	switch w.Resource {
	case "services":
		store = r.src.Services
	case "endpointslices":
		store = r.src.EndpointSlices
	case "configmaps":
		store = r.src.ConfigMaps
	case "endpoints":
		store = r.src.Endpoints
	}
	if store == nil {
		return true
	}
	obj, ok, err := store.GetByKey(w.Namespace + "/" + w.Name)
	if err != nil {
		return true
	}
	switch {
	case w.Deleted:
		return !ok
	case !ok:
		return !w.Created
	}
	m, isMeta := obj.(metav1.Object)
	if !isMeta {
		return true
	}
	have, err1 := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	want, err2 := strconv.ParseUint(w.ResourceVersion, 10, 64)
	return err1 != nil || err2 != nil || have >= want
}

// get reads ns/name from store; absent (or no store) is nil without error.
func get[T any](store cache.Indexer, namespace, name string) (T, error) {
	var zero T
	if store == nil {
		return zero, nil
	}
	obj, ok, err := store.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("object %s/%s in the cache is %T, not %T", namespace, name, obj, zero)
	}
	return t, nil
}

func byIndex[T any](store cache.Indexer, index, value string) ([]T, error) {
	if store == nil {
		return nil, nil
	}
	objs, err := store.ByIndex(index, value)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, obj := range objs {
		if t, ok := obj.(T); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

type named interface {
	GetNamespace() string
	GetName() string
}

// sortByName reorders the slice of pointers, never the objects themselves.
func sortByName[T named](objs []T) {
	sort.Slice(objs, func(i, j int) bool {
		if a, b := objs[i].GetNamespace(), objs[j].GetNamespace(); a != b {
			return a < b
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}
