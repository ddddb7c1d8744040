package faults

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nowakeai/svcmux/test/world"
)

// muxManifest is the mux as it sits in Git: the placeholder port only.
func muxManifest(w *world.World) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  annotations:
    %s: "true"
    %s: %q
spec:
  type: LoadBalancer
  ports:
  - name: placeholder
    port: 101
    protocol: TCP
`, muxName, w.Key("multiplexer"), w.Key("port-range"), portRange)
}

// TestAGitOpsToolReapplyingThePlaceholderEverySecondMovesNoPort has Argo CD
// (field manager argocd-controller, server-side apply with force) apply the mux
// manifest from Git, placeholder port and all, every second while the agent
// runs. Each time the agent must take the placeholder out again with one write of
// the mux, and no published port may move (same number, same NodePort) nor any
// claim change owner.
func TestAGitOpsToolReapplyingThePlaceholderEverySecondMovesNoPort(t *testing.T) {
	sz := sizes()
	w := world.New(t)
	n := sz.gitopsChannels
	w.Apply(world.ManagerArgoCD, muxManifest(w), true)
	autoChannels(t, w, n)
	o := observe(t, w, muxName)
	w.Quiet() // svcmux_writes_total counts every mux: earlier tests' teardown must be over
	a := w.StartAgent()
	want := planned(n)
	waitOutcome(t, w, o, want, sz.converge)
	w.AwaitPass(a, muxName)
	before, err := a.Metric("svcmux_writes_total", "kind=mux")
	if err != nil {
		t.Fatal(err)
	}
	fightFrom := time.Now()

	applies, slowest := 0, time.Duration(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(fightFrom) < sz.gitopsFor {
		_, _, placeholders := o.counts()
		applied := time.Now()
		w.Apply(world.ManagerArgoCD, muxManifest(w), true)
		applies++
		// Restored: the observer saw the placeholder come back, and then the planned
		// ports alone again.
		poll(t, w, fmt.Sprintf("the mux ports restored after re-apply %d", applies), func() (bool, string) {
			_, _, now := o.counts()
			got := o.outcome()
			return now > placeholders && reflect.DeepEqual(got, want), got.diff(want)
		})
		slowest = max(slowest, time.Since(applied))
		<-tick.C // the tool's own schedule
	}
	w.AwaitPass(a, muxName)
	after, err := a.Metric("svcmux_writes_total", "kind=mux")
	if err != nil {
		t.Fatal(err)
	}
	events, err := readAudit(w.CP.AuditLogPath(), w.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	muxWrites, otherWrites := 0, 0
	for _, e := range events {
		if e.identity() == "" || !e.succeeded() || e.Received.Before(fightFrom) || e.resource() == "events" {
			continue
		}
		if e.resource() == "services" && e.ObjectRef.Name == muxName {
			muxWrites++
		} else {
			otherWrites++
		}
	}
	o.assertClean(t)
	if muxWrites > applies {
		t.Errorf("%d agent writes of the mux for %d re-applies; want at most one each", muxWrites, applies)
	}
	if otherWrites != 0 {
		t.Errorf("%d agent writes of other objects during the fight; want 0 (nothing but the mux changed)", otherWrites)
	}
	t.Logf("%d re-applies in %v; mux writes %d (audit), svcmux_writes_total{kind=mux} +%v; slowest restore %v",
		applies, sz.gitopsFor, muxWrites, after-before, slowest.Round(time.Millisecond))
	record(section{name: fmt.Sprintf("GitOps fight for %v (%d channels)", sz.gitopsFor, n), lines: []string{
		fmt.Sprintf("%s server-side applies (force) the mux manifest with the placeholder port every second: %d re-applies", world.ManagerArgoCD, applies),
		fmt.Sprintf("agent writes of the mux %d (audit log), svcmux_writes_total{kind=mux} +%v (every mux the agent sees): %.2f per re-apply; other agent writes %d",
			muxWrites, after-before, float64(muxWrites)/float64(max(applies, 1)), otherWrites),
		fmt.Sprintf("mux ports restored after every re-apply; slowest restore %v", slowest.Round(time.Millisecond)),
		fmt.Sprintf("observer: %s", o.summary()),
	}})
}
