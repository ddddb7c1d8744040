package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// unseenWrites keeps, per work item, the writes the cache had not shown when the
// item's pass ended. They arise when the watch breaks (an API server restart)
// after a write landed and before its echo arrived: the informer relists once the
// API server is back, and a pass of that item planned before then would send them
// again. Only the item's own passes wait for them: a mux whose writes all showed
// is not held up by another mux's reconnecting watch or its deleted objects.
type unseenWrites struct {
	mu    sync.Mutex
	byKey map[string]map[string]unseenWrite // work item → object → its last write
}

type unseenWrite struct {
	apply.Applied
	at time.Time
}

func objectKey(a apply.Applied) string { return a.Resource + "/" + a.Namespace + "/" + a.Name }

// remember records the writes of key's pass that the cache did not show.
func (u *unseenWrites) remember(key string, unseen []apply.Applied) {
	if len(unseen) == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byKey == nil {
		u.byKey = map[string]map[string]unseenWrite{}
	}
	if u.byKey[key] == nil {
		u.byKey[key] = map[string]unseenWrite{}
	}
	for _, a := range unseen {
		u.byKey[key][objectKey(a)] = unseenWrite{Applied: a, at: time.Now()}
	}
}

// pending lists key's unseen writes.
func (u *unseenWrites) pending(key string) []apply.Applied {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]apply.Applied, 0, len(u.byKey[key]))
	for _, w := range u.byKey[key] {
		out = append(out, w.Applied)
	}
	return out
}

// settle forgets key's writes that are shown or too old to wait for, and returns
// how many are still behind. A write remembered again meanwhile is left as it is.
func (u *unseenWrites) settle(key string, checked []apply.Applied, shown func(apply.Applied) bool) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	behind := 0
	for _, a := range checked {
		k := objectKey(a)
		w, ok := u.byKey[key][k]
		switch {
		case !ok || w.Applied != a:
		case shown(a) || time.Since(w.at) > unseenMaxAge:
			delete(u.byKey[key], k)
		default:
			behind++
		}
	}
	if len(u.byKey[key]) == 0 {
		delete(u.byKey, key)
	}
	return behind
}

// unseenMaxAge bounds how long a write that never shows keeps its item's passes
// waiting; the cache always shows a landed write once its informer has relisted,
// so this only guards against the unforeseen (an object created and then deleted
// by someone else before the cache saw it).
const unseenMaxAge = time.Minute

// errCacheBehind fails a pass that would plan from a cache known to lack this
// agent's own writes; it is retried with backoff.
var errCacheBehind = errors.New("the informer cache does not show this agent's last writes yet (watch reconnecting?)")

// catchUp waits (at most cacheCatchUp) for the cache to show the writes earlier
// passes of key left unseen. If some still do not show, the pass must not plan
// from that view: errCacheBehind.
func (c *controller) catchUp(ctx context.Context, log *slog.Logger, key string) error {
	pending := c.unseen.pending(key)
	if len(pending) == 0 {
		return nil
	}
	c.awaitCache(ctx, log, pending)
	if behind := c.unseen.settle(key, pending, c.observed); behind > 0 {
		return fmt.Errorf("%w: %d object(s)", errCacheBehind, behind)
	}
	return nil
}

func (c *controller) observed(a apply.Applied) bool { return c.reader.Observed(snapshot.Written(a)) }

// cacheCatchUp bounds how long a pass waits for the informers to show its writes
// (a variable only so that tests can shorten it).
var cacheCatchUp = 5 * time.Second

// awaitCache waits until the informer cache shows this pass's writes. Without it the
// next pass (queued by those very writes' echoes arriving one by one) could plan
// from a half-updated cache and re-send patches that change nothing.
// It returns the writes still not shown when it gave up.
func (c *controller) awaitCache(ctx context.Context, log *slog.Logger, applied []apply.Applied) []apply.Applied {
	deadline := time.Now().Add(cacheCatchUp) // wall clock: tests may fix c.now
	for i, a := range applied {
		for !c.observed(a) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				log.Debug("cache has not caught up with our writes; going on", "object", a.Namespace+"/"+a.Name)
				return applied[i:]
			}
			select {
			case <-ctx.Done():
				return applied[i:]
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}
