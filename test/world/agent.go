package world

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nowakeai/svcmux/test/agentrun"
)

// Agent is the real agent binary running out of process against the World's
// control plane (agentrun.Agent: Stop, Kill, Writes, Metric, LogTail, ...),
// plus the positive signal that it has looked since a moment in the test.
type Agent struct {
	*agentrun.Agent
}

// agentArgs are the flags every World agent gets before extra: the World's
// namespace as the default mux namespace, and the World's prefix.
func (w *World) agentArgs(extra []string) []string {
	args := []string{"--default-mux-namespace=" + w.Namespace}
	if w.Prefix != DefaultPrefix {
		args = append(args, "--api-prefix="+w.Prefix)
	}
	return append(args, extra...) // later flags win
}

// StartAgentE starts the agent (logging to logPath) and waits until it is
// ready (caches synced). The caller must Stop it.
func (w *World) StartAgentE(logPath string, extra ...string) (*Agent, error) {
	a, err := agentrun.StartProcess(w.CP.KubeconfigPath(), logPath, w.agentArgs(extra)...)
	if err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	if err := a.WaitReady(60 * time.Second); err != nil {
		a.Stop()
		return nil, fmt.Errorf("agent not ready: %w\n%s", err, a.LogTail(40))
	}
	return &Agent{a}, nil
}

// StartAgent starts the agent for the test (stopped when it ends; its log tail
// is logged when the test failed). extra flags override the defaults.
func (w *World) StartAgent(extra ...string) *Agent {
	t := w.tb()
	t.Helper()
	a := agentrun.Start(t, w.CP.KubeconfigPath(), w.agentArgs(extra)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent (metrics %s) log tail:\n%s", a.MetricsAddr, a.LogTail(60))
		}
	})
	return &Agent{a}
}

// MuxPassesE is the number of mux passes the agent has finished (every
// result: success, conflict, error), from svcmux_passes_total{kind="mux"}.
func (a *Agent) MuxPassesE() (float64, error) {
	return a.Metric("svcmux_passes_total", "kind=mux")
}

// QueueDepthE is the number of work items waiting for a pass.
func (a *Agent) QueueDepthE() (float64, error) { return a.Metric("svcmux_queue_depth") }

// pokeKey is the annotation AwaitPass writes on a mux. It is outside every
// svcmux prefix, so no pass plans anything different because of it; it only
// gives the mux a new resourceVersion, which the agent's handlers enqueue.
const pokeKey = "e2e.svcmux.test/poke"

// AwaitPassE is the positive signal for "nothing happened" assertions: it
// returns once the agent has finished a pass of mux that started after the
// call, so that pass saw everything written before it. To assert that a
// change makes no write:
//
//	w.AwaitPass(a, "mux") // earlier work done
//	before := a.Writes(t)
//	... the change, or none ...
//	w.AwaitPass(a, "mux") // the agent has looked at it
//	after := a.Writes(t)  // must equal before
//
// It pokes twice. A poke writes pokeKey on the mux (a new resourceVersion, so
// the mux is enqueued) after reading the mux-pass counter, then waits until
// the counter has risen past that value and the queue is empty. One poke is
// not enough: a pass of the mux already running when it is written raises the
// counter too, and the poke's own item may still sit out the coalesce window
// (the queue's depth does not count it). The work queue never runs one key
// twice at once, so by the time the first rise is seen that earlier pass has
// ended; the rise after the second poke then comes from a pass that began
// after the first poke. What this cannot exclude is a pass of another mux
// (tests share the control plane) ending in the same instant: the product
// exports no per-mux pass counter to tell them apart.
func (w *World) AwaitPassE(a *Agent, mux string) error {
	for round := 1; round <= 2; round++ {
		if err := w.pokeAndWait(a, mux); err != nil {
			return fmt.Errorf("wait for a pass of mux %s (poke %d): %w\n%s", w.Ref(mux), round, err, a.LogTail(20))
		}
	}
	return nil
}

func (w *World) pokeAndWait(a *Agent, mux string) error {
	before, err := a.MuxPassesE()
	if err != nil {
		return fmt.Errorf("read agent metrics: %w", err)
	}
	nonce := strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := w.SetAnnotationE(mux, "e2e-poke", pokeKey, &nonce); err != nil {
		return err
	}
	return w.Poll(0, func() (bool, string, error) {
		passes, err := a.MuxPassesE()
		if err != nil {
			return false, "", err
		}
		depth, err := a.QueueDepthE()
		if err != nil {
			return false, "", err
		}
		return passes > before && depth == 0,
			fmt.Sprintf("mux passes %v (before the poke %v), queue depth %v", passes, before, depth), nil
	})
}

// AwaitPass is AwaitPassE, failing the test on error.
func (w *World) AwaitPass(a *Agent, mux string) { w.must(w.AwaitPassE(a, mux)) }
