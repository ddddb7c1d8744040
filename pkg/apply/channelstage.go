package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// The channel stage and the status stage. A channel's status says its port is
// served and describes its ports annotation, so it waits for every stage before
// the channel stage and for the channel-stage writes to its own Service; it does
// not wait for the other channels' annotations. With a stage barrier between
// the two, 1,000 annotations and then 1,000 statuses took 2.4 s each on the
// bench's control plane, where the floor's 2,000 writes together took 3.1 s: the
// slowest answers of one stage left the workers idle before the next began.

// earlyStage is the part of the channel stage that runs beside the stages
// between the mux and the channels; its result is merged when it is waited for.
type earlyStage struct {
	start  chan struct{} // closed once the mux stage is done (release)
	once   sync.Once
	done   chan struct{}
	writes *channelAnswers // the early writes not yet answered, by object
	res    Result
	err    error
}

// release lets the early writes go; a nil one has none.
func (es *earlyStage) release() {
	if es != nil {
		es.once.Do(func() { close(es.start) })
	}
}

// target is the object a write is to (a status write's is its Service).
type target struct{ resource, namespace, name string }

func targetOf(w Write) target { return target{w.Resource, w.Namespace, w.Name} }

// startEarly starts the channel-stage writes that touch no object a stage between
// the state and the channels writes, once released, and returns the others, which
// keep their place.
func (e *Executor) startEarly(ctx context.Context, byStage map[Stage][]Write, slots chan struct{}) (*earlyStage, []Write) {
	between := map[target]bool{}
	for st, ws := range byStage {
		if st > StageState && st < StageChannels {
			for _, w := range ws {
				between[targetOf(w)] = true
			}
		}
	}
	var now, rest []Write
	for _, w := range byStage[StageChannels] {
		if between[targetOf(w)] {
			rest = append(rest, w)
		} else {
			now = append(now, w)
		}
	}
	es := &earlyStage{start: make(chan struct{}), done: make(chan struct{}), writes: newChannelAnswers(now),
		res: Result{Writes: map[Kind]int{}}}
	if len(byStage[StageMux]) == 0 {
		es.release() // no mux write to wait for
	}
	go func() {
		defer close(es.done)
		<-es.start
		if len(now) > 0 { // the guard is asked before each of them
			es.err = e.runStageWith(ctx, now, &es.res, slots, stageHooks{after: es.writes.finished})
		}
	}()
	return es, rest
}

// wait blocks until the early writes are done, merges what they did into res and
// returns their error. Run waits for each earlyStage once; a nil one has nothing
// to wait for.
func (es *earlyStage) wait(res *Result) error {
	if es == nil {
		return nil
	}
	<-es.done
	for k, n := range es.res.Writes {
		res.Writes[k] += n
	}
	res.Conflicts += es.res.Conflicts
	res.Applied = append(res.Applied, es.res.Applied...)
	res.Events = append(res.Events, es.res.Events...)
	res.Stages = append(res.Stages, es.res.Stages...)
	return es.err
}

// runChannelStages runs the rest of the channel stage (its writes to objects an
// earlier stage wrote, such as the mux's finalizer), then each channel status
// once its own Service's early writes are answered, and waits for the early
// writes. A failed channel-stage write stops every status not yet sent.
func (e *Executor) runChannelStages(ctx context.Context, res *Result, early *earlyStage, rest, statuses []Write, slots chan struct{}) error {
	early.release() // when there was no mux stage to wait for, it already was
	var channelErr, statusErr error
	if len(rest) > 0 {
		channelErr = e.runStage(ctx, rest, res, slots)
	}
	if channelErr == nil && len(statuses) > 0 {
		if err := e.guard(); err != nil {
			statusErr = fmt.Errorf("stage %d skipped: %w", StageChannelStatus, err)
		} else {
			ready := func(w Write) bool { return early.writes.await(ctx, w) }
			statusErr = e.runStageWith(ctx, statuses, res, slots, stageHooks{ready: ready})
		}
	}
	earlyErr := early.wait(res)
	switch {
	case channelErr != nil || earlyErr != nil:
		res.Failed = StageChannels
	case statusErr != nil:
		res.Failed = StageChannelStatus
	}
	return joinErrors(channelErr, earlyErr, statusErr)
}

// joinErrors joins the errors that are not nil, and returns one alone as it is,
// so a stage's own joined errors stay one list.
func joinErrors(errs ...error) error {
	var set []error
	for _, err := range errs {
		if err != nil {
			set = append(set, err)
		}
	}
	if len(set) == 1 {
		return set[0]
	}
	return errors.Join(set...)
}

// channelAnswers counts the early channel-stage writes not yet answered, per
// object, and tells whether one of them failed.
type channelAnswers struct {
	done   map[target]chan struct{} // closed once its object's writes are answered; read-only once made
	mu     sync.Mutex
	left   map[target]int
	failed chan struct{} // closed at the first failure
	fail   sync.Once
}

func newChannelAnswers(ws []Write) *channelAnswers {
	c := &channelAnswers{done: map[target]chan struct{}{}, left: map[target]int{}, failed: make(chan struct{})}
	for _, w := range ws {
		t := targetOf(w)
		if c.left[t] == 0 {
			c.done[t] = make(chan struct{})
		}
		c.left[t]++
	}
	return c
}

// finished records the answer to one of the writes. A failure is recorded before
// its object counts as done, so a status waiting for it sees the failure.
func (c *channelAnswers) finished(w Write, err error) {
	if err != nil {
		c.fail.Do(func() { close(c.failed) })
	}
	t := targetOf(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left[t]--; c.left[t] == 0 {
		close(c.done[t])
	}
}

// await blocks until the writes to w's object are answered and reports whether
// w may go: not once any of the writes failed. A cancelled context lets it go,
// to fail as every other write does.
func (c *channelAnswers) await(ctx context.Context, w Write) bool {
	if done := c.done[targetOf(w)]; done != nil {
		select {
		case <-done:
		case <-c.failed:
		case <-ctx.Done():
		}
	}
	select {
	case <-c.failed:
		return false
	default:
		return true
	}
}
