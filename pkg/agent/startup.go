package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// caches are the agent's informers: every Service and EndpointSlice, and only the
// labelled state ConfigMaps and Endpoints.
type caches struct {
	factories                               []informers.SharedInformerFactory
	services, slices, configMaps, endpoints cache.SharedIndexInformer
}

// newCaches builds the informers (not started) with the indexes snapshot reads by.
func newCaches(client kubernetes.Interface, keys api.Keys, defaultMuxNamespace string) (*caches, error) {
	strip := informers.WithTransform(stripManagedFields)
	labelled := func(selector string) informers.SharedInformerOption {
		return informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector })
	}
	all := informers.NewSharedInformerFactoryWithOptions(client, 0, strip)
	// The state ConfigMaps are found by label: the agent must not cache every
	// ConfigMap of the cluster. The Python controller always labelled them, and so
	// does svcmux; a ConfigMap a user named with <prefix>/allocation-configmap and
	// created without app.kubernetes.io/component=mux-state is not seen.
	states := informers.NewSharedInformerFactoryWithOptions(client, 0, strip, labelled(api.LabelComponent+"="+api.ComponentMuxState))
	// Only svcmux's (and the Python controller's) Endpoints matter: legacy mode and takeover.
	legacy := informers.NewSharedInformerFactoryWithOptions(client, 0, strip, labelled(api.LabelManagedBy+"="+api.AppName))
	c := &caches{
		factories:  []informers.SharedInformerFactory{all, states, legacy},
		services:   all.Core().V1().Services().Informer(),
		slices:     all.Discovery().V1().EndpointSlices().Informer(),
		configMaps: states.Core().V1().ConfigMaps().Informer(),
		endpoints:  legacy.Core().V1().Endpoints().Informer(),
	}
	if err := c.services.AddIndexers(snapshot.ServiceIndexers(keys, defaultMuxNamespace)); err != nil {
		return nil, fmt.Errorf("index services: %w", err)
	}
	if err := c.slices.AddIndexers(snapshot.EndpointSliceIndexers()); err != nil {
		return nil, fmt.Errorf("index endpointslices: %w", err)
	}
	return c, nil
}

func (c *caches) reader(keys api.Keys) *snapshot.Reader {
	return snapshot.NewReader(keys, snapshot.Sources{
		Services: c.services.GetIndexer(), EndpointSlices: c.slices.GetIndexer(),
		ConfigMaps: c.configMaps.GetIndexer(), Endpoints: c.endpoints.GetIndexer(),
	})
}

// watch registers handler on every informer. The returned functions report synced
// once the initial list has reached the handler, so every existing object's key
// is queued before the first pass.
func (c *caches) watch(handler cache.ResourceEventHandler) ([]cache.InformerSynced, error) {
	var synced []cache.InformerSynced
	for _, w := range []struct {
		name string
		inf  cache.SharedIndexInformer
	}{{"services", c.services}, {"endpointslices", c.slices}, {"configmaps", c.configMaps}, {"endpoints", c.endpoints}} {
		reg, err := w.inf.AddEventHandler(handler)
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", w.name, err)
		}
		synced = append(synced, reg.HasSynced)
	}
	return synced, nil
}

func (c *caches) start(ctx context.Context) {
	for _, f := range c.factories {
		f.Start(ctx.Done())
	}
}

// shutdown waits for the informers; their stop channel must be closed first.
func (c *caches) shutdown() {
	for _, f := range c.factories {
		f.Shutdown()
	}
}

// waitSynced blocks until every cache is complete: no pass, hence no write, runs
// before, since a partial view would prune claims of channels not yet seen. It
// returns false when ctx ended first (err nil) or the caches never synced.
func waitSynced(ctx context.Context, synced []cache.InformerSynced) (bool, error) {
	if cache.WaitForCacheSync(ctx.Done(), synced...) {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, nil
	}
	return false, errors.New("informer caches did not sync")
}

// newRecorder is the Event recorder (nil in dry-run) and its shutdown.
func newRecorder(dryRun bool, client kubernetes.Interface) (record.EventRecorder, func()) {
	if dryRun {
		return nil, func() {}
	}
	// The poster already drops repeats, so the correlator's per-object spam filter
	// (25 events, then one per 5 minutes) would only lose real news on a busy mux;
	// it stays as a backstop with a larger bucket.
	broadcaster := record.NewBroadcaster(record.WithCorrelatorOptions(record.CorrelatorOptions{BurstSize: 100, QPS: 0.1}))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent}), broadcaster.Shutdown
}

// rememberEvents seeds the poster with the Events the agent posted before, so a
// restart does not post its standing warnings again.
func rememberEvents(ctx context.Context, dryRun bool, client kubernetes.Interface, events *eventPoster, log *slog.Logger) {
	if dryRun {
		return
	}
	own, err := listOwnEvents(ctx, client)
	if err != nil {
		log.Warn("could not read earlier events; standing warnings may be posted again", "error", err)
		return
	}
	log.Debug("remembered earlier events", "count", events.seed(own))
}

// serveHTTP serves /metrics, /healthz (the leader renews its Lease) and /readyz
// (caches synced).
func serveHTTP(cfg Config, log *slog.Logger, m *metrics, watchdog *leaderelection.HealthzAdaptor, ready *atomic.Bool) (*httpServers, error) {
	return startHTTP(log, []endpoint{
		{addr: cfg.MetricsBindAddress, path: "/metrics", handler: m.handler()},
		{addr: cfg.HealthProbeBindAddress, path: "/healthz", handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := watchdog.Check(r); err != nil {
				http.Error(w, "leader lease not renewed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})},
		{addr: cfg.HealthProbeBindAddress, path: "/readyz", handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !ready.Load() {
				http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})},
	})
}
