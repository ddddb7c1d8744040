package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// SPEC §3: ownership and precedence.

func auto(svc *corev1.Service, spec string) *corev1.Service {
	return withAnn(svc, testKeys.ExternalPorts, spec)
}

func TestOwnerBeatsNewcomer(t *testing.T) {
	// app/aaa sorts before app/api, asks explicitly for the port app/api owns.
	newcomer := func() *corev1.Service { return auto(channel("app/aaa", "http:80"), "http:20000") }
	owner := func() *corev1.Service { return auto(channel("app/api", "http:8080"), "http:auto") }
	conflict := "channel app/aaa: 20000/TCP is already claimed by app/api:" + hash7("app", "api", "http")
	for _, tc := range []struct {
		name string
		snap Snapshot
	}{
		{
			name: "a newcomer that sorts first loses to the persisted owner",
			snap: Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)), Channels: channels(newcomer(), owner()),
				StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20000, "auto"))},
		},
		{
			name: "a newcomer that sorts first loses to the owner recovered from the live mux ports",
			snap: Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng), muxPorts(sp("app", "api", "http", 20000, "TCP"))),
				Channels: channels(newcomer(), owner())},
		},
		{
			name: "a newcomer that sorts first loses to the owner recovered from its ports annotation",
			snap: Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)),
				Channels: channels(newcomer(), withPorts(owner(), "http:8080->20000"))},
		},
		{
			name: "the persisted claim wins over a live mux port naming someone else",
			snap: Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng), muxPorts(sp("app", "aaa", "http", 20000, "TCP"))),
				Channels:       channels(newcomer(), owner()),
				StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20000, "auto"))},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, tc.snap)
			// The refused explicit newcomer does not push the auto owner elsewhere.
			assert.Equal(t, []string{muxPort(20000, "TCP", "app/api", "http")}, portList(p))
			assert.Equal(t, "http:8080->20000", annotation(outcome(t, p, "app/api")))
			n := outcome(t, p, "app/aaa")
			assert.False(t, n.Serving())
			assert.Equal(t, api.ReasonMuxPortConflict, n.Reason)
			assert.Equal(t, conflict, n.Message)
			assert.Equal(t, conflict, message(t, p, "app/aaa", api.ReasonMuxPortConflict))
			assert.Equal(t, []string{"TCP:app:api:http=20000/auto"}, claimsOf(p))
		})
	}
}

func TestPortLimit(t *testing.T) {
	limited := func(n string, more ...svcOpt) *corev1.Service {
		return mux(append([]svcOpt{muxAnn(testKeys.MaxPorts, n)}, more...)...)
	}
	exceeded := func(limit, serves int, ch string, needs int) string {
		return fmt.Sprintf("mux svc-mux/mux is limited to %d port(s) and serves %d; channel %s needs %d more; remove ports or raise svc-mux.nowake.ai/max-ports",
			limit, serves, ch, needs)
	}
	for _, tc := range []struct {
		name     string
		snap     Snapshot
		ports    []string
		refused  map[string]string // ref -> exact message
		kept     []string
		accepted []string
	}{
		{
			name: "existing owners are admitted first, then newcomers in namespace/name order",
			snap: Snapshot{Mux: limited("2"),
				Channels:       channels(channel("app/z", "http:8080"), channel("app/b", "http:82"), channel("app/a", "http:81")),
				StateConfigMap: stateOf(claim("app/z", "http", "TCP", 8080, 8080, "static"))},
			ports:    []string{muxPort(81, "TCP", "app/a", "http"), muxPort(8080, "TCP", "app/z", "http")},
			accepted: []string{"app/z", "app/a"},
			refused:  map[string]string{"app/b": exceeded(2, 2, "app/b", 1)},
		},
		{
			name: "a newcomer never evicts an owner, even one recovered from the live mux",
			snap: Snapshot{Mux: limited("1", muxPorts(sp("app", "z", "http", 8080, "TCP"))),
				Channels: channels(channel("app/a", "http:81"), channel("app/z", "http:8080"))},
			ports:    []string{muxPort(8080, "TCP", "app/z", "http")},
			accepted: []string{"app/z"},
			refused:  map[string]string{"app/a": exceeded(1, 1, "app/a", 1)},
		},
		{
			name: "an owner that grows past the limit keeps serving its accepted ports",
			snap: Snapshot{Mux: limited("1"),
				Channels:       channels(withPorts(channel("app/z", "http:8080", "grpc:9090"), "http:8080->8080")),
				StateConfigMap: stateOf(claim("app/z", "http", "TCP", 8080, 8080, "static"))},
			ports: []string{muxPort(8080, "TCP", "app/z", "http")},
			kept:  []string{"app/z"},
		},
		{
			name: "a channel with more ports than the limit never gets part of them",
			snap: Snapshot{Mux: limited(" 2 "),
				Channels: channels(channel("app/a", "a:1", "b:2", "c:3"), channel("app/b", "x:4"))},
			ports:    []string{muxPort(4, "TCP", "app/b", "x")},
			accepted: []string{"app/b"},
			refused:  map[string]string{"app/a": exceeded(2, 0, "app/a", 3)},
		},
		{
			name: "an empty max-ports means no limit",
			snap: Snapshot{Mux: limited(" "),
				Channels: channels(channel("app/a", "a:1", "b:2", "c:3"))},
			ports:    []string{muxPort(1, "TCP", "app/a", "a"), muxPort(2, "TCP", "app/a", "b"), muxPort(3, "TCP", "app/a", "c")},
			accepted: []string{"app/a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, tc.snap)
			assert.Equal(t, tc.ports, portList(p))
			for _, ref := range tc.accepted {
				assert.True(t, outcome(t, p, ref).Accepted, ref)
			}
			for _, ref := range tc.kept {
				o := outcome(t, p, ref)
				assert.True(t, o.Kept, ref)
				assert.Equal(t, api.ReasonMuxPortLimitExceeded, o.Reason)
				assert.Equal(t, "http:8080->8080", annotation(o), "the ports annotation is unchanged")
			}
			for ref, msg := range tc.refused {
				o := outcome(t, p, ref)
				assert.False(t, o.Serving(), ref)
				assert.Equal(t, api.ReasonMuxPortLimitExceeded, o.Reason)
				assert.Equal(t, msg, o.Message)
				assert.Equal(t, msg, message(t, p, ref, api.ReasonMuxPortLimitExceeded))
			}
			assert.Empty(t, events(p, "svc-mux/mux", api.ReasonGkePortLimitApplied))
		})
	}
}

func TestGKEPortLimit(t *testing.T) {
	hundredAndOne := func() []*corev1.Service {
		var out []*corev1.Service
		for i := 0; i <= 100; i++ {
			out = append(out, channel(fmt.Sprintf("app/c%03d", i), fmt.Sprintf("http:%d", 1000+i)))
		}
		return out
	}
	gkeClass := func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("networking.gke.io/l4-regional-external") }
	otherClass := func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/networking.gke.io/x") }
	without := "Detected a GKE LoadBalancer mux without svc-mux.nowake.ai/max-ports; applying the GKE Service LoadBalancer limit of 100 ports"
	for _, tc := range []struct {
		name   string
		mux    *corev1.Service
		served int
		notice string // "" = no GkePortLimitApplied
	}{
		{"a class starting with networking.gke.io/ caps the mux at 100 ports", mux(gkeClass), 100, without},
		{"cloud.google.com/l4-rbs marks a GKE mux", mux(muxAnn("cloud.google.com/l4-rbs", "enabled")), 100, without},
		{"networking.gke.io/load-balancer-type marks a GKE mux", mux(muxAnn("networking.gke.io/load-balancer-type", "Internal")), 100, without},
		{"networking.gke.io/load-balancer-ip-addresses marks a GKE mux", mux(muxAnn("networking.gke.io/load-balancer-ip-addresses", "ip-1")), 100, without},
		{"a GKE max-ports above 100 is capped at 100", mux(gkeClass, muxAnn(testKeys.MaxPorts, "150")), 100,
			"Detected a GKE LoadBalancer mux with svc-mux.nowake.ai/max-ports=150; using the GKE Service LoadBalancer limit of 100 ports"},
		{"a GKE max-ports of at most 100 is used as is, without a notice", mux(gkeClass, muxAnn(testKeys.MaxPorts, "40")), 40, ""},
		{"a GKE max-ports of exactly 100 applies without a notice", mux(gkeClass, muxAnn(testKeys.MaxPorts, "100")), 100, ""},
		{"a mux that is not GKE has no implicit limit", mux(otherClass), 101, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: hundredAndOne()})
			assert.Len(t, p.Ports, tc.served)
			assert.Equal(t, tc.served, p.Stats.Ports)
			assert.Equal(t, 101-tc.served, p.Stats.Rejected)
			if tc.served < 101 {
				// The last channels in namespace/name order are the ones refused.
				last := outcome(t, p, "app/c100")
				assert.Equal(t, api.ReasonMuxPortLimitExceeded, last.Reason)
				assert.True(t, outcome(t, p, fmt.Sprintf("app/c%03d", tc.served-1)).Accepted)
			}
			if tc.notice == "" {
				assert.Empty(t, events(p, "svc-mux/mux", api.ReasonGkePortLimitApplied))
				return
			}
			ev := events(p, "svc-mux/mux", api.ReasonGkePortLimitApplied)
			require.Len(t, ev, 1)
			assert.Equal(t, api.EventWarning, ev[0].Type)
			assert.Equal(t, tc.notice, ev[0].Message)
		})
	}
}

// SPEC §10: an AWS NLB has at most 50 listeners, one per public (port, protocol).
func TestAWSNLBPortLimit(t *testing.T) {
	fiftyOne := func() []*corev1.Service {
		var out []*corev1.Service
		for i := 0; i <= 50; i++ {
			out = append(out, channel(fmt.Sprintf("app/c%03d", i), fmt.Sprintf("http:%d", 1000+i)))
		}
		return out
	}
	nlbClass := func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("service.k8s.aws/nlb") }
	lbType := func(v string) svcOpt { return muxAnn("service.beta.kubernetes.io/aws-load-balancer-type", v) }
	without := "Detected an AWS NLB mux without svc-mux.nowake.ai/max-ports; applying the AWS NLB limit of 50 listeners (one per port and protocol)"
	for _, tc := range []struct {
		name   string
		mux    *corev1.Service
		served int
		notice string // "" = no AwsNlbPortLimitApplied
	}{
		{"the class service.k8s.aws/nlb caps the mux at 50 listeners", mux(nlbClass), 50, without},
		{"aws-load-balancer-type nlb marks an AWS NLB mux", mux(lbType("nlb")), 50, without},
		{"aws-load-balancer-type external marks an AWS NLB mux", mux(lbType("external")), 50, without},
		{"aws-load-balancer-type is read trimmed", mux(lbType(" nlb ")), 50, without},
		{"an AWS NLB max-ports above 50 is capped at 50", mux(nlbClass, muxAnn(testKeys.MaxPorts, "80")), 50,
			"Detected an AWS NLB mux with svc-mux.nowake.ai/max-ports=80; using the AWS NLB limit of 50 listeners (one per port and protocol)"},
		{"an AWS NLB max-ports of at most 50 is used as is, without a notice", mux(lbType("external"), muxAnn(testKeys.MaxPorts, "20")), 20, ""},
		{"an AWS NLB max-ports of exactly 50 applies without a notice", mux(nlbClass, muxAnn(testKeys.MaxPorts, "50")), 50, ""},
		{"a mux marked for both AWS NLB and GKE takes the smaller cap, AWS's", mux(nlbClass, muxAnn("cloud.google.com/l4-rbs", "enabled")), 50, without},
		{"aws-load-balancer-type of another kind is no NLB", mux(lbType("classic")), 51, ""},
		{"an empty aws-load-balancer-type is no NLB", mux(lbType("")), 51, ""},
		{"another AWS class is no NLB", mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("service.k8s.aws/alb") }), 51, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: fiftyOne()})
			assert.Len(t, p.Ports, tc.served)
			assert.Equal(t, tc.served, p.Stats.Ports)
			assert.Equal(t, 51-tc.served, p.Stats.Rejected)
			if tc.served < 51 {
				// The last channels in namespace/name order are the ones refused.
				assert.Equal(t, tc.served, p.Limit)
				assert.Equal(t, api.ReasonMuxPortLimitExceeded, outcome(t, p, "app/c050").Reason)
				assert.True(t, outcome(t, p, fmt.Sprintf("app/c%03d", tc.served-1)).Accepted)
			}
			assert.Empty(t, events(p, "svc-mux/mux", api.ReasonGkePortLimitApplied))
			if tc.notice == "" {
				assert.Empty(t, events(p, "svc-mux/mux", api.ReasonAwsNlbPortLimitApplied))
				return
			}
			ev := events(p, "svc-mux/mux", api.ReasonAwsNlbPortLimitApplied)
			require.Len(t, ev, 1)
			assert.Equal(t, api.EventWarning, ev[0].Type)
			assert.Equal(t, tc.notice, ev[0].Message)
		})
	}
}

// Admission under the AWS cap follows SPEC §3: owners first and never evicted,
// each (port, protocol) one listener, the newcomer over the cap refused.
func TestAWSNLBOwnersFirst(t *testing.T) {
	nlb := mux(muxAnn("service.beta.kubernetes.io/aws-load-balancer-type", "external"))
	var chs []*corev1.Service
	var claims []state.Claim
	for i := 1; i <= 24; i++ {
		ref := fmt.Sprintf("app/o%02d", i)
		chs = append(chs, channel(ref, fmt.Sprintf("dns:%d", 100+i), fmt.Sprintf("dnsu:%d/UDP", 100+i)))
		claims = append(claims, claim(ref, "dns", "TCP", int32(100+i), int32(100+i), "static"),
			claim(ref, "dnsu", "UDP", int32(100+i), int32(100+i), "static"))
	}
	// 48 listeners owned; a newcomer sorting first wants 3 more, another wants 2.
	chs = append(chs, channel("app/a-new", "a:1", "b:2", "c:3"), channel("app/z-new", "a:4", "b:5/UDP"))
	p := compute(t, Snapshot{Mux: nlb, Channels: chs, StateConfigMap: stateOf(claims...)})
	assert.Equal(t, 50, p.Stats.Ports)
	for i := 1; i <= 24; i++ {
		assert.True(t, outcome(t, p, fmt.Sprintf("app/o%02d", i)).Accepted)
	}
	o := outcome(t, p, "app/a-new")
	assert.False(t, o.Serving())
	assert.Equal(t, api.ReasonMuxPortLimitExceeded, o.Reason)
	assert.Equal(t, "mux svc-mux/mux is limited to 50 port(s) and serves 48; channel app/a-new needs 3 more; remove ports or raise svc-mux.nowake.ai/max-ports", o.Message)
	assert.True(t, outcome(t, p, "app/z-new").Accepted, "a later newcomer that fits is admitted")
	assert.Equal(t, "Detected an AWS NLB mux without svc-mux.nowake.ai/max-ports; applying the AWS NLB limit of 50 listeners (one per port and protocol)",
		message(t, p, "svc-mux/mux", api.ReasonAwsNlbPortLimitApplied))
}

// A takeover of an NLB mux the Python controller filled past 50 ports (which the
// NLB never had listeners for) keeps the first 50 owners in namespace/name order.
func TestAWSNLBTakeoverOverTheCapKeepsTheFirstFiftyOwners(t *testing.T) {
	var chs []*corev1.Service
	var claims []state.Claim
	for i := 0; i < 51; i++ {
		ref := fmt.Sprintf("app/c%03d", i)
		chs = append(chs, withPorts(channel(ref, fmt.Sprintf("http:%d", 1000+i)), fmt.Sprintf("http:%d->%d", 1000+i, 1000+i)))
		claims = append(claims, claim(ref, "http", "TCP", int32(1000+i), int32(1000+i), "static"))
	}
	p := compute(t, Snapshot{Mux: mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("service.k8s.aws/nlb") }),
		Channels: chs, StateConfigMap: stateOf(claims...)})
	assert.Equal(t, 50, p.Stats.Ports)
	assert.True(t, outcome(t, p, "app/c049").Accepted)
	last := outcome(t, p, "app/c050")
	assert.False(t, last.Serving(), "over the cap even as an owner: nothing to keep")
	assert.Equal(t, "mux svc-mux/mux is limited to 50 port(s) and serves 50; channel app/c050 needs 1 more; remove ports or raise svc-mux.nowake.ai/max-ports", last.Message)
}

func TestIsAWSNLB(t *testing.T) {
	assert.False(t, IsAWSNLB(mux()))
	assert.True(t, IsAWSNLB(mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("service.k8s.aws/nlb") })))
	assert.False(t, IsAWSNLB(mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("service.k8s.aws/nlb-ip") })), "the class is matched exactly")
	assert.False(t, IsAWSNLB(mux(muxAnn("service.beta.kubernetes.io/aws-load-balancer-type", "NLB"))), "values are case-sensitive, as AWS reads them")
	assert.False(t, IsGKE(mux(muxAnn("service.beta.kubernetes.io/aws-load-balancer-type", "nlb"))))
}

// A mux that cannot be reconciled is frozen: the plan carries nothing but the Event,
// so its ports, endpoints, annotations and state stay as they are.
func TestFrozenMux(t *testing.T) {
	withFinalizer := func(s *corev1.Service) { s.Finalizers = []string{testKeys.Finalizer} }
	for _, tc := range []struct {
		name    string
		mux     *corev1.Service
		reason  string
		message string
	}{
		{"max-ports 0 is invalid", mux(muxAnn(testKeys.MaxPorts, "0")), api.ReasonInvalidMaxPorts,
			`mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value "0"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"a non-numeric max-ports is invalid", mux(muxAnn(testKeys.MaxPorts, "ten")), api.ReasonInvalidMaxPorts,
			`mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value "ten"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"a negative max-ports is invalid", mux(muxAnn(testKeys.MaxPorts, "-3")), api.ReasonInvalidMaxPorts,
			`mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value "-3"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"a fractional max-ports is invalid, even on GKE", mux(muxAnn(testKeys.MaxPorts, "1.5"), muxAnn("cloud.google.com/l4-rbs", "enabled")), api.ReasonInvalidMaxPorts,
			`mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value "1.5"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"an allowed-namespaces entry that is no namespace name freezes the mux", mux(muxAnn(testKeys.AllowedNamespaces, "team-a, Team_B")),
			api.ReasonInvalidAllowedNamespaces, `mux svc-mux/mux: annotation svc-mux.nowake.ai/allowed-namespaces: "Team_B": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"an empty allowed-namespaces freezes the mux rather than admit nobody", mux(muxAnn(testKeys.AllowedNamespaces, " , ")),
			api.ReasonInvalidAllowedNamespaces, `mux svc-mux/mux: annotation svc-mux.nowake.ai/allowed-namespaces: no namespace given; expected "*" or a comma list such as "team-a, team-*"; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"an unparsable allowed-namespace-selector freezes the mux", mux(muxAnn(testKeys.AllowedNamespaceSelector, "team in (a,")),
			api.ReasonInvalidAllowedNamespaces, `mux svc-mux/mux: annotation svc-mux.nowake.ai/allowed-namespace-selector: unable to parse requirement: found '', expected: ',', or identifier; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"a selector the reader has no Namespace labels for freezes the mux", mux(muxAnn(testKeys.AllowedNamespaceSelector, "team=a")),
			api.ReasonInvalidAllowedNamespaces, `mux svc-mux/mux: annotation svc-mux.nowake.ai/allowed-namespace-selector needs Namespace labels, and the agent does not watch Namespaces; install the chart with agent.namespaceSelector=true (agent flag --namespace-selector), or use svc-mux.nowake.ai/allowed-namespaces; the mux keeps its current ports, endpoints and state until it is fixed`},
		{"a mux that is not a LoadBalancer is NotLoadBalancer", mux(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
			api.ReasonNotLoadBalancer, `mux svc-mux/mux has type "ClusterIP"; a multiplexer Service must be of type LoadBalancer`},
		{"a mux with a selector is NotSupported", mux(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} }),
			api.ReasonNotSupported, "mux svc-mux/mux has a selector; a multiplexer Service must not select pods (remove spec.selector)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.mux
			m.Spec.Ports = []corev1.ServicePort{sp("app", "api", "http", 20000, "TCP")}
			withFinalizer(m)
			p := compute(t, Snapshot{
				Mux:            m,
				Channels:       channels(auto(channel("app/api", "http:8080"), "http:auto"), channel("app/new", "http:80")),
				StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20000, "auto")),
				ChannelSlices:  slices(slice("app/api", "api-1", "http", 8080, "10.0.0.1")),
			})
			assert.True(t, p.Frozen)
			assert.Equal(t, tc.reason, p.FrozenReason)
			assert.Nil(t, p.Ports)
			assert.Nil(t, p.Annotations)
			assert.Nil(t, p.RemoveAnnotations)
			assert.Nil(t, p.Slices)
			assert.Nil(t, p.Endpoints)
			assert.False(t, p.DeleteLegacyEndpoints)
			assert.Nil(t, p.Channels)
			assert.False(t, p.State.Write)
			assert.False(t, p.State.Create)
			assert.Empty(t, p.State.Document.Claims)
			assert.Equal(t, []Event{{Object: ObjectRef{Kind: "Service", Namespace: "svc-mux", Name: "mux", UID: "mux-uid"},
				Type: api.EventWarning, Reason: tc.reason, Message: tc.message}}, p.Events)
		})
	}
}

func TestParseMaxPorts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"", 0, true}, {"  ", 0, true}, {"1", 1, true}, {" 250 ", 250, true}, {"0", 0, false}, {"-1", 0, false}, {"1e3", 0, false}, {"x", 0, false}} {
		t.Run(fmt.Sprintf("max-ports %q", tc.in), func(t *testing.T) {
			n, err := ParseMaxPorts(tc.in, testKeys.MaxPorts)
			assert.Equal(t, tc.want, n)
			assert.Equal(t, tc.ok, err == nil, "%v", err)
		})
	}
}

func TestOwnersAmongThemselves(t *testing.T) {
	t.Run("an owner moving off a port frees it for a newcomer in the same pass", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(),
			Channels:       channels(channel("app/z", "http:8081"), channel("app/a", "http:8080")),
			StateConfigMap: stateOf(claim("app/z", "http", "TCP", 8080, 8080, "static"))})
		assert.Equal(t, []string{muxPort(8080, "TCP", "app/a", "http"), muxPort(8081, "TCP", "app/z", "http")}, portList(p))
		assert.True(t, outcome(t, p, "app/a").Accepted)
		assert.True(t, outcome(t, p, "app/z").Accepted)
		assert.Equal(t, []string{"TCP:app:a:http=8080/static", "TCP:app:z:http=8081/static"}, claimsOf(p))
	})

	t.Run("an owner asking for another owner's port is refused and keeps its own, even when it sorts first", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(),
			Channels: channels(withPorts(auto(channel("app/a", "http:80"), "http:8080"), "http:80->9000"), channel("app/b", "http:8080")),
			StateConfigMap: stateOf(
				claim("app/a", "http", "TCP", 80, 9000, "static"),
				claim("app/b", "http", "TCP", 8080, 8080, "static"),
			)})
		assert.Equal(t, []string{muxPort(8080, "TCP", "app/b", "http"), muxPort(9000, "TCP", "app/a", "http")}, portList(p))
		a := outcome(t, p, "app/a")
		assert.True(t, a.Kept)
		assert.Equal(t, api.ReasonMuxPortConflict, a.Reason)
		assert.Equal(t, "http:80->9000", annotation(a))
		assert.True(t, outcome(t, p, "app/b").Accepted)
	})

	t.Run("two owners swapping ports both keep theirs until one gives way", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(),
			Channels: channels(
				withPorts(auto(channel("app/a", "http:80"), "http:9001"), "http:80->9000"),
				withPorts(auto(channel("app/b", "http:80"), "http:9000"), "http:80->9001"),
			),
			StateConfigMap: stateOf(
				claim("app/a", "http", "TCP", 80, 9000, "static"),
				claim("app/b", "http", "TCP", 80, 9001, "static"),
			)})
		assert.Equal(t, []string{muxPort(9000, "TCP", "app/a", "http"), muxPort(9001, "TCP", "app/b", "http")}, portList(p))
		assert.True(t, outcome(t, p, "app/a").Kept)
		assert.True(t, outcome(t, p, "app/b").Kept)
	})

	t.Run("auto skips ports owned statically", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20002")),
			Channels: channels(
				auto(channel("app/a", "http:80"), "http:auto"),
				auto(channel("app/z", "http:80"), "http:20000"),
			),
			StateConfigMap: stateOf(claim("app/z", "http", "TCP", 80, 20000, "static"))})
		assert.Equal(t, []string{muxPort(20000, "TCP", "app/z", "http"), muxPort(20001, "TCP", "app/a", "http")}, portList(p))
	})

	t.Run("a refused newcomer's explicit port does not push an auto newcomer later in order", func(t *testing.T) {
		// app/a is refused (its other port conflicts with the owner), so its 20000 is
		// never reserved and app/b's auto port takes it.
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20002")),
			Channels: channels(
				auto(channel("app/a", "http:80", "x:7000"), "http:20000"),
				auto(channel("app/b", "http:80"), "http:auto"),
				channel("app/z", "x:7000"),
			),
			StateConfigMap: stateOf(claim("app/z", "x", "TCP", 7000, 7000, "static"))})
		assert.Equal(t, []string{muxPort(7000, "TCP", "app/z", "x"), muxPort(20000, "TCP", "app/b", "http")}, portList(p))
		assert.Equal(t, api.ReasonMuxPortConflict, outcome(t, p, "app/a").Reason)
	})
}

// Every key derives from the configured prefix; nothing assumes the default.
func TestCustomPrefix(t *testing.T) {
	keys := api.NewKeys("lb.example.com")
	o := Options{Keys: keys, DefaultMuxNamespace: "svc-mux", Now: testNow}
	m := mux(func(s *corev1.Service) {
		s.Annotations = map[string]string{"lb.example.com/multiplexer": "true", "lb.example.com/port-range": "20000-20009",
			"svc-mux.nowake.ai/port-range": "30000-30009"}
		s.Finalizers = []string{"lb.example.com/finalizer", "svc-mux.nowake.ai/finalizer"}
	})
	c := withClass(channel("app/api", "http:8080", "dns:53/UDP"), "lb.example.com/mux")
	c.Annotations = map[string]string{"lb.example.com/external-ports": "http:auto", "svc-mux.nowake.ai/external-ports": "dns:5353",
		"lb.example.com/external-dns-hostname": "api.example.com"}
	p := compute(t, Snapshot{Mux: m, Channels: channels(c)}, o)
	assert.Equal(t, keys, p.Keys)
	assert.Equal(t, []string{muxPort(53, "UDP", "app/api", "dns"), muxPort(20000, "TCP", "app/api", "http")}, portList(p))
	out := outcome(t, p, "app/api")
	assert.Equal(t, "http:8080->20000, dns:53->53", annotation(out))
	assert.Equal(t, "lb.example.com/Accepted", out.Condition.Type)
	assert.Equal(t, map[string]string{"lb.example.com/mux": "svc-mux/mux"}, p.State.Annotations)
	for k := range p.Annotations {
		assert.False(t, strings.HasPrefix(k, "svc-mux.nowake.ai/"), k)
	}
	assert.Equal(t, `["app/api"]`, p.Annotations["lb.example.com/channels"])
	assert.Equal(t, "external-dns.alpha.kubernetes.io/hostname", p.Annotations["lb.example.com/aggregated-external-dns"])
	assert.Equal(t, []ObjectRef{p.Mux}, p.StripFinalizers)
}
