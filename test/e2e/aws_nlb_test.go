package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// SPEC §10, provider caps: an AWS NLB has at most 50 listeners, one per public
// (port, protocol). A mux marked as one admits 50, told by AwsNlbPortLimitApplied;
// a newcomer past them is refused even when it sorts first, and no owner moves.
func TestAnAWSNLBMuxAdmitsFiftyListenersThenRefusesTheNextWithoutEvictingAnOwner(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{"service.beta.kubernetes.io/aws-load-balancer-type": "external"})
	var owners []*corev1.Service
	var want []world.Port
	for i := 0; i < 50; i++ {
		name, port := fmt.Sprintf("ch-%02d", i), int32(8000+i)
		ch := w.ChannelObject(name, "mux", nil, world.TCP("http", port))
		ch.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false) // a channel needs no NodePort
		owners = append(owners, ch)
		want = append(want, w.MuxPort(name, "http", port))
	}
	w.CreateServices(owners)
	a := w.StartAgent()
	for i := 0; i < 50; i++ {
		w.WaitAccepted(fmt.Sprintf("ch-%02d", i), fmt.Sprintf("http:%d->%d", 8000+i, 8000+i))
	}
	w.WaitMuxPorts("mux", want...)
	notice := fmt.Sprintf("Detected an AWS NLB mux without %s; applying the AWS NLB limit of 50 listeners (one per port and protocol)", w.Key("max-ports"))
	w.WaitEvent("mux", corev1.EventTypeWarning, "AwsNlbPortLimitApplied", notice)

	// "a-late" sorts before every owner: only ownership keeps it out.
	late := w.ChannelObject("a-late", "mux", nil, world.TCP("http", 7000))
	late.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
	w.CreateService(late)
	refusal := fmt.Sprintf("mux %s is limited to 50 port(s) and serves 50; channel %s needs 1 more; remove ports or raise %s",
		w.Ref("mux"), w.Ref("a-late"), w.Key("max-ports"))
	got := w.WaitRejected("a-late", "MuxPortLimitExceeded", refusal)
	if v, has := got.Annotations[w.Key("ports")]; has {
		t.Errorf("refused a-late has a ports annotation %q", v)
	}
	w.WaitEvent("a-late", corev1.EventTypeWarning, "MuxPortLimitExceeded", refusal)
	w.AwaitPass(a, "mux")

	// Owners stay: the same 50 mux ports, each owner accepted with its port, 50 claims.
	w.WaitMuxPorts("mux", want...)
	for i := 0; i < 50; i++ {
		w.WaitAccepted(fmt.Sprintf("ch-%02d", i), fmt.Sprintf("http:%d->%d", 8000+i, 8000+i))
	}
	if n := len(w.Claims("mux")); n != 50 {
		t.Errorf("state holds %d claims, want the 50 owners'", n)
	}
	// The cap's Warning stands behind every pass but is posted once.
	if n := countEvents(w.Events("mux"), "AwsNlbPortLimitApplied"); n != 1 {
		t.Errorf("AwsNlbPortLimitApplied posted %d times, want once:%s", n, world.EventsText(w.Events("mux")))
	}
}

// countEvents sums the counts of the Events with reason (an Event re-posted by
// the recorder's correlator has its count raised instead of a second object).
func countEvents(evs []corev1.Event, reason string) int {
	n := 0
	for _, e := range evs {
		if e.Reason == reason {
			n += int(max(e.Count, 1))
		}
	}
	return n
}
