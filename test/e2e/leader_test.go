package e2e

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// leaderPairB starts two agents campaigning for the same Lease in the test's
// namespace and returns them as (leader, follower) once one leads.
func (e *envB) leaderPairB() (leader, follower *agentrun.Agent) {
	t := e.t
	args := []string{"--leader-elect=true", "--leader-election-namespace=" + e.ns, "--leader-election-id=svcmux-e2e"}
	a1 := agentrun.Start(t, e.cp.KubeconfigPath(), args...)
	a2 := agentrun.Start(t, e.cp.KubeconfigPath(), args...)
	controlplane.Eventually(t, waitB, func() (bool, string) {
		l1, l2 := leadingB(t, a1), leadingB(t, a2)
		switch {
		case l1 && !l2:
			leader, follower = a1, a2
		case l2 && !l1:
			leader, follower = a2, a1
		default:
			return false, fmt.Sprintf("svcmux_leader: %v and %v", l1, l2)
		}
		return true, ""
	})
	return leader, follower
}

// leadingB reads the agent's svcmux_leader gauge.
func leadingB(t testing.TB, a *agentrun.Agent) bool {
	t.Helper()
	v, err := a.Metric("svcmux_leader")
	if err != nil {
		t.Fatalf("read agent metrics: %v", err)
	}
	return v == 1
}

// servedB waits until channel name is served with the ports annotation want.
func (e *envB) servedB(name, want string) {
	e.t.Helper()
	e.waitSvcB(name, func(s *corev1.Service) (bool, string) {
		return s.Annotations[annPortsB] == want, svcStateB(s)
	})
}

// TestOnlyTheLeaderWritesAndAStoppedLeaderHandsOver runs two replicas on one
// Lease (SPEC §7): only the leader writes while the cluster converges; when
// it stops cleanly it releases the Lease, the other replica takes over within
// a retry period and reconciles a change made afterwards.
func TestOnlyTheLeaderWritesAndAStoppedLeaderHandsOver(t *testing.T) {
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("api", e.classB("mux"), map[string]string{"app": "api"}, nil, tcpB("http", 8080))
	leader, follower := e.leaderPairB()

	e.servedB("api", "http:8080->8080")
	e.waitSummaryB("mux", "1 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending")
	controlplane.Eventually(t, waitB, func() (bool, string) {
		return leader.Writes(t) > 0, "the leader converged the cluster without counting a write"
	})
	// A change while both run: still only the leader writes.
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil, tcpB("http", 9090))
	e.servedB("web", "http:9090->9090")
	holdB(t, time.Second, func() (bool, string) {
		return follower.Writes(t) == 0 && !leadingB(t, follower),
			fmt.Sprintf("follower writes %d, leading %v", follower.Writes(t), leadingB(t, follower))
	})

	stopped := time.Now()
	leader.Stop() // SIGTERM: workers stop, then the Lease is released
	stopTook := time.Since(stopped)
	controlplane.Eventually(t, 10*time.Second, func() (bool, string) {
		return leadingB(t, follower), "follower not leading yet\n" + follower.LogTail(5)
	})
	takeover := time.Since(stopped)

	e.newChannelB("db", e.classB("mux"), map[string]string{"app": "db"}, nil, tcpB("sql", 5432))
	e.servedB("db", "sql:5432->5432")
	e.waitSvcB("mux", func(s *corev1.Service) (bool, string) {
		want := []string{muxPortNameB(e.ns, "db", "sql") + " 5432/TCP", muxPortNameB(e.ns, "api", "http") + " 8080/TCP",
			muxPortNameB(e.ns, "web", "http") + " 9090/TCP"}
		return fmt.Sprint(portIDsB(s)) == fmt.Sprint(want), fmt.Sprintf("mux ports %v, want %v", portIDsB(s), want)
	})
	// svcmux_writes_total is counted when a pass ends, just after its writes land.
	controlplane.Eventually(t, waitB, func() (bool, string) {
		return follower.Writes(t) > 0, "the new leader reconciled without counting a write"
	})
	t.Logf("leader stop took %v; follower leading %v after the stop began", stopTook.Round(time.Millisecond), takeover.Round(time.Millisecond))
}

// TestAFollowerTakesOverOnlyAfterACrashedLeadersLeaseExpires kills the leader
// (no release): the follower must not lead before the Lease expires — two
// writers would race — and must lead soon after. The agent has no flags for
// the lease timings, so this runs on the client-go customary 15 s lease, 2 s
// retry period.
func TestAFollowerTakesOverOnlyAfterACrashedLeadersLeaseExpires(t *testing.T) {
	const leaseDuration, retryPeriod = 15 * time.Second, 2 * time.Second
	e := newEnvB(t)
	e.newMuxB("mux", nil)
	e.newChannelB("api", e.classB("mux"), map[string]string{"app": "api"}, nil, tcpB("http", 8080))
	leader, follower := e.leaderPairB()
	e.servedB("api", "http:8080->8080")

	killed := time.Now()
	leader.Kill()
	// The lease was renewed at most one retry period before the kill.
	holdB(t, leaseDuration-retryPeriod-time.Second, func() (bool, string) {
		return !leadingB(t, follower) && follower.Writes(t) == 0,
			fmt.Sprintf("follower leads %v after a crash, before the lease expired", time.Since(killed).Round(time.Millisecond))
	})
	controlplane.Eventually(t, 2*retryPeriod+3*time.Second, func() (bool, string) {
		return leadingB(t, follower), "follower not leading\n" + follower.LogTail(5)
	})
	takeover := time.Since(killed)
	e.newChannelB("web", e.classB("mux"), map[string]string{"app": "web"}, nil, tcpB("http", 9090))
	e.servedB("web", "http:9090->9090")
	t.Logf("follower leading %v after the leader was killed", takeover.Round(time.Millisecond))
}
