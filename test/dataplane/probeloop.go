package dataplane

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Target is one address a probe loop keeps asking, and the answer it wants.
type Target struct {
	Name  string
	Via   Via
	Proto corev1.Protocol
	Addr  string
	Want  Answer
}

// Outage is a stretch of failed probes of one target: from the last success
// before it (Start) to the first success after it (End; zero while it
// lasts). A wrong answer is a failure too.
type Outage struct {
	Target   string
	Start    time.Time
	End      time.Time
	Failures int
	FirstErr string
}

// Duration is End−Start (up to now while the outage lasts).
func (o Outage) Duration() time.Duration {
	if o.End.IsZero() {
		return time.Since(o.Start)
	}
	return o.End.Sub(o.Start)
}

// ProbeLoop asks every target every interval, each from its own goroutine,
// until Stop or its context ends, recording outages.
type ProbeLoop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	outages  []Outage
	probes   map[string]int
	failures map[string]int
}

// StartProbeLoop starts probing. Each probe is bounded by DefaultTimeout, so
// the loop's resolution is interval (plus a probe's round trip) while
// traffic flows, and at worst DefaultTimeout while packets are dropped.
func (n *Node) StartProbeLoop(ctx context.Context, interval time.Duration, targets ...Target) *ProbeLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &ProbeLoop{cancel: cancel, probes: map[string]int{}, failures: map[string]int{}}
	for _, tg := range targets {
		l.wg.Go(func() {
			lastOK := time.Now()
			open := -1 // index of this target's open outage
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				got, err := n.Ask(ctx, tg.Via, tg.Proto, tg.Addr, DefaultTimeout)
				if ctx.Err() != nil {
					return
				}
				now := time.Now()
				if err == nil && got != tg.Want {
					err = fmt.Errorf("answered by %s, want %s", got, tg.Want)
				}
				l.mu.Lock()
				l.probes[tg.Name]++
				switch {
				case err == nil && open >= 0:
					l.outages[open].End = now
					open = -1
				case err != nil && open < 0:
					l.outages = append(l.outages, Outage{Target: tg.Name, Start: lastOK, FirstErr: err.Error()})
					open = len(l.outages) - 1
				}
				if err == nil {
					lastOK = now
				} else {
					l.failures[tg.Name]++
					l.outages[open].Failures++
				}
				l.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	return l
}

// Stop ends the loop and waits for the probes in flight.
func (l *ProbeLoop) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Outages returns the outages that overlap [from, to] (zero to: up to now).
func (l *ProbeLoop) Outages(from, to time.Time) []Outage {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Outage
	for _, o := range l.outages {
		end := o.End
		if end.IsZero() {
			end = time.Now()
		}
		if (to.IsZero() || o.Start.Before(to)) && end.After(from) {
			out = append(out, o)
		}
	}
	return out
}

// Counts returns how many probes ran and how many failed, over all targets.
func (l *ProbeLoop) Counts() (probes, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.probes {
		probes += v
		failures += l.failures[k]
	}
	return probes, failures
}
