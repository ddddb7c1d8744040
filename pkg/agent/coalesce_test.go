package agent

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

// queued is a key handed to the queue, and when (from the start of the test).
type queued struct {
	key string
	at  time.Duration
}

func TestAKeyIsQueuedOnceItsChangesPauseOrTenWindowsAfterTheFirst(t *testing.T) {
	const window = 100 * time.Millisecond
	type change = changeAt
	tests := []struct {
		name    string
		changes []change
		want    []queued
	}{
		{"one change is queued one window later",
			[]change{{"a/mux", 0}},
			[]queued{{"a/mux", window}}},
		{"changes closer than a window share one queueing, a window after the last",
			[]change{{"a/mux", 0}, {"a/mux", 50 * time.Millisecond}, {"a/mux", 120 * time.Millisecond}},
			[]queued{{"a/mux", 220 * time.Millisecond}}},
		{"a pause of a window splits the changes in two",
			[]change{{"a/mux", 0}, {"a/mux", 250 * time.Millisecond}},
			[]queued{{"a/mux", window}, {"a/mux", 350 * time.Millisecond}}},
		{"changes that never pause are queued ten windows after the first, then again ten windows later",
			everyFor("a/mux", 30*time.Millisecond, 2500*time.Millisecond), // the last at 2490 ms
			[]queued{{"a/mux", time.Second}, {"a/mux", 2020 * time.Millisecond}, {"a/mux", 2590 * time.Millisecond}}},
		{"each key waits for its own changes",
			[]change{{"a/mux", 0}, {"b/mux", 60 * time.Millisecond}, {"a/mux", 80 * time.Millisecond}},
			[]queued{{"b/mux", 160 * time.Millisecond}, {"a/mux", 180 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var mu sync.Mutex
				var got []queued
				c := &coalescer{window: window, limit: coalesceMaxWindows * window, pending: map[string]*pendingKey{},
					add: func(key string) {
						mu.Lock()
						defer mu.Unlock()
						got = append(got, queued{key, time.Since(start)})
					}}
				// Time inside the bubble is virtual: it moves on only when every
				// goroutine of the test is blocked, so the timers fire exactly.
				for _, ch := range tt.changes {
					<-time.After(time.Until(start.Add(ch.at)))
					c.change(ch.key)
				}
				<-time.After(time.Until(start.Add(5 * time.Second)))
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, tt.want, got)
			})
		})
	}
}

// changeAt is a change of key at a time from the start of the test.
type changeAt struct {
	key string
	at  time.Duration
}

// everyFor is a change of key every interval from 0 up to (not including) until.
func everyFor(key string, interval, until time.Duration) []changeAt {
	var out []changeAt
	for at := time.Duration(0); at < until; at += interval {
		out = append(out, changeAt{key, at})
	}
	return out
}
