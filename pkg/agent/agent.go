// Package agent is the svcmux controller process: client-go informers feed a
// workqueue keyed by mux; each pass reads the cache (pkg/snapshot), plans
// (pkg/plan), writes the difference (pkg/apply) and posts the plan's Events. Only
// the leader runs passes, and none runs before every cache has synced.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
	"github.com/nowakeai/svcmux/pkg/state"
	"github.com/nowakeai/svcmux/pkg/version"
)

// EventComponent is the source component of every Event the agent posts.
const EventComponent = "svcmux"

// Run runs the agent until ctx is done (clean shutdown, nil) or it loses the
// leader lease (an error: the process should exit and be restarted). cfg should
// have been completed (Config.Complete); Run validates it.
func Run(ctx context.Context, cfg Config) error {
	cfg.Complete(os.Getenv, os.ReadFile) // fills only what is still empty
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		var err error
		if log, err = NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat); err != nil {
			return err
		}
	}
	id := newIdentity()
	guard := newLeaseGuard(time.Now, cfg.RenewDeadline)
	restCfg, err := restConfig(cfg, id)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	if cfg.LeaderElect {
		restCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return guardedTransport{next: rt, check: guard.Check} })
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	return run(ctx, cfg, client, log, id, guard)
}

// restConfig is cfg.RestConfig, else the kubeconfig flag, else in-cluster, else the
// default loading rules, with the agent's rate limits and user agent. The user
// agent names the process's leader-election identity, so an audit log tells two
// replicas apart; the API server takes a field manager from the part before the
// first "/" (svcmux-agent) for the requests that name none.
func restConfig(cfg Config, id string) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	switch {
	case cfg.RestConfig != nil:
		rc = rest.CopyConfig(cfg.RestConfig)
	case cfg.Kubeconfig != "":
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	default:
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
		}
	}
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = cfg.KubeAPIQPS, cfg.KubeAPIBurst
	rc.UserAgent = "svcmux-agent/" + version.Version + " (" + id + ")"
	return rc, nil
}

// run is Run with a client, so tests can pass a fake clientset. id is the
// leader-election identity; guard is stamped by the election and checked by every
// write (leader election only).
func run(ctx context.Context, cfg Config, client kubernetes.Interface, log *slog.Logger, id string, guard *leaseGuard) error {
	// Informer factories' Shutdown needs their stop channel closed first; this
	// cancel (deferred last, so run first) guarantees it on every return path.
	ctx, cancel := context.WithCancel(ctx)
	keys := api.NewKeys(cfg.APIPrefix)
	m := newMetrics()
	var ready atomic.Bool
	watchdog := leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)

	log.Info("starting svcmux agent", "version", version.String(), "prefix", keys.Prefix,
		"defaultMuxNamespace", cfg.DefaultMuxNamespace, "endpointsMode", cfg.EndpointsMode,
		"dryRun", cfg.DryRun, "leaderElect", cfg.LeaderElect)

	strip := informers.WithTransform(stripManagedFields)
	all := informers.NewSharedInformerFactoryWithOptions(client, 0, strip)
	// The state ConfigMaps are found by label: the agent must not cache every
	// ConfigMap of the cluster. The Python controller always labelled them, and so
	// does svcmux; a ConfigMap a user named with <prefix>/allocation-configmap and
	// created without app.kubernetes.io/component=mux-state is not seen.
	states := informers.NewSharedInformerFactoryWithOptions(client, 0, strip,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = api.LabelComponent + "=" + api.ComponentMuxState
		}))
	// Only svcmux's (and the Python controller's) Endpoints matter: legacy mode and takeover.
	legacy := informers.NewSharedInformerFactoryWithOptions(client, 0, strip,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = api.LabelManagedBy + "=" + api.AppName
		}))
	defer func() {
		all.Shutdown()
		states.Shutdown()
		legacy.Shutdown()
	}()
	defer cancel()

	svcInf := all.Core().V1().Services().Informer()
	sliceInf := all.Discovery().V1().EndpointSlices().Informer()
	cmInf := states.Core().V1().ConfigMaps().Informer()
	epInf := legacy.Core().V1().Endpoints().Informer()
	if err := svcInf.AddIndexers(snapshot.ServiceIndexers(keys, cfg.DefaultMuxNamespace)); err != nil {
		return fmt.Errorf("index services: %w", err)
	}
	if err := sliceInf.AddIndexers(snapshot.EndpointSliceIndexers()); err != nil {
		return fmt.Errorf("index endpointslices: %w", err)
	}
	reader := snapshot.NewReader(keys, snapshot.Sources{
		Services: svcInf.GetIndexer(), EndpointSlices: sliceInf.GetIndexer(),
		ConfigMaps: cmInf.GetIndexer(), Endpoints: epInf.GetIndexer(),
	})

	var recorder record.EventRecorder
	if !cfg.DryRun {
		// The poster already drops repeats, so the correlator's per-object spam
		// filter (25 events, then one per 5 minutes) would only lose real news on a
		// busy mux; it stays as a backstop with a larger bucket.
		broadcaster := record.NewBroadcaster(record.WithCorrelatorOptions(record.CorrelatorOptions{BurstSize: 100, QPS: 0.1}))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})
	}
	events := newEventPoster(recorder, log, m)

	queue := newQueue()
	defer queue.ShutDown()
	m.registerQueue(queue)
	mapper := &keyMapper{keys: keys, defaultNamespace: cfg.DefaultMuxNamespace, reader: reader}
	// Changes that arrive together (a Deployment's pods turning ready, a batch of
	// channels applied by GitOps) are planned in one pass: a key waits a short
	// window before it is handed to a worker, and repeats within it merge.
	enqueue := queue.Add
	if cfg.CoalesceWindow > 0 {
		enqueue = func(key string) { queue.AddAfter(key, cfg.CoalesceWindow) }
	}
	handler := eventHandler(mapper, enqueue, events.forget)
	var synced []cache.InformerSynced
	for _, w := range []struct {
		name string
		inf  cache.SharedIndexInformer
	}{{"services", svcInf}, {"endpointslices", sliceInf}, {"configmaps", cmInf}, {"endpoints", epInf}} {
		reg, err := w.inf.AddEventHandler(handler)
		if err != nil {
			return fmt.Errorf("watch %s: %w", w.name, err)
		}
		// Synced once the initial list has reached the handler, so every existing
		// object's key is queued before the first pass.
		synced = append(synced, reg.HasSynced)
	}

	servers, err := startHTTP(log, []endpoint{
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
	if err != nil {
		return err
	}
	defer servers.shutdown()

	m.startup.WithLabelValues("list").SetToCurrentTime()
	all.Start(ctx.Done())
	states.Start(ctx.Done())
	legacy.Start(ctx.Done())
	log.Info("waiting for informer caches to sync")
	// No pass, hence no write, before every cache is complete: a partial view
	// would prune claims of channels not yet seen.
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("informer caches did not sync")
	}
	if !cfg.DryRun {
		if own, err := listOwnEvents(ctx, client); err != nil {
			log.Warn("could not read earlier events; standing warnings may be posted again", "error", err)
		} else {
			log.Debug("remembered earlier events", "count", events.seed(own))
		}
	}
	ready.Store(true)
	m.startup.WithLabelValues("synced").SetToCurrentTime()
	log.Info("informer caches synced", "queued", queue.Len())

	c := &controller{
		log: log, dryRun: cfg.DryRun, reader: reader, queue: queue, events: events, metrics: m, now: time.Now,
		opts: plan.Options{Keys: keys, DefaultMuxNamespace: cfg.DefaultMuxNamespace, EndpointsMode: plan.EndpointsMode(cfg.EndpointsMode),
			StateCache: state.NewCache()},
		namespaces: &namespaceWatch{enabled: cfg.NamespaceSelector, client: client, reader: reader, keys: keys, enqueue: enqueue, log: log},
	}
	exec := &apply.Executor{Client: client, DryRun: cfg.DryRun, Workers: cfg.ChannelWriteConcurrency}
	c.exec = exec
	if !cfg.LeaderElect {
		m.leader.Set(1)
		c.run(ctx, cfg.Workers)
		log.Info("stopped")
		return nil
	}
	exec.Guard = guard.Check
	return lead(ctx, cfg, client, log, id, guard, watchdog, m, func(ctx context.Context) { c.run(ctx, cfg.Workers) })
}
