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

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
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
	// Protobuf, as the kube components use: every object the agent reads comes
	// through its watches, and decoding (and, on the server, encoding) protobuf
	// costs a fraction of JSON's CPU, which on a small control plane is the CPU
	// the API server needs for the writes. Patch bodies stay JSON by patch type.
	rc.ContentType = runtime.ContentTypeProtobuf
	rc.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
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

	caches, err := newCaches(client, keys, cfg.DefaultMuxNamespace)
	if err != nil {
		cancel()
		return err
	}
	defer caches.shutdown()
	defer cancel()
	reader := caches.reader(keys)
	recorder, stopRecorder := newRecorder(cfg.DryRun, client)
	defer stopRecorder()
	events := newEventPoster(recorder, log, m)
	queue := newQueue()
	defer queue.ShutDown()
	m.registerQueue(queue)
	enqueue := coalescing(queue, cfg.CoalesceWindow)
	mapper := &keyMapper{keys: keys, defaultNamespace: cfg.DefaultMuxNamespace, reader: reader}
	synced, err := caches.watch(eventHandler(mapper, enqueue, events.forget))
	if err != nil {
		return err
	}
	servers, err := serveHTTP(cfg, log, m, watchdog, &ready)
	if err != nil {
		return err
	}
	defer servers.shutdown()

	m.startup.WithLabelValues("list").SetToCurrentTime()
	caches.start(ctx)
	log.Info("waiting for informer caches to sync")
	if ok, err := waitSynced(ctx, synced); !ok {
		return err
	}
	rememberEvents(ctx, cfg.DryRun, client, events, log)
	ready.Store(true)
	m.startup.WithLabelValues("synced").SetToCurrentTime()
	log.Info("informer caches synced", "queued", queue.Len())

	exec := &apply.Executor{Client: client, DryRun: cfg.DryRun, Workers: cfg.ChannelWriteConcurrency, MuxWorkers: cfg.MuxWriteConcurrency}
	c := &controller{
		log: log, dryRun: cfg.DryRun, reader: reader, queue: queue, events: events, metrics: m, now: time.Now, exec: exec,
		opts: plan.Options{Keys: keys, DefaultMuxNamespace: cfg.DefaultMuxNamespace, EndpointsMode: plan.EndpointsMode(cfg.EndpointsMode),
			StateCache: state.NewCache(), Cache: plan.NewCache()},
		namespaces: &namespaceWatch{enabled: cfg.NamespaceSelector, client: client, reader: reader, keys: keys, enqueue: enqueue, log: log},
	}
	if !cfg.LeaderElect {
		m.leader.Set(1)
		c.run(ctx, cfg.Workers)
		log.Info("stopped")
		return nil
	}
	exec.Guard = guard.Check
	return lead(ctx, cfg, client, log, id, guard, watchdog, m, func(ctx context.Context) { c.run(ctx, cfg.Workers) })
}
