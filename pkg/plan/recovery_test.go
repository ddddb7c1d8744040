package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// SPEC §3: a bad edit and bad configuration never take working traffic down;
// ownership survives state loss and GitOps resets.

// A bad edit never takes a working channel down: the channel keeps its last accepted
// ports, annotation and status until the mistake is fixed, and the fix restores them.
func TestBadEditKeepsTheAcceptedPorts(t *testing.T) {
	ingress := "203.0.113.7"
	first := Snapshot{
		Mux: mux(muxAnn(testKeys.PortRange, rng), muxIngress(ingress)),
		Channels: channels(
			auto(channel("app/api", "http:8080", "grpc:9090"), "http:auto"),
			channel("app/web", "http:80"),
		),
		ChannelSlices: slices(
			slice("app/api", "api-1", "http", 8080, "10.0.0.1"),
			slice("app/web", "web-1", "http", 80, "10.0.1.1"),
		),
	}
	p1 := compute(t, first)
	require.True(t, outcome(t, p1, "app/api").Accepted)
	wantPorts := []string{muxPort(80, "TCP", "app/web", "http"), muxPort(9090, "TCP", "app/api", "grpc"), muxPort(20000, "TCP", "app/api", "http")}
	require.Equal(t, wantPorts, portList(p1))
	wantAnnotation := "http:8080->20000, grpc:9090->9090"
	require.Equal(t, wantAnnotation, annotation(outcome(t, p1, "app/api")))
	wantClaims := []string{"TCP:app:api:grpc=9090/static", "TCP:app:api:http=20000/auto", "TCP:app:web:http=80/static"}
	require.Equal(t, wantClaims, claimsOf(p1))
	accepted := applied(first, p1)

	for _, tc := range []struct {
		name    string
		edit    func(api, web *corev1.Service)
		reason  string
		message string
	}{
		{
			name:   "a typo in external-ports",
			edit:   func(api, _ *corev1.Service) { api.Annotations[testKeys.ExternalPorts] = "http:atuo" },
			reason: api.ReasonInvalidPortMapping,
			message: `channel app/api: annotation svc-mux.nowake.ai/external-ports: invalid item "http:atuo": expected name:port (1-65535) or name:auto` +
				"; still serving its last accepted ports " + wantAnnotation,
		},
		{
			name:   "an explicit port another channel owns",
			edit:   func(api, _ *corev1.Service) { api.Annotations[testKeys.ExternalPorts] = "http:auto,grpc:80" },
			reason: api.ReasonMuxPortConflict,
			message: "channel app/api: 80/TCP is already claimed by " + owner("app/web", "http") +
				"; still serving its last accepted ports " + wantAnnotation,
		},
		{
			name:   "an unknown port name in external-ports",
			edit:   func(api, _ *corev1.Service) { api.Annotations[testKeys.ExternalPorts] = "http:auto,htpp:1" },
			reason: api.ReasonInvalidPortMapping,
			message: "channel app/api: annotation svc-mux.nowake.ai/external-ports references unknown port name(s): htpp; use names from spec.ports" +
				"; still serving its last accepted ports " + wantAnnotation,
		},
	} {
		t.Run(tc.name+" keeps the ports and fixing it restores them", func(t *testing.T) {
			bad := deepCopySnapshot(accepted)
			tc.edit(bad.Channels[0], bad.Channels[1])
			bad.Channels[0].Generation = 2
			p2 := compute(t, bad)
			o := outcome(t, p2, "app/api")
			assert.False(t, o.Accepted)
			assert.True(t, o.Kept)
			assert.True(t, o.Serving())
			assert.Equal(t, tc.reason, o.Reason)
			assert.Equal(t, tc.message, o.Message)
			assert.Equal(t, wantPorts, portList(p2), "the mux keeps the channel's ports")
			assert.Equal(t, p1.Slices, p2.Slices, "its backends stay routed")
			assert.Equal(t, wantAnnotation, annotation(o), "the ports annotation is unchanged")
			assert.Equal(t, []corev1.LoadBalancerIngress{{IP: ingress, IPMode: ptr(corev1.LoadBalancerIPModeProxy)}}, o.Ingress, "status.loadBalancer is unchanged")
			require.NotNil(t, o.Condition)
			assert.Equal(t, metav1.ConditionFalse, o.Condition.Status)
			assert.Equal(t, tc.reason, o.Condition.Reason)
			assert.Equal(t, int64(2), o.Condition.ObservedGeneration)
			assert.Equal(t, []string{tc.reason}, reasons(p2, "app/api"))
			assert.Equal(t, wantClaims, claimsOf(p2), "the claims stay in the state document")
			assert.False(t, p2.State.Write, "nothing changed in the state")
			assert.Empty(t, events(p2, "svc-mux/mux", api.ReasonMuxPortsChanged))
			assert.Contains(t, p2.Annotations[testKeys.Topology], "    Ports: http:8080->20000 grpc:9090->9090\n")
			assert.Equal(t, 1, p2.Stats.Accepted)
			assert.Equal(t, 1, p2.Stats.Kept, "the kept channel counts once, as kept")
			assert.Equal(t, 0, p2.Stats.Rejected)

			fixed := applied(bad, p2)
			fixed.Channels[0].Annotations[testKeys.ExternalPorts] = "http:auto"
			fixed.Channels[0].Generation = 3
			p3 := compute(t, fixed)
			o = outcome(t, p3, "app/api")
			assert.True(t, o.Accepted)
			assert.Equal(t, wantPorts, portList(p3), "fixing it restores the same public ports")
			assert.Equal(t, wantAnnotation, annotation(o))
			assert.Equal(t, metav1.ConditionTrue, o.Condition.Status)
			assert.Equal(t, testNow, o.Condition.LastTransitionTime)
			assert.False(t, p3.State.Write)
			assert.Empty(t, p3.Events)
		})
	}

	t.Run("a kept channel that also drops a port keeps only the ports that still exist", func(t *testing.T) {
		bad := deepCopySnapshot(accepted)
		bad.Channels[0].Spec.Ports = bad.Channels[0].Spec.Ports[:1] // grpc removed
		bad.Channels[0].Annotations[testKeys.ExternalPorts] = "http:atuo"
		p := compute(t, bad)
		o := outcome(t, p, "app/api")
		assert.True(t, o.Kept)
		assert.Equal(t, []string{muxPort(80, "TCP", "app/web", "http"), muxPort(20000, "TCP", "app/api", "http")}, portList(p))
		assert.Equal(t, []string{"TCP:app:api:http=20000/auto", "TCP:app:web:http=80/static"}, claimsOf(p))
	})
}

func TestNeverAcceptedChannelGetsNothing(t *testing.T) {
	c := auto(channel("app/new", "http:80"), "http:oops")
	withPorts(c, "old:80->20000") // stale, from an earlier life
	withIngress(c, "198.51.100.1")
	c.Status.Conditions = []metav1.Condition{{Type: testKeys.AcceptedCondition, Status: metav1.ConditionFalse,
		Reason: api.ReasonInvalidPortMapping, LastTransitionTime: metav1.Unix(1000, 0)}}
	p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng), muxIngress("203.0.113.7")), Channels: channels(c)})
	o := outcome(t, p, "app/new")
	assert.False(t, o.Accepted)
	assert.False(t, o.Kept)
	assert.Nil(t, o.PortsAnnotation, "the stale ports annotation is removed")
	assert.Nil(t, o.Ingress, "the stale ingress is removed")
	assert.Nil(t, o.Mappings)
	assert.Equal(t, api.ReasonInvalidPortMapping, o.Reason)
	assert.Equal(t, metav1.ConditionFalse, o.Condition.Status)
	assert.Equal(t, metav1.Unix(1000, 0), o.Condition.LastTransitionTime, "still False: no transition")
	assert.Equal(t, []string{"101/TCP=placeholder"}, portList(p))
	assert.Empty(t, claimsOf(p))
}

// Unreadable state: owners keep their live ports, no new automatic port is given,
// static channels reconcile, and the ConfigMap is never written.
func TestUnreadableState(t *testing.T) {
	foreignAnnotation := stateOf()
	foreignAnnotation.Annotations[testKeys.Mux] = "other/mux"
	for _, tc := range []struct {
		name    string
		cm      *corev1.ConfigMap
		problem string
	}{
		{"invalid JSON", stateCM(`{"portClaims": [`),
			"mux state ConfigMap svc-mux/mux-port-allocations: invalid JSON: unexpected end of JSON input; fix it or run kubectl svcmux repair"},
		{"a claim missing its portName", stateCM(`{"portClaims": [{"namespace": "app", "service": "api", "muxPort": 20005, "protocol": "TCP"}]}`),
			"mux state ConfigMap svc-mux/mux-port-allocations: portClaims[0]: missing portName; fix it or run kubectl svcmux repair"},
		{"a ConfigMap annotated for another mux", foreignAnnotation,
			"mux state ConfigMap svc-mux/mux-port-allocations is owned by mux other/mux; expected svc-mux/mux. Use one state ConfigMap per mux."},
		{"a document naming another mux", stateCM(state.Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "other"},
			Claims: []state.Claim{claim("app/api", "http", "TCP", 8080, 20099, "auto")}}.Encode()),
			"mux state ConfigMap svc-mux/mux-port-allocations contains state for mux svc-mux/other; expected svc-mux/mux. Use one state ConfigMap per mux."},
	} {
		t.Run(tc.name+" is PortAllocationStoreInvalid and owners keep their live ports", func(t *testing.T) {
			p := compute(t, Snapshot{
				Mux: mux(muxAnn(testKeys.PortRange, rng), muxPorts(sp("app", "api", "http", 20005, "TCP"))),
				Channels: channels(
					auto(channel("app/api", "http:8080"), "http:auto"),
					withPorts(auto(channel("app/web", "http:80"), "http:auto"), "http:80->20007"),
					auto(channel("app/new", "http:80"), "http:auto"),
					channel("app/static", "tcp:7000"),
					auto(channel("app/explicit", "tcp:7001"), "tcp:30001"),
				),
				StateConfigMap: tc.cm,
			})
			assert.False(t, p.State.Readable)
			assert.False(t, p.State.Write)
			assert.False(t, p.State.Create)
			assert.Equal(t, tc.problem, p.State.Problem)
			assert.Equal(t, tc.problem, message(t, p, "svc-mux/mux", api.ReasonPortAllocationStoreInvalid))
			assert.Equal(t, []string{
				muxPort(7000, "TCP", "app/static", "tcp"),
				muxPort(20005, "TCP", "app/api", "http"),
				muxPort(20007, "TCP", "app/web", "http"),
				muxPort(30001, "TCP", "app/explicit", "tcp"),
			}, portList(p))
			for ref, ann := range map[string]string{"app/api": "http:8080->20005", "app/web": "http:80->20007",
				"app/static": "tcp:7000->7000", "app/explicit": "tcp:7001->30001"} {
				o := outcome(t, p, ref)
				assert.True(t, o.Accepted, ref)
				assert.Equal(t, ann, annotation(o), ref)
			}
			n := outcome(t, p, "app/new")
			assert.False(t, n.Serving())
			assert.Equal(t, api.ReasonPortAllocationStoreInvalid, n.Reason)
			assert.Equal(t, "channel app/new: no automatic port is given while the mux state is unreadable: "+tc.problem, n.Message)
			assert.Equal(t, []string{api.ReasonPortAllocationStoreInvalid}, reasons(p, "app/new"))
		})
	}
}

// State loss: with no state ConfigMap, owners are recovered from live evidence and
// keep their ports (SPEC §3 (change): the Python controller reallocates them).
func TestStateLoss(t *testing.T) {
	m := func(opts ...svcOpt) *corev1.Service {
		return mux(append([]svcOpt{muxAnn(testKeys.PortRange, rng)}, opts...)...)
	}
	for _, tc := range []struct {
		name     string
		mux      *corev1.Service
		channels []*corev1.Service
		ports    []string
		claims   []string
	}{
		{
			name:     "an auto port is recovered from the live mux and not moved; a newcomer takes the first free port",
			mux:      m(muxPorts(sp("app", "api", "http", 20042, "TCP"))),
			channels: channels(auto(channel("app/api", "http:8080"), "http:auto"), auto(channel("app/aaa", "http:80"), "http:auto")),
			ports:    []string{muxPort(20000, "TCP", "app/aaa", "http"), muxPort(20042, "TCP", "app/api", "http")},
			claims:   []string{"TCP:app:aaa:http=20000/auto", "TCP:app:api:http=20042/auto"},
		},
		{
			name:     "an auto port is recovered from the channel's ports annotation when GitOps reset the mux to the placeholder",
			mux:      m(),
			channels: channels(withPorts(auto(channel("app/api", "http:8080"), "http:auto"), "http:8080->20042"), auto(channel("app/aaa", "http:80"), "http:auto")),
			ports:    []string{muxPort(20000, "TCP", "app/aaa", "http"), muxPort(20042, "TCP", "app/api", "http")},
			claims:   []string{"TCP:app:aaa:http=20000/auto", "TCP:app:api:http=20042/auto"},
		},
		{
			name: "two channels whose ports annotations name the same port seed no owner",
			mux:  m(),
			channels: channels(
				withPorts(auto(channel("app/b", "http:80"), "http:auto"), "http:80->20042"),
				withPorts(auto(channel("app/a", "http:80"), "http:auto"), "http:80->20042"),
			),
			ports:  []string{muxPort(20000, "TCP", "app/a", "http"), muxPort(20001, "TCP", "app/b", "http")},
			claims: []string{"TCP:app:a:http=20000/auto", "TCP:app:b:http=20001/auto"},
		},
		{
			name: "the live mux port wins over another channel's annotation for the same port",
			mux:  m(muxPorts(sp("app", "api", "http", 20042, "TCP"))),
			channels: channels(
				auto(channel("app/api", "http:8080"), "http:auto"),
				withPorts(auto(channel("app/aaa", "http:80"), "http:auto"), "http:80->20042"),
			),
			ports:  []string{muxPort(20000, "TCP", "app/aaa", "http"), muxPort(20042, "TCP", "app/api", "http")},
			claims: []string{"TCP:app:aaa:http=20000/auto", "TCP:app:api:http=20042/auto"},
		},
		{
			name: "a live mux port whose name matches no channel port recovers nothing",
			mux:  m(muxPorts(sp("app", "gone", "http", 20000, "TCP"))),
			channels: channels(
				auto(channel("app/api", "http:8080"), "http:auto"),
			),
			ports:  []string{muxPort(20000, "TCP", "app/api", "http")},
			claims: []string{"TCP:app:api:http=20000/auto"},
		},
		{
			name: "a recovered port outside the range is moved into the range",
			mux:  m(muxPorts(sp("app", "api", "http", 30000, "TCP"))),
			channels: channels(
				auto(channel("app/api", "http:8080"), "http:auto"),
			),
			ports:  []string{muxPort(20000, "TCP", "app/api", "http")},
			claims: []string{"TCP:app:api:http=20000/auto"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: tc.channels})
			assert.Equal(t, tc.ports, portList(p))
			assert.Equal(t, tc.claims, claimsOf(p))
			for _, o := range p.Channels {
				assert.True(t, o.Accepted, o.Channel.String())
			}
			assert.True(t, p.State.Readable)
			assert.True(t, p.State.Create)
			assert.True(t, p.State.Write)
		})
	}
}
