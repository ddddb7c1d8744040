package faults

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestAnAPIServerRestartedTwiceMidConvergenceMovesNoPort restarts kube-apiserver
// (etcd and its data kept, its history compacted first) twice while auto channels
// converge: the agent's connections and watches break, then the same cluster
// comes back, and every watch must relist. The agent must
// reconnect and converge to the plan with no port moved and no storm of repeated
// writes (at most 1.1x a clean run's).
func TestAnAPIServerRestartedTwiceMidConvergenceMovesNoPort(t *testing.T) {
	sz := sizes()
	n := sz.restartChans
	cleanEnd, cleanWrites, cleanTook := cleanRun(t, sz, n)

	w, o := autoWorld(t, sz, n)
	began := time.Now()
	a := w.StartAgent("--kube-api-qps="+strconv.Itoa(sz.restartQPS), "--kube-api-burst="+strconv.Itoa(sz.restartQPS))
	var downs []string
	for r := 1; r <= sz.restarts; r++ {
		// Mid-convergence: a share of the channels written, more to come.
		at := n * r / (sz.restarts + 2)
		poll(t, w, fmt.Sprintf("%d channels annotated before restart %d", at, r), func() (bool, string) {
			return o.annotated() >= at, fmt.Sprintf("%d of %d channels annotated", o.annotated(), n)
		})
		annotated := o.annotated()
		// Compacted first: every watch then resumes from a resourceVersion etcd no
		// longer has (410 Gone), and each informer relists — the agent must prune
		// no claim from that view (the observer checks).
		rev, err := w.CP.CompactEtcd()
		if err != nil {
			t.Fatal(err)
		}
		down, err := w.CP.RestartAPIServer()
		if err != nil {
			t.Fatal(err)
		}
		downs = append(downs, fmt.Sprintf("%v at %d/%d annotated (etcd compacted at revision %d)", down.Round(time.Millisecond), annotated, n, rev))
	}
	waitOutcome(t, w, o, planned(n), sz.converge)
	took := time.Since(began)
	writes := checkEnd(t, w, o, a, cleanEnd)
	if limit := float64(cleanWrites) * 1.1; float64(writes) > limit {
		t.Errorf("%d writes across %d API server restarts; want at most 1.1x the clean run's %d", writes, sz.restarts, cleanWrites)
	}
	t.Logf("restarts (down for, at) %v; converged %v from the agent's start; writes %d, clean run %d (%v)",
		downs, took.Round(time.Millisecond), writes, cleanWrites, cleanTook.Round(time.Millisecond))
	record(section{name: fmt.Sprintf("kube-apiserver restarted %d times while %d auto channels converge", sz.restarts, n), lines: []string{
		fmt.Sprintf("etcd kept, compacted to its current revision before each restart (watches resume too old: 410, relist); agent at --kube-api-qps=%d so that each restart lands mid-convergence", sz.restartQPS),
		"no claim pruned, no port moved (observer)",
		fmt.Sprintf("API server down for, at: %v", downs),
		fmt.Sprintf("converged %v from the agent's start (clean run at default QPS: %v)", took.Round(time.Millisecond), cleanTook.Round(time.Millisecond)),
		fmt.Sprintf("writes (audit log) %d, clean run %d (%.2fx; goal ≤ 1.1x)", writes, cleanWrites, float64(writes)/float64(max(cleanWrites, 1))),
		"end state = the plan's = the clean run's",
		fmt.Sprintf("observer: %s", o.summary()),
	}})
}
