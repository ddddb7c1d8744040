package faults

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nowakeai/svcmux/test/agentrun"
)

// killSeed fixes the kill schedule, so a failure reruns the same moments.
const killSeed = 17

// TestAnAgentKilledAgainAndAgainMovesNoPort starts the agent on a mux of auto
// channels that all exist already and SIGKILLs it at random moments (fixed seed)
// while they converge, restarting it each time, then lets the last one finish. No
// published port may move, no port may have two owners, and the end state must be
// the plan's and a clean run's.
func TestAnAgentKilledAgainAndAgainMovesNoPort(t *testing.T) {
	sz := sizes()
	n := sz.killChannels
	cleanEnd, cleanWrites, cleanTook := cleanRun(t, sz, n)

	w, o := autoWorld(t, sz, n)
	args := []string{"--default-mux-namespace=" + w.Namespace,
		"--kube-api-qps=" + strconv.Itoa(sz.killQPS), "--kube-api-burst=" + strconv.Itoa(sz.killQPS)}
	rng := rand.New(rand.NewPCG(killSeed, killSeed))
	began := time.Now()
	var atKill []string
	for k := range sz.kills {
		a, err := agentrun.StartProcess(w.CP.KubeconfigPath(), filepath.Join(t.TempDir(), fmt.Sprintf("agent-%02d.log", k)), args...)
		if err != nil {
			t.Fatal(err)
		}
		// The fault itself, not a synchronisation: a crash at a random moment of
		// the agent's life (cache sync, planning, the middle of a stage).
		alive := sz.killAlive[0] + time.Duration(rng.Int64N(int64(sz.killAlive[1]-sz.killAlive[0])))
		time.Sleep(alive)
		a.Kill()
		atKill = append(atKill, fmt.Sprintf("%v:%d", alive.Round(time.Millisecond), o.annotated()))
	}
	lastKill := time.Since(began)
	last := w.StartAgent(args...)
	waitOutcome(t, w, o, planned(n), sz.converge)
	took := time.Since(began)
	writes := checkEnd(t, w, o, last, cleanEnd)
	t.Logf("%d kills (alive:channels annotated at the kill) %v; converged %v after the first start; writes %d, clean run %d (%v)",
		sz.kills, atKill, took.Round(time.Millisecond), writes, cleanWrites, cleanTook.Round(time.Millisecond))
	record(section{name: fmt.Sprintf("SIGKILL the agent %d times while %d auto channels converge", sz.kills, n), lines: []string{
		fmt.Sprintf("seed %d; each agent lives %v–%v, then SIGKILL; agents at --kube-api-qps=%d", killSeed, sz.killAlive[0], sz.killAlive[1], sz.killQPS),
		fmt.Sprintf("time alive : channels annotated when killed: %v", atKill),
		fmt.Sprintf("last kill %v after the first start; converged %v after the first start (clean run: %v)",
			lastKill.Round(time.Millisecond), took.Round(time.Millisecond), cleanTook.Round(time.Millisecond)),
		fmt.Sprintf("writes (audit log) %d, clean run %d (%.2fx)", writes, cleanWrites, float64(writes)/float64(max(cleanWrites, 1))),
		"end state = the plan's (ch-i on 20000+i) = the clean run's",
		fmt.Sprintf("observer: %s", o.summary()),
	}})
}
