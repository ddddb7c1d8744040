package faults

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// Short lease timings so a pause past the lease fits in a test; the write rate is
// held down (50/s) so that the leader is paused in the middle of its pass, with
// writes still to make, which is when a frozen leader would do harm on waking.
//
// One write in flight at a time: a write that had passed the lease check when the
// process froze, but had not yet left it, still goes out when it resumes (no
// client can close that instant: Kubernetes has no fencing token). With one
// write in flight that is at most one write, sent at once on waking; every write
// begun after the lease went stale must be refused.
var leaseArgs = []string{"--leader-elect=true", "--leader-election-id=svcmux-faults",
	"--leader-election-lease-duration=5s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=500ms",
	"--kube-api-qps=50", "--kube-api-burst=10", "--channel-write-concurrency=1"}

// inFlight bounds the old leader's writes that may land after the takeover: those
// already past the check when it froze (--channel-write-concurrency=1), arriving
// within wake of the SIGCONT.
const (
	inFlight = 1
	wake     = time.Second
)

func leading(t testing.TB, a *world.Agent) bool {
	t.Helper()
	v, err := a.Metric("svcmux_leader")
	if err != nil {
		return false // a paused or exited agent does not answer
	}
	return v == 1
}

// TestAPausedLeaderMakesNoWriteAfterItLostTheLease pauses the leader (SIGSTOP)
// mid-pass for longer than its lease, lets the other replica take over and
// converge, then resumes it (SIGCONT). By the API server's audit log, told apart
// by the election identity in each replica's User-Agent, the old leader begins no
// write after the new one acquired the Lease: its lease guard refuses them, and it
// exits on learning it lost. Only a write already on its way when it froze may
// land on waking (see leaseArgs).
func TestAPausedLeaderMakesNoWriteAfterItLostTheLease(t *testing.T) {
	sz := sizes()
	n := sz.leaderChannels
	w, o := autoWorld(t, sz, n)
	args := append([]string{"--leader-election-namespace=" + w.Namespace}, leaseArgs...)
	a1, a2 := w.StartAgent(args...), w.StartAgent(args...)
	var old, next *world.Agent
	poll(t, w, "one replica leads", func() (bool, string) {
		l1, l2 := leading(t, a1), leading(t, a2)
		old, next = a1, a2
		if l2 {
			old, next = a2, a1
		}
		return l1 != l2, fmt.Sprintf("svcmux_leader %v and %v", l1, l2)
	})
	poll(t, w, "the leader is writing its pass", func() (bool, string) {
		return o.annotated() >= n/10, fmt.Sprintf("%d of %d channels annotated", o.annotated(), n)
	})
	oldID := holder(t, w)
	if err := old.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	atPause := o.annotated()
	poll(t, w, "the other replica leads", func() (bool, string) {
		return leading(t, next), "follower not leading\n" + next.LogTail(3)
	})
	waitOutcome(t, w, o, planned(n), sz.converge) // converged by the new leader alone
	newID := holder(t, w)
	pausedFor := time.Since(paused)
	resumed := time.Now()
	if err := old.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The positive signal: the old leader ran again and learnt it lost the lease.
	poll(t, w, "the resumed leader exits", func() (bool, string) { return old.Exited(), "still running\n" + old.LogTail(5) })
	w.AwaitPass(next, muxName)

	events, err := readAudit(w.CP.AuditLogPath(), w.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	p := leaderProof(events, oldID, newID, resumed.Add(wake))
	t.Logf("paused the leader %v with %d of %d channels written; old leader: %d writes before the takeover, %d after (%d late); new leader: %d writes",
		pausedFor.Round(time.Millisecond), atPause, n, p.oldBefore, len(p.oldAfter), len(p.late), p.newWrites)
	if p.takeover.IsZero() {
		t.Fatalf("no Lease acquisition by the new leader %s in the audit log", newID)
	}
	if p.oldBefore == 0 || p.newWrites == 0 {
		t.Errorf("each replica should have written: old %d, new %d", p.oldBefore, p.newWrites)
	}
	if len(p.oldAfter) > inFlight || len(p.late) > 0 {
		t.Errorf("the old leader wrote after it lost the lease (%v), more than the %d write in flight when it froze, or later than %v after it woke:\n%v",
			p.takeover, inFlight, wake, p.oldAfter)
	}
	o.assertClean(t)
	record(section{name: "Paused leader (SIGSTOP past the lease, then SIGCONT)", lines: []string{
		fmt.Sprintf("channels %d; lease 5s, renew deadline 3s, retry 500ms; agents at 50 QPS", n),
		fmt.Sprintf("leader paused %v, with %d of %d channels written", pausedFor.Round(time.Millisecond), atPause, n),
		fmt.Sprintf("writes by the old leader: %d before the takeover, %d after (audit log, by User-Agent identity); allowed: the %d write in flight when it froze, on waking",
			p.oldBefore, len(p.oldAfter), inFlight),
		"without the lease guard (checked by hand, guard disabled): 186 writes after the takeover at 100 channels",
		fmt.Sprintf("writes by the new leader: %d", p.newWrites),
		fmt.Sprintf("observer: %s", o.summary()),
	}})
}

// holder is the election identity holding the Lease now.
func holder(t testing.TB, w *world.World) string {
	t.Helper()
	l, err := w.Client.CoordinationV1().Leases(w.Namespace).Get(w.Context(), "svcmux-faults", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		t.Fatal("the Lease has no holder")
	}
	return *l.Spec.HolderIdentity
}

type proof struct {
	takeover  time.Time // the new leader's first acquisition of the Lease
	oldBefore int
	oldAfter  []string // the old leader's successful writes from the takeover on
	late      []string // those of them received after lateAfter
	newWrites int
}

func leaderProof(events []auditEvent, oldID, newID string, lateAfter time.Time) proof {
	var p proof
	for _, e := range events {
		if e.identity() == newID && e.resource() == "leases" && e.succeeded() && p.takeover.IsZero() {
			p.takeover = e.Received
		}
	}
	for _, e := range events {
		if !e.succeeded() || e.resource() == "leases" {
			continue
		}
		switch {
		case e.identity() == oldID && !p.takeover.IsZero() && !e.Received.Before(p.takeover):
			w := fmt.Sprintf("%s %s %s/%s at %v", e.Verb, e.resource(), e.ObjectRef.Namespace, e.ObjectRef.Name, e.Received)
			p.oldAfter = append(p.oldAfter, w)
			if e.Received.After(lateAfter) {
				p.late = append(p.late, w)
			}
		case e.identity() == oldID:
			p.oldBefore++
		case e.identity() == newID:
			p.newWrites++
		}
	}
	return p
}

// poll waits (w.Timeout) for cond, failing the test with what it last saw.
func poll(t testing.TB, w *world.World, what string, cond func() (bool, string)) {
	t.Helper()
	if err := w.Poll(0, func() (bool, string, error) { ok, s := cond(); return ok, s, nil }); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
