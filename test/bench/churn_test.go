package bench

import (
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// churnResult is the churn phase of a scenario.
type churnResult struct {
	created, deleted int
	took             time.Duration // first create sent → last delete answered
	fromChange       time.Duration // last delete answered → converged
	writes           agentMetrics
	cpu              time.Duration
}

// rate is the creates (and as many deletes) a second achieved.
func (c churnResult) rate() float64 { return float64(c.created) / c.took.Seconds() }

// minWrites is a lower bound: 1 per created channel, and one mux patch and
// one state write per mux, as if each mux's changes had come in one pass. The
// changes arrive spread over the whole window, so the agent (which cannot wait
// for changes that have not happened) makes a mux and a state write per pass.
func (c churnResult) minWrites(muxes int) int { return minWrites(c.created, muxes) }

// runChurn, on a converged scenario: every 1/rate s, create channel
// channels()+k and delete channel k, for churnFor; then wait for the final set
// of channels to converge, timed from the last delete answered.
func runChurn(t *testing.T, cp *controlplane.ControlPlane, c kubernetes.Interface, ns string, sc scenario, w *watcher, agent *agentrun.Agent) *churnResult {
	ctx := t.Context()
	n := sc.churnOps()
	if n > sc.channels() {
		t.Fatalf("churn of %d would delete channels it created (%d exist)", n, sc.channels())
	}
	before, cpu0 := snapshotMetrics(t, agent), readProc(t, agent.Pid()).cpu
	svcs := c.CoreV1().Services(ns)
	interval := time.Second / time.Duration(sc.churnRate)
	// A bounded number of changes in flight: if the API server falls behind, the
	// rate achieved drops (and is reported) instead of requests piling up.
	sem := make(chan struct{}, 4*workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := time.Now()
	for k := range n {
		// Paced by the schedule, not by the previous change: a late start
		// (a busy machine) is caught up, so the rate holds on average.
		time.Sleep(time.Until(start.Add(time.Duration(k) * interval)))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := svcs.Create(ctx, channelService(ns, sc, sc.channels()+k), metav1.CreateOptions{})
			if err == nil {
				err = svcs.Delete(ctx, channelName(k), metav1.DeleteOptions{})
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	last := time.Now()
	if len(errs) > 0 {
		t.Fatalf("churn: %d of %d changes failed, first: %v", len(errs), n, errs[0])
	}
	r := &churnResult{created: n, deleted: n, took: last.Sub(start)}
	w.expect(seq(n, sc.channels()+n))
	r.fromChange = max(awaitConverged(t, w, agent).Sub(last), 0)
	s := waitQuiet(t, cp, c, agent, ns, sc.muxes, func(m int) string { return firstOn(sc, n, m) })
	r.writes, r.cpu = s.end.since(before), s.endCPU-cpu0
	t.Logf("churn: %d created and %d deleted in %v (%.1f/s); converged %v after the last; %d writes (%v)",
		r.created, r.deleted, r.took.Round(time.Millisecond), r.rate(), r.fromChange.Round(time.Millisecond),
		r.writes.totalWrites(), r.writes)
	return r
}

// churnLabel is how the report names a churn phase.
func churnLabel(sc scenario) string {
	return fmt.Sprintf("%d/s creates + %d/s deletes for %v", sc.churnRate, sc.churnRate, sc.churnFor)
}
