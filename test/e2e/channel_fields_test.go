package e2e

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// What each ignored field is told, as SPEC §10 asks: the field and what to do instead.
const (
	fixEveryChannel = "(set it on the mux, where it applies to every channel, or give the workload its own load balancer)"
	fixLocal        = "(only the mux's load balancer health-checks nodes, never the channel's healthCheckNodePort: " +
		"set externalTrafficPolicy: Local on the mux to keep client source IPs for every channel, or give the workload its own load balancer)"
	fixLBIP       = "(the channel's address is the mux's: set it on the mux, or give the workload its own load balancer)"
	fixAnnotation = "(no cloud load balancer is made for a channel: set it on the mux, or give the workload its own load balancer)"
)

// ignoredCase is a channel setting one field a shared load balancer cannot honour.
type ignoredCase struct {
	name    string
	mutate  func(*corev1.Service)
	ignored string // what the Event and the condition name
}

func ignoredCases() []ignoredCase {
	ann := func(k string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Annotations = map[string]string{k: "x"} }
	}
	return []ignoredCase{
		{"ranges", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			"spec.loadBalancerSourceRanges " + fixEveryChannel},
		// The API server assigns a healthCheckNodePort for Local: it is part of this entry.
		{"local", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			"spec.externalTrafficPolicy: Local " + fixLocal},
		{"lbip", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "203.0.113.7" }, "spec.loadBalancerIP " + fixLBIP},
		{"affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP },
			"spec.sessionAffinity: ClientIP " + fixEveryChannel},
		{"aws", ann("service.beta.kubernetes.io/aws-load-balancer-scheme"),
			"annotation service.beta.kubernetes.io/aws-load-balancer-scheme " + fixAnnotation},
		{"azure", ann("service.beta.kubernetes.io/azure-load-balancer-internal"),
			"annotation service.beta.kubernetes.io/azure-load-balancer-internal " + fixAnnotation},
		{"gcloud", ann("cloud.google.com/l4-rbs"), "annotation cloud.google.com/l4-rbs " + fixAnnotation},
		{"gke", ann("networking.gke.io/load-balancer-type"), "annotation networking.gke.io/load-balancer-type " + fixAnnotation},
	}
}

// SPEC §10: a channel that sets a field the mux's load balancer cannot honour is
// accepted as before, told once (one ChannelFieldIgnored Warning per channel for the
// distinct set), and its condition says what is ignored. A plain channel's condition
// is unchanged, an idle cluster gets no new Event, nor does a restarted agent; an
// edit that changes the set is told again, one that does not is not.
func TestEachIgnoredChannelFieldIsOneWarningPerChannelAndNoneWhileIdle(t *testing.T) {
	w := world.New(t)
	w.Quiet() // it counts the agent's writes
	w.CreateMux("mux", nil)
	cases := ignoredCases()
	var list []*corev1.Service
	for i, c := range append(cases, ignoredCase{name: "plain", mutate: func(*corev1.Service) {}}) {
		ch := w.ChannelObject(c.name, "mux", nil, world.TCP("http", int32(8080+i)))
		ch.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
		c.mutate(ch)
		list = append(list, ch)
	}
	w.CreateServices(list)
	a := w.StartAgent()

	eventText := func(name, ignored string) string {
		return fmt.Sprintf("channel %s: the shared load balancer of mux %s ignores %s", w.Ref(name), w.Ref("mux"), ignored)
	}
	accepted := func(name string, port int) string {
		return fmt.Sprintf("channel %s is served by mux %s: http:%d->%d", w.Ref(name), w.Ref("mux"), port, port)
	}
	for i, c := range cases {
		svc := w.WaitAccepted(c.name, fmt.Sprintf("http:%d->%d", 8080+i, 8080+i))
		if got, want := w.Accepted(svc).Message, accepted(c.name, 8080+i)+"; ignored: "+c.ignored; got != want {
			t.Errorf("%s: condition message\n got %q\nwant %q", c.name, got, want)
		}
		w.WaitEvent(c.name, corev1.EventTypeWarning, "ChannelFieldIgnored", eventText(c.name, c.ignored))
	}
	plain := w.WaitAccepted("plain", fmt.Sprintf("http:%d->%d", 8080+len(cases), 8080+len(cases)))
	if got, want := w.Accepted(plain).Message, accepted("plain", 8080+len(cases)); got != want {
		t.Errorf("plain: condition message %q, want %q (unchanged)", got, want)
	}
	if hc := w.Service("local").Spec.HealthCheckNodePort; hc == 0 {
		t.Errorf("the API server assigned no healthCheckNodePort to the Local channel")
	}

	w.AwaitPass(a, "mux")
	checkOneEach := func(phase string) {
		t.Helper()
		for _, c := range append(cases, ignoredCase{name: "plain"}) {
			want := 1
			if c.name == "plain" {
				want = 0
			}
			evs := w.Events(c.name)
			if n := countEvents(evs, "ChannelFieldIgnored"); n != want {
				t.Errorf("%s: %s has %d ChannelFieldIgnored Event(s), want %d:%s", phase, c.name, n, want, world.EventsText(evs))
			}
		}
	}
	checkOneEach("after the first passes")

	// Idle: passes that see nothing new post nothing and write nothing.
	posted, writes := eventsPosted(t, a), a.Writes(t)
	w.AwaitPass(a, "mux")
	if p, wr := eventsPosted(t, a), a.Writes(t); p != posted || wr != writes {
		t.Errorf("idle agent posted %d Event(s) and made %d write(s)", p-posted, wr-writes)
	}
	checkOneEach("while idle")

	// A restarted agent finds its Events in the cluster and does not repeat them.
	a.Stop()
	a = w.StartAgent()
	w.AwaitPass(a, "mux")
	if n := eventsPosted(t, a, "reason=ChannelFieldIgnored"); n != 0 {
		t.Errorf("restarted agent posted %d ChannelFieldIgnored Event(s)\n%s", n, a.LogTail(30))
	}
	checkOneEach("after a restart")

	// The same set with other values is not told again; a different set is, once.
	w.UpdateService("ranges", "e2e", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24"} })
	w.AwaitPass(a, "mux")
	if n := countEvents(w.Events("ranges"), "ChannelFieldIgnored"); n != 1 {
		t.Errorf("new CIDRs, same field: %d ChannelFieldIgnored Events on ranges, want 1", n)
	}
	w.UpdateService("ranges", "e2e", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP })
	both := cases[0].ignored + "; spec.sessionAffinity: ClientIP " + fixEveryChannel
	w.WaitEvent("ranges", corev1.EventTypeWarning, "ChannelFieldIgnored", eventText("ranges", both))
	w.AwaitPass(a, "mux")
	evs := w.Events("ranges")
	if n := countEvents(evs, "ChannelFieldIgnored"); n != 2 {
		t.Errorf("a second field: %d ChannelFieldIgnored Events on ranges, want 2 (one per distinct set):%s", n, world.EventsText(evs))
	}
	svc := w.WaitAccepted("ranges", "http:8080->8080")
	if msg := w.Accepted(svc).Message; !strings.HasSuffix(msg, "; ignored: "+both) {
		t.Errorf("ranges condition after the edit: %q", msg)
	}
}

// eventsPosted is how many Events the agent has posted (of the reasons in match,
// "reason=ChannelFieldIgnored"; of every reason without).
func eventsPosted(t *testing.T, a *world.Agent, match ...string) int {
	t.Helper()
	v, err := a.Metric("svcmux_events_total", match...)
	if err != nil {
		t.Fatalf("read agent metrics: %v", err)
	}
	return int(v)
}
