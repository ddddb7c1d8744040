package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Edge cases around the rules above.

func TestLoweredLimitRefusesTheLaterOwners(t *testing.T) {
	p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.MaxPorts, "1")),
		Channels: channels(withPorts(channel("app/a", "http:80"), "http:80->80"), withPorts(channel("app/b", "http:81"), "http:81->81")),
		StateConfigMap: stateOf(
			claim("app/a", "http", "TCP", 80, 80, "static"),
			claim("app/b", "http", "TCP", 81, 81, "static"),
		)})
	assert.Equal(t, []string{muxPort(80, "TCP", "app/a", "http")}, portList(p))
	b := outcome(t, p, "app/b")
	assert.False(t, b.Serving(), "owners beyond a lowered limit cannot all be kept")
	assert.Equal(t, "mux svc-mux/mux is limited to 1 port(s) and serves 1; channel app/b needs 1 more; remove ports or raise svc-mux.nowake.ai/max-ports", b.Message)
	assert.Equal(t, []string{"TCP:app:a:http=80/static"}, claimsOf(p))
}

func TestRecoveryNeedsTheSameProtocol(t *testing.T) {
	// The live mux has dns's hash on 20000/TCP, but the channel port is UDP: no evidence.
	p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng), muxPorts(sp("app", "dns", "dns", 20005, corev1.ProtocolTCP))),
		Channels: channels(auto(channel("app/dns", "dns:53/UDP"), "dns:auto"))})
	assert.Equal(t, []string{muxPort(20000, "UDP", "app/dns", "dns")}, portList(p))
}

func TestRemovingOnlyAnOwnedKeyIsAnAnnotationsUpdate(t *testing.T) {
	first := Snapshot{Mux: mux(), Channels: channels(withAnn(channel("app/a", "http:80"), testKeys.ExternalDNSHostname, "a.example.com"))}
	next := applied(first, compute(t, first))
	delete(next.Channels[0].Annotations, testKeys.ExternalDNSHostname)
	p := compute(t, next)
	assert.ElementsMatch(t, []string{hostnameKey, testKeys.AggregatedExternalDNS}, p.RemoveAnnotations)
	assert.Equal(t, "Mux annotations updated: 1 channel(s) | 1 port(s) | 0 pod(s) | DNS: pending",
		message(t, p, "svc-mux/mux", api.ReasonMuxAnnotationsUpdated))
}

func TestEndpointEdgeCases(t *testing.T) {
	t.Run("an endpoint listed in two slices of one channel appears once", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
			ChannelSlices: slices(slice("app/a", "a-2", "http", 80, "10.0.0.1", "10.0.0.2"), slice("app/a", "a-1", "http", 80, "10.0.0.1"))})
		require.Len(t, p.Slices, 1)
		assert.Equal(t, []string{"10.0.0.1(r)", "10.0.0.2(r)"}, endpointsOf(p.Slices[0]))
		assert.Equal(t, 2, p.Stats.ReadyPods)
	})

	t.Run("an endpoint without conditions is ready, as the EndpointSlice API says", func(t *testing.T) {
		s := slice("app/a", "a-1", "http", 80, "10.0.0.1")
		s.Endpoints[0].Conditions = discoveryv1.EndpointConditions{}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{}) // no address: skipped
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")), ChannelSlices: slices(s)}, opts(EndpointsModeBoth))
		require.Len(t, p.Slices, 1)
		assert.Equal(t, []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.1"}}}, p.Slices[0].Endpoints)
		require.Len(t, p.Endpoints.Subsets, 1)
		assert.Equal(t, "10.0.0.1", p.Endpoints.Subsets[0].Addresses[0].IP)
		assert.Equal(t, 1, p.Stats.ReadyPods)
	})

	t.Run("the legacy Endpoints carries hostname and nodeName", func(t *testing.T) {
		s := slice("app/a", "a-1", "http", 80, "10.0.0.1")
		s.Endpoints[0].Hostname = ptr("a-0")
		s.Endpoints[0].NodeName = ptr("node-1")
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")), ChannelSlices: slices(s)}, opts(EndpointsModeEndpoints))
		assert.Equal(t, []corev1.EndpointAddress{{IP: "10.0.0.1", Hostname: "a-0", NodeName: ptr("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.1"}}}, p.Endpoints.Subsets[0].Addresses)
	})

	t.Run("slice ports without a name or number are skipped", func(t *testing.T) {
		s := slice("app/a", "a-1", "http", 80, "10.0.0.1")
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Port: ptr[int32](1)}, discoveryv1.EndpointPort{Name: ptr("http")})
		s.Ports[0].Protocol = nil // defaults to TCP
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")), ChannelSlices: slices(s)})
		require.Len(t, p.Slices, 1)
		assert.Equal(t, []discoveryv1.EndpointPort{{Name: ptr(hash7("app", "a", "http")), Port: ptr[int32](80), Protocol: ptr(corev1.ProtocolTCP)}}, p.Slices[0].Ports)
	})

	t.Run("a change of many endpoints names at most 20 of them", func(t *testing.T) {
		var eps []string
		for i := 0; i < 25; i++ {
			eps = append(eps, fmt.Sprintf("10.0.0.%d", 10+i))
		}
		first := Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")), ChannelSlices: slices(slice("app/a", "a-1", "http", 80, "10.9.9.9"))}
		next := applied(first, compute(t, first))
		next.ChannelSlices = slices(slice("app/a", "a-1", "http", 80, append(eps, "10.9.9.9")...))
		msg := message(t, compute(t, next), "svc-mux/mux", api.ReasonMuxEndpointsChanged)
		assert.True(t, strings.HasPrefix(msg, "Added 25 endpoint(s): 10.0.0.10:80/TCP, 10.0.0.11:80/TCP, "), msg)
		assert.True(t, strings.HasSuffix(msg, ", 10.0.0.29:80/TCP, and 5 more"), msg)
	})
}

func TestPortRangeForms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		value   string
		ports   []int32
		problem string // the InvalidPortRange message tail, "" when valid
	}{
		{"overlapping ranges are allowed and a port covered twice is given once", "20000-20001, 20001-20002", []int32{20000, 20001, 20002}, ""},
		{"whitespace around items and around the dash is tolerated, empty items skipped", " 20000 - 20001 ,, 20005 ", []int32{20000, 20001, 20005}, ""},
		{"a non-numeric item is invalid", "20000-20001,abc", nil, `invalid item "abc" ("abc" is not a port number): expected N or A-B with ports 1-65535`},
		{"an out-of-range item is invalid", "70000", nil, `invalid item "70000" (70000 is out of range 1-65535): expected N or A-B with ports 1-65535`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []*corev1.Service
			for i := 0; i < 3; i++ {
				cs = append(cs, auto(channel(fmt.Sprintf("app/c%d", i), "http:80"), "http:auto"))
			}
			p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, tc.value)), Channels: cs})
			if tc.problem != "" {
				assert.Equal(t, "mux svc-mux/mux: annotation svc-mux.nowake.ai/port-range: "+tc.problem+"; owners keep their ports, no new automatic port is given",
					message(t, p, "svc-mux/mux", api.ReasonInvalidPortRange))
				assert.Equal(t, 3, p.Stats.Rejected)
				return
			}
			var got []int32
			for _, x := range p.Ports {
				got = append(got, x.Port)
			}
			assert.Equal(t, tc.ports, got)
			assert.Empty(t, events(p, "svc-mux/mux", api.ReasonInvalidPortRange))
		})
	}
}

func TestInvalidPortNamesTheFieldPath(t *testing.T) {
	p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/x", "-:80", "http:81", "-:82"))})
	evs := events(p, "app/x", api.ReasonInvalidPort)
	require.Len(t, evs, 1)
	assert.Equal(t, "spec.ports[0]", evs[0].FieldPath)
	assert.Equal(t, "channel app/x: every port needs a name; missing at spec.ports[0], spec.ports[2]; add spec.ports[].name", evs[0].Message)
	assert.Equal(t, "Channels:\n  - app/x\n    DNS: pending\n    Ports: unnamed:80->pending http:81->pending unnamed:82->pending\n    Backend: 0 pod(s) ready\n\nSummary: 1 channel(s), 3 port(s), 0 backend pod(s)",
		p.Annotations[testKeys.Topology])
}

// Wherever the cut falls, the mux annotations stay within the budget.
func TestTopologyCutNeverOverflowsTheBudget(t *testing.T) {
	var cs []*corev1.Service
	for i := 0; i < 300; i++ {
		cs = append(cs, channel(fmt.Sprintf("team/svc-%03d", i), fmt.Sprintf("http:%d", 1000+i)))
	}
	base := mux(muxIngress("203.0.113.7"))
	cuts := map[int]bool{}
	// The channels list is ≈ 4.8 KB; pads up to 128 KiB − 6 KB leave room for the
	// shortest topology (see the known bug below for what happens past that).
	for pad := 128*1024 - 32_000; pad < 128*1024-6_000; pad += 97 {
		m := base.DeepCopy()
		m.Annotations["example.com/pad"] = strings.Repeat("x", pad)
		p := Compute(Snapshot{Mux: m, Channels: cs}, testOpts)
		total := 0
		for k, v := range resultingAnnotations(m.Annotations, p) {
			total += len(k) + len(v)
		}
		require.LessOrEqual(t, total, 128*1024, "padding %d", pad)
		shown := strings.Count(p.Annotations[testKeys.Topology], "\n  - team/")
		if shown < 300 {
			require.Contains(t, p.Annotations[testKeys.Topology], fmt.Sprintf("\n  … and %d more channel(s)\n\nSummary: 300 channel(s)", 300-shown))
		}
		cuts[shown] = true
	}
	assert.Greater(t, len(cuts), 100, "the sweep cut the topology at many places")
}

func TestTopologyYieldsWhenOtherAnnotationsFillTheBudget(t *testing.T) {
	var cs []*corev1.Service
	for i := 0; i < 300; i++ {
		cs = append(cs, channel(fmt.Sprintf("team/svc-%03d", i), fmt.Sprintf("http:%d", 1000+i)))
	}
	m := mux(muxIngress("203.0.113.7"), muxAnn("example.com/pad", strings.Repeat("x", 126_001)))
	p := compute(t, Snapshot{Mux: m, Channels: cs})
	total := 0
	for k, v := range resultingAnnotations(m.Annotations, p) {
		total += len(k) + len(v)
	}
	assert.LessOrEqual(t, total, 128*1024)
}

func TestAMuxBeingDeletedIsFrozenButLosesThePythonFinalizer(t *testing.T) {
	m := mux()
	now := metav1.Now()
	m.DeletionTimestamp = &now
	m.Finalizers = []string{testKeys.Finalizer}
	c := channel("app/api", "http:8080")
	c.Finalizers = []string{testKeys.Finalizer}
	p := compute(t, Snapshot{Mux: m, Channels: channels(c)})
	assert.True(t, p.Frozen)
	assert.Equal(t, "Deleting", p.FrozenReason)
	assert.False(t, p.State.Write, "nothing is created for a mux that is going away")
	assert.Equal(t, []ObjectRef{p.Mux, {Kind: "Service", Namespace: "app", Name: "api", UID: "app/api"}}, p.StripFinalizers)
}
