package faults

import (
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// size is how big each fault runs: the sizes under SVCMUX_FAULTS=1, a
// small case of each kind otherwise (make test).
type size struct {
	full           bool
	leaderChannels int
	killChannels   int
	kills          int
	killQPS        int              // the killed agents' write rate: slow enough that kills land mid-convergence
	killAlive      [2]time.Duration // each killed agent lives a random time in this range
	gitopsChannels int
	gitopsFor      time.Duration
	restartChans   int
	restarts       int
	restartQPS     int           // slow enough that both restarts land mid-convergence
	converge       time.Duration // bound on every convergence wait
}

func sizes() size {
	if os.Getenv(EnvFaults) == "1" {
		return size{full: true, leaderChannels: 300, killChannels: 1000, kills: 20, killQPS: 100, killAlive: [2]time.Duration{time.Second, 5 * time.Second}, gitopsChannels: 20,
			gitopsFor: 60 * time.Second, restartChans: 1000, restarts: 2, restartQPS: 200, converge: 5 * time.Minute}
	}
	return size{leaderChannels: 100, killChannels: 100, kills: 3, killQPS: 20, killAlive: [2]time.Duration{300 * time.Millisecond, 2500 * time.Millisecond}, gitopsChannels: 5,
		gitopsFor: 5 * time.Second, restartChans: 100, restarts: 2, restartQPS: 20, converge: 2 * time.Minute}
}

const (
	muxName   = "mux"
	portRange = "20000-29999"
	firstPort = 20000
	chanPort  = 8080
)

func channelName(i int) string { return fmt.Sprintf("ch-%04d", i) }

// autoMux creates the mux (port range 20000-29999) and n channels ch-0000… with one
// auto port each, all before any agent runs.
func autoMux(t testing.TB, w *world.World, n int) {
	t.Helper()
	w.CreateMux(muxName, map[string]string{w.Key("port-range"): portRange})
	autoChannels(t, w, n)
}

// autoWorld is a fault's World: the mux of n auto channels (autoMux), every wait
// bounded by sz.converge, and the observer, watching from before any agent runs.
func autoWorld(t *testing.T, sz size, n int) (*world.World, *observer) {
	t.Helper()
	w := world.New(t)
	w.Timeout = sz.converge
	autoMux(t, w, n)
	return w, observe(t, w, muxName)
}

// checkEnd, once a fault's run has converged: agent a has looked since (a pass
// of the mux), the API server's end state is the clean run's, and the observer
// recorded no fault. It returns the agents' writes, from the audit log.
func checkEnd(t *testing.T, w *world.World, o *observer, a *world.Agent, clean outcome) int {
	t.Helper()
	w.AwaitPass(a, muxName)
	end, err := liveOutcome(w, muxName)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(end, clean) {
		t.Errorf("the end state differs from the clean run's:\n%s", end.diff(clean))
	}
	writes := auditedWrites(t, w)
	o.assertClean(t)
	return writes
}

// autoChannels creates channels ch-0000… of the mux, one auto port each.
func autoChannels(t testing.TB, w *world.World, n int) {
	t.Helper()
	list := make([]*corev1.Service, n)
	for i := range n {
		list[i] = w.ChannelObject(channelName(i), muxName, w.ExternalPorts("p:auto"), world.TCP("p", chanPort))
	}
	w.CreateServices(list)
}

// planned is the end state of autoMux's channels by the contract alone (SPEC §3):
// with no earlier owner, auto ports go in namespace/name order from the start of
// the range, so ch-i gets 20000+i; every channel is Accepted.
func planned(n int) outcome {
	out := outcome{Channels: map[string]string{}, Generations: map[string]bool{}}
	for i := range n {
		name, port := channelName(i), firstPort+i
		out.MuxPorts = append(out.MuxPorts, fmt.Sprintf("%s/p %d/TCP", name, port))
		out.Claims = append(out.Claims, fmt.Sprintf("%s/p %d/TCP auto", name, port))
		out.Channels[name] = fmt.Sprintf("p:%d->%d True/Accepted", chanPort, port)
		out.Generations[name] = true
	}
	return out
}

// waitOutcome waits until the observer's view is want, then checks the API
// server's own answer against it too.
func waitOutcome(t testing.TB, w *world.World, o *observer, want outcome, timeout time.Duration) {
	t.Helper()
	err := w.Poll(timeout, func() (bool, string, error) {
		got := o.outcome()
		return reflect.DeepEqual(got, want), got.diff(want), nil
	})
	if err != nil {
		t.Fatalf("not converged to the planned end state: %v", err)
	}
	live, err := liveOutcome(w, muxName)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live, want) {
		t.Fatalf("the API server's end state differs from the plan:\n%s", live.diff(want))
	}
}

// annotated is how many channels carry a ports annotation in the observer's view.
func (o *observer) annotated() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.annotations)
}

// cleanRun converges n auto channels in a World of their own with one agent that
// is never disturbed, and returns its end state, the agent's writes (from the
// audit log) and how long it took from the agent's start.
func cleanRun(t *testing.T, sz size, n int) (outcome, int, time.Duration) {
	t.Helper()
	w, o := autoWorld(t, sz, n)
	began := time.Now()
	a := w.StartAgent()
	waitOutcome(t, w, o, planned(n), sz.converge)
	took := time.Since(began)
	w.AwaitPass(a, muxName)
	a.Stop()
	o.assertClean(t)
	got, err := liveOutcome(w, muxName)
	if err != nil {
		t.Fatal(err)
	}
	return got, auditedWrites(t, w), took
}

// auditedWrites is the agents' writes on the World's objects, from the audit log.
func auditedWrites(t testing.TB, w *world.World) int {
	t.Helper()
	events, err := readAudit(w.CP.AuditLogPath(), w.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	writes, _ := agentWrites(events)
	return writes
}
