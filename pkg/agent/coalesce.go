package agent

import (
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// coalesceMaxWindows bounds how long a key whose changes keep coming waits: at
// most this many windows after its first change, it is queued anyway.
const coalesceMaxWindows = 10

// coalescing is how handlers queue a key. Changes that arrive together (a
// Deployment's pods turning ready, a batch of channels applied by GitOps) are
// planned in one pass: a key is queued once its changes have paused for window,
// or coalesceMaxWindows windows after the first of them if they never pause.
// Without the pause a stream of channels applied over many seconds would get a
// pass, and so a mux write and a state write (each one also a cloud load-balancer
// update), every window; with only the pause, a stream that never stops would
// never be planned.
func coalescing(queue workqueue.TypedRateLimitingInterface[string], window time.Duration) func(string) {
	if window <= 0 {
		return queue.Add
	}
	c := &coalescer{add: queue.Add, window: window, limit: coalesceMaxWindows * window, pending: map[string]*pendingKey{}}
	return c.change
}

type coalescer struct {
	add           func(string)
	window, limit time.Duration

	mu      sync.Mutex
	pending map[string]*pendingKey
}

// pendingKey is a key changed since it was last queued.
type pendingKey struct {
	first, due time.Time
	timer      *time.Timer
}

// change notes a change of key and (re)arms its timer for the pause.
func (c *coalescer) change(key string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[key]
	if p == nil {
		p = &pendingKey{first: now}
		c.pending[key] = p
	}
	p.due = now.Add(c.window)
	if limit := p.first.Add(c.limit); p.due.After(limit) {
		p.due = limit
	}
	if p.timer == nil {
		p.timer = time.AfterFunc(p.due.Sub(now), func() { c.fire(key) })
		return
	}
	p.timer.Reset(p.due.Sub(now))
}

// fire queues key once it is due; a timer that fired just before a change moved
// the due time on is re-armed instead.
func (c *coalescer) fire(key string) {
	c.mu.Lock()
	p := c.pending[key]
	if p == nil {
		c.mu.Unlock()
		return
	}
	if wait := time.Until(p.due); wait > 0 {
		p.timer.Reset(wait)
		c.mu.Unlock()
		return
	}
	delete(c.pending, key)
	c.mu.Unlock()
	c.add(key)
}
