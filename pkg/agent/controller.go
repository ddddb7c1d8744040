package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/util/workqueue"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// executor is what a pass needs from apply.Executor; tests substitute a recorder.
type executor interface {
	Run(ctx context.Context, writes []apply.Write) (apply.Result, error)
}

// controller turns work item keys into passes. A pass reads only the informer
// cache (level-triggered: a missed notification is harmless, the next one sees the
// whole state), plans, writes the difference and posts the plan's Events.
type controller struct {
	log     *slog.Logger
	opts    plan.Options // Now is set per pass
	dryRun  bool
	reader  *snapshot.Reader
	queue   workqueue.TypedRateLimitingInterface[string]
	exec    executor
	events  *eventPoster
	metrics *metrics
	now     func() time.Time
	// namespaces is the lazily started Namespace watch; nil in tests without one.
	namespaces *namespaceWatch

	// unseen are this agent's writes the cache had not shown when their pass
	// ended, which the next passes of the same work item wait for first.
	unseen unseenWrites
}

func newQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "svcmux"})
}

// run processes the queue with n workers until ctx is done, then shuts the queue
// down and returns only after every worker has finished its pass: the caller may
// release the leader lease right after.
func (c *controller) run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if ctx.Err() != nil {
		// Stopping: start no pass. The next leader queues everything from its own informers.
		return false
	}
	if err := c.sync(ctx, key); err != nil {
		switch {
		case ctx.Err() != nil:
			// Stopping: the error is the cancellation itself.
		case apierrors.IsConflict(err):
			// Another writer got there first; the next pass reads its result.
			c.log.Info("write conflict; retrying", "key", key, "retries", c.queue.NumRequeues(key), "error", err)
		default:
			c.log.Warn("pass failed; retrying with backoff", "key", key, "retries", c.queue.NumRequeues(key), "error", err)
		}
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync runs one pass for key. NotFound is not an error: the object is gone and
// its absence is planned like any other state.
func (c *controller) sync(ctx context.Context, key string) (err error) {
	isChannel, namespace, name, ok := parseKey(key)
	if !ok {
		utilruntime.HandleErrorWithContext(ctx, nil, "dropping malformed work item", "key", key)
		return nil
	}
	kind := passMux
	if isChannel {
		kind = passChannel
	}
	start := c.now()
	defer func() {
		c.metrics.duration.WithLabelValues(kind).Observe(c.now().Sub(start).Seconds())
		result := resultSuccess
		switch {
		case apierrors.IsConflict(err):
			result = resultConflict
		case err != nil:
			result = resultError
		}
		c.metrics.passes.WithLabelValues(kind, result).Inc()
		if !isChannel {
			c.metrics.muxPasses.WithLabelValues(namespace, name).Inc()
		}
	}()
	if err := c.catchUp(ctx, c.log.With("key", key), key); err != nil {
		return err
	}
	opts := c.opts
	// The API stores times in seconds; a sub-second Now would never compare equal.
	opts.Now = metav1.NewTime(c.now().Truncate(time.Second))
	if isChannel {
		return c.syncChannel(ctx, opts, namespace, name)
	}
	return c.syncMux(ctx, opts, api.MuxRef{Namespace: namespace, Name: name})
}

// syncMux plans a mux. When ref is not (or no longer) a mux, the channels whose
// class names it are planned as unattached: their mux is not found.
func (c *controller) syncMux(ctx context.Context, opts plan.Options, ref api.MuxRef) error {
	log := c.log.With("mux", ref.String())
	mux, err := c.reader.Mux(ref)
	if err != nil {
		c.metrics.errors.WithLabelValues("snapshot").Inc()
		return err
	}
	if mux == nil {
		c.metrics.forgetMux(ref)
		return c.syncOrphans(ctx, opts, ref, log)
	}
	if plan.UsesNamespaceSelector(mux, c.opts.Keys) && !c.namespaces.ready(ctx) {
		// Queued again once the Namespace cache has synced.
		log.Debug("namespace cache not synced yet; the selector mux waits")
		return nil
	}
	snap, err := c.reader.Snapshot(mux)
	if err != nil {
		c.metrics.errors.WithLabelValues("snapshot").Inc()
		return err
	}
	p := plan.Compute(snap, opts)
	writes := apply.Diff(p, snap)
	if p.Frozen {
		log.Debug("mux frozen: nothing but events is applied", "reason", p.FrozenReason)
	}
	failed, err := c.write(ctx, log, muxKey(ref), writes)
	covered := []plan.ObjectRef{p.Mux}
	for _, o := range p.Channels {
		covered = append(covered, o.Channel)
	}
	if err != nil {
		// What the pass did is told even when a later stage failed: the next pass
		// finds those writes done and would never report them.
		var done []plan.Event
		for _, e := range p.Events {
			if e.Type != api.EventNormal || apply.EventStage(e.Reason) < failed {
				done = append(done, e)
			}
		}
		c.events.post(covered, done)
		return fmt.Errorf("reconcile mux %s: %w", ref, err)
	}
	c.metrics.observeMux(ref, p.Stats)
	c.events.post(covered, p.Events)
	return nil
}

// syncOrphans plans the channels of a mux that does not exist (MuxNotFound).
func (c *controller) syncOrphans(ctx context.Context, opts plan.Options, ref api.MuxRef, log *slog.Logger) error {
	channels, err := c.reader.Channels(ref)
	if err != nil {
		c.metrics.errors.WithLabelValues("snapshot").Inc()
		return err
	}
	var writes []apply.Write
	var covered []plan.ObjectRef
	var events []plan.Event
	for _, svc := range channels {
		out, evs := plan.Unattached(svc, opts, false)
		writes = append(writes, apply.DiffUnattached(out, svc, opts.Keys)...)
		covered = append(covered, out.Channel)
		events = append(events, evs...)
	}
	if _, err := c.write(ctx, log, muxKey(ref), writes); err != nil {
		return fmt.Errorf("reconcile channels of missing mux %s: %w", ref, err)
	}
	c.events.post(covered, events)
	return nil
}

// syncChannel plans a Service no mux pass covers. A channel whose class names an
// existing mux is that mux's business, so it is left alone here.
func (c *controller) syncChannel(ctx context.Context, opts plan.Options, namespace, name string) error {
	log := c.log.With("channel", namespace+"/"+name)
	svc, err := c.reader.Service(namespace, name)
	if err != nil {
		c.metrics.errors.WithLabelValues("snapshot").Inc()
		return err
	}
	if svc == nil {
		return nil
	}
	if ref, isChannel, perr := plan.ChannelMux(svc, opts.Keys, opts.DefaultMuxNamespace); isChannel && perr == nil {
		mux, err := c.reader.Mux(ref)
		if err != nil {
			c.metrics.errors.WithLabelValues("snapshot").Inc()
			return err
		}
		if mux != nil {
			return nil
		}
	}
	// Either the class does not parse, its mux does not exist, or svc is a former
	// channel with leftovers: in each case no mux was found for it.
	out, events := plan.Unattached(svc, opts, false)
	if _, err := c.write(ctx, log, channelKey(namespace, name), apply.DiffUnattached(out, svc, opts.Keys)); err != nil {
		return fmt.Errorf("reconcile channel %s/%s: %w", namespace, name, err)
	}
	c.events.post([]plan.ObjectRef{out.Channel}, events)
	return nil
}

// write runs the writes of the pass for key and counts them; in dry-run it logs
// what it would do. On error it also returns the stage that failed.
func (c *controller) write(ctx context.Context, log *slog.Logger, key string, writes []apply.Write) (apply.Stage, error) {
	if len(writes) == 0 {
		return -1, nil
	}
	for _, w := range writes {
		if c.dryRun {
			log.Info("dry-run: would write", "write", w.String())
		} else {
			log.Debug("writing", "write", w.String())
		}
	}
	res, err := c.exec.Run(ctx, writes)
	c.metrics.observeWrites(res)
	c.events.postWriteEvents(res.Events)
	// Also when a later write failed: the retry must not plan from a cache that
	// lacks the writes that did land, or it sends them again.
	c.unseen.remember(key, c.awaitCache(ctx, log, res.Applied))
	if err != nil {
		c.metrics.errors.WithLabelValues("apply").Inc()
		return res.Failed, err
	}
	log.Info("pass applied", "writes", len(writes), "dryRun", c.dryRun, "stages", stageTimes(res.Stages))
	return -1, nil
}

// stageTimes is a pass's stage durations as one log value: "state:1/3ms mux:1/150ms".
func stageTimes(stages []apply.StageTime) string {
	parts := make([]string, len(stages))
	for i, st := range stages {
		parts[i] = fmt.Sprintf("%s:%d/%v", st.Stage, st.Writes, st.Took.Round(time.Millisecond))
	}
	return strings.Join(parts, " ")
}
