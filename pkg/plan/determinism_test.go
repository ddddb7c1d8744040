package plan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/nowakeai/svcmux/pkg/api"
)

// richWorld mixes every kind of channel: default, explicit, auto, UDP, conflicting,
// invalid, multi-port with several slices each, on a mux with a range and a limit.
func richWorld() Snapshot {
	s := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20039"), muxAnn(testKeys.MaxPorts, "70"), muxIngress("203.0.113.7"))}
	for i := 0; i < 40; i++ {
		ref := fmt.Sprintf("ns%d/svc-%02d", i%3, i)
		var c *corev1.Service
		switch i % 5 {
		case 0:
			c = channel(ref, fmt.Sprintf("http:%d", 8000+i))
		case 1:
			c = auto(channel(ref, "http:80", "grpc:9090"), "http:auto,grpc:auto")
		case 2:
			c = auto(channel(ref, "dns:53/UDP"), fmt.Sprintf("dns:%d", 5300+i))
		case 3:
			c = channel(ref, "http:8000") // collides with svc-00's 8000 for all but the first
		case 4:
			c = withAnn(auto(channel(ref, "web:80"), "web:auto"), testKeys.ExternalDNSHostname, fmt.Sprintf("s%d.example.com,shared.example.com", i))
		}
		if i == 7 {
			c = auto(channel(ref, "http:80"), "http:nope")
		}
		s.Channels = append(s.Channels, c)
		for j := 0; j < 3; j++ {
			portName := c.Spec.Ports[0].Name
			s.ChannelSlices = append(s.ChannelSlices, slice(ref, fmt.Sprintf("%s-%d", c.Name, j), portName, int32(10000+j%2),
				fmt.Sprintf("10.%d.%d.1", i, j), fmt.Sprintf("10.%d.%d.2!", i, j), fmt.Sprintf("10.%d.%d.3~", i, j)))
		}
	}
	return s
}

func shuffled(s Snapshot, r *rand.Rand) Snapshot {
	out := deepCopySnapshot(s)
	r.Shuffle(len(out.Channels), func(i, j int) { out.Channels[i], out.Channels[j] = out.Channels[j], out.Channels[i] })
	r.Shuffle(len(out.ChannelSlices), func(i, j int) {
		out.ChannelSlices[i], out.ChannelSlices[j] = out.ChannelSlices[j], out.ChannelSlices[i]
	})
	r.Shuffle(len(out.MuxSlices), func(i, j int) { out.MuxSlices[i], out.MuxSlices[j] = out.MuxSlices[j], out.MuxSlices[i] })
	r.Shuffle(len(out.Mux.Spec.Ports), func(i, j int) {
		out.Mux.Spec.Ports[i], out.Mux.Spec.Ports[j] = out.Mux.Spec.Ports[j], out.Mux.Spec.Ports[i]
	})
	return out
}

func TestComputeIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		snap Snapshot
		mode EndpointsMode
	}{
		{"a first pass gives the same plan whatever the order of channels and slices", richWorld(), EndpointsModeBoth},
		{"a steady-state pass gives the same plan whatever the order of channels, slices and mux ports", func() Snapshot {
			w := richWorld()
			return applied(w, Compute(w, opts(EndpointsModeSlices)))
		}(), EndpointsModeSlices},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := compute(t, tc.snap, opts(tc.mode))
			require.NotEmpty(t, want.Ports)
			for i := 0; i < 20; i++ {
				got := compute(t, shuffled(tc.snap, r), opts(tc.mode))
				require.True(t, reflect.DeepEqual(want, got), "shuffle %d gave another plan", i)
				require.True(t, equality.Semantic.DeepEqual(want, got))
			}
		})
	}
}

// A level-triggered controller converges: once a plan is applied, the next pass
// changes nothing and says nothing but the standing warnings.
func TestComputeConverges(t *testing.T) {
	for _, mode := range []EndpointsMode{EndpointsModeSlices, EndpointsModeEndpoints, EndpointsModeBoth} {
		t.Run(fmt.Sprintf("in %s mode the second pass is idle and the third equals the second", mode), func(t *testing.T) {
			w := richWorld()
			p1 := compute(t, w, opts(mode))
			w2 := applied(w, p1)
			p2 := compute(t, w2, opts(mode))
			assert.Equal(t, p1.Ports, p2.Ports)
			assert.Equal(t, p1.Annotations, p2.Annotations)
			assert.Equal(t, p1.State.Document.Encode(), p2.State.Document.Encode())
			assert.False(t, p2.State.Write)
			assert.False(t, p2.State.Create)
			for _, e := range p2.Events {
				assert.Equal(t, api.EventWarning, e.Type, "idle pass posted %+v", e)
			}
			p3 := compute(t, applied(w2, p2), opts(mode))
			assert.True(t, reflect.DeepEqual(p2, p3), "the third pass differs from the second")
		})
	}
}

func TestRichWorldOutcomes(t *testing.T) {
	p := compute(t, richWorld())
	// Served: 8 default (svc-00, 05, …), 8 with two auto ports, 7 UDP (svc-07 has a
	// typo), 8 web auto = 39 ports; the 8 channels asking for 8000 conflict with svc-00.
	// Every attached channel's ready pods count: 40 channels × 3 slices × 1 ready.
	assert.Equal(t, Stats{Channels: 40, Accepted: 31, Rejected: 9, Ports: 39, DeclaredPorts: 48, ReadyPods: 120}, p.Stats)
	assert.Equal(t, api.ReasonInvalidPortMapping, outcome(t, p, "ns1/svc-07").Reason)
	assert.Equal(t, api.ReasonMuxPortConflict, outcome(t, p, "ns0/svc-03").Reason)
	var hostnames int
	for _, c := range []string{p.Annotations["external-dns.alpha.kubernetes.io/hostname"]} {
		for _, r := range c {
			if r == ',' {
				hostnames++
			}
		}
	}
	assert.Equal(t, 8, hostnames, "8 custom hostnames plus one shared, de-duplicated")
	for _, s := range p.Slices {
		assert.LessOrEqual(t, len(s.Endpoints), api.MaxEndpointsPerSlice)
		assert.Equal(t, discoveryv1.AddressTypeIPv4, s.AddressType)
	}
}
