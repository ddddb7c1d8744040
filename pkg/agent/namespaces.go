package agent

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// namespaceWatch starts a Namespace informer the first time a mux uses
// <prefix>/allowed-namespace-selector (SPEC §10: only then), when the agent is
// allowed to (--namespace-selector; the chart grants the RBAC with it). Until it
// has synced, selector muxes are not planned: labels read from a partial cache
// would revoke namespaces that are merely not seen yet.
type namespaceWatch struct {
	enabled bool
	client  kubernetes.Interface
	reader  *snapshot.Reader
	keys    api.Keys
	enqueue func(string)
	log     *slog.Logger

	once   sync.Once
	synced atomic.Bool
}

// ready reports whether a selector mux may be planned now. The first call starts
// the watch; when it has synced, every selector mux is queued again. Disabled,
// it is always ready: the reader has no Namespaces and the planner says why.
func (w *namespaceWatch) ready(ctx context.Context) bool {
	if w == nil || !w.enabled {
		return true
	}
	w.once.Do(func() { w.start(ctx) })
	return w.synced.Load()
}

func (w *namespaceWatch) start(ctx context.Context) {
	w.log.Info("a mux uses a namespace selector; watching Namespaces")
	factory := informers.NewSharedInformerFactoryWithOptions(w.client, 0, informers.WithTransform(stripManagedFields))
	inf := factory.Core().V1().Namespaces().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.wakeSelectorMuxes() },
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.Namespace)
			n, ok2 := newObj.(*corev1.Namespace)
			if !ok1 || !ok2 || !maps.Equal(o.Labels, n.Labels) {
				w.wakeSelectorMuxes()
			}
		},
		DeleteFunc: func(any) { w.wakeSelectorMuxes() },
	}); err != nil {
		w.log.Error("could not watch Namespaces", "error", err)
		return
	}
	factory.Start(ctx.Done())
	go func() {
		defer factory.Shutdown()
		if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			w.reader.SetNamespaces(inf.GetStore())
			w.synced.Store(true)
			w.log.Info("namespace cache synced")
			w.wakeSelectorMuxes()
		}
		<-ctx.Done()
	}()
}

// wakeSelectorMuxes queues every mux whose admission reads Namespace labels.
// Before the cache has synced there is nothing to tell them yet.
func (w *namespaceWatch) wakeSelectorMuxes() {
	if !w.synced.Load() {
		return
	}
	for _, m := range w.reader.Muxes() {
		if plan.UsesNamespaceSelector(m, w.keys) {
			w.enqueue(muxKey(api.MuxRef{Namespace: m.Namespace, Name: m.Name}))
		}
	}
}
