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

// PassesOfE is the number of passes the agent has finished of the mux
// namespace/name (every result), from svcmux_mux_passes_total: other muxes'
// passes (tests share the control plane) do not count.
func (a *Agent) PassesOfE(namespace, name string) (float64, error) {
	return a.Metric("svcmux_mux_passes_total", "namespace="+namespace, "mux="+name)
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
// the mux is enqueued) after reading the mux's own pass counter
// (svcmux_mux_passes_total), then waits until that counter has risen past the
// value read. One poke is not enough: a pass of the mux already running when
// it is written raises the counter too. The work queue never runs one key
// twice at once, so by the time the first rise is seen that earlier pass has
// ended; the rise after the second poke then comes from a pass that began
// after the first poke. The counter is per mux, so no other mux's pass counts.
//
// The poke changes the mux's resourceVersion, and its annotation counts
// against the mux's annotation size budget (SPEC §5; on a mux near the
// budget it can make the agent re-cut the channels and topology annotations):
// to assert that the mux itself was not written, or on a large mux, poke one
// of its channels (AwaitPassPoking) or, for an agent just started, wait for
// its first pass (AwaitPasses).
func (w *World) AwaitPassE(a *Agent, mux string) error { return w.AwaitPassPokingE(a, mux, mux) }

// AwaitPassPokingE is AwaitPassE poking the Service poked instead of the mux:
// a channel of mux (its update enqueues the mux too), so that the mux keeps
// its resourceVersion and annotations for an assertion that it was not
// written.
func (w *World) AwaitPassPokingE(a *Agent, mux, poked string) error {
	for round := 1; round <= 2; round++ {
		if err := w.pokeAndWait(a, mux, poked); err != nil {
			return fmt.Errorf("wait for a pass of mux %s (poke %d): %w\n%s", w.Ref(mux), round, err, a.LogTail(20))
		}
	}
	return nil
}

func (w *World) pokeAndWait(a *Agent, mux, poked string) error {
	before, err := a.PassesOfE(w.Namespace, mux)
	if err != nil {
		return fmt.Errorf("read agent metrics: %w", err)
	}
	nonce := strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := w.SetAnnotationE(poked, "e2e-poke", pokeKey, &nonce); err != nil {
		return err
	}
	return w.awaitPassesOf(a, mux, before+1)
}

// awaitPassesOf waits until the agent has finished at least n passes of mux.
func (w *World) awaitPassesOf(a *Agent, mux string, n float64) error {
	return w.Poll(0, func() (bool, string, error) {
		passes, err := a.PassesOfE(w.Namespace, mux)
		if err != nil {
			return false, "", err
		}
		return passes >= n, fmt.Sprintf("passes of mux %s: %v, want at least %v", w.Ref(mux), passes, n), nil
	})
}

// AwaitPass is AwaitPassE, failing the test on error.
func (w *World) AwaitPass(a *Agent, mux string) { w.must(w.AwaitPassE(a, mux)) }

// AwaitPassPoking is AwaitPassPokingE, failing the test on error.
func (w *World) AwaitPassPoking(a *Agent, mux, poked string) {
	w.must(w.AwaitPassPokingE(a, mux, poked))
}

// AwaitPassesE waits, without writing anything, until the agent has finished
// at least n passes of mux in total. A freshly started agent passes every mux
// once from its informers' first list: AwaitPasses(a, "mux", 1) is then the
// signal that it has looked at the mux, its channels and its state, and has
// made (and counted) every write and Event that pass wanted, while every
// object keeps the resourceVersion a poke would change.
func (w *World) AwaitPassesE(a *Agent, mux string, n int) error {
	if err := w.awaitPassesOf(a, mux, float64(n)); err != nil {
		return fmt.Errorf("wait for %d pass(es) of mux %s: %w\n%s", n, w.Ref(mux), err, a.LogTail(20))
	}
	return nil
}

// AwaitPasses is AwaitPassesE, failing the test on error.
func (w *World) AwaitPasses(a *Agent, mux string, n int) { w.must(w.AwaitPassesE(a, mux, n)) }
