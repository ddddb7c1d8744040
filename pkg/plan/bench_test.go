package plan

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/nowakeai/svcmux/pkg/state"
)

// benchWorld is a mux with n channels of two ports each: http on its own number
// (static, 1000+i) and grpc:auto from 20000-39999, each channel with one slice of two
// ready endpoints. The cold variant is a first pass (no state ConfigMap, placeholder
// mux, no annotations, no mux slices); the steady variant is the snapshot after the
// cold plan was applied, so the state document holds every claim: the idle pass the
// agent runs on every event.
func benchWorld(n int, steady bool) Snapshot {
	s := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-39999"), muxIngress("203.0.113.7"))}
	s.Channels = make([]*corev1.Service, 0, n)
	s.ChannelSlices = make([]*discoveryv1.EndpointSlice, 0, n)
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("ns%d/svc-%05d", i%10, i)
		s.Channels = append(s.Channels, auto(channel(ref, fmt.Sprintf("http:%d", 1000+i), "grpc:9090"), "grpc:auto"))
		s.ChannelSlices = append(s.ChannelSlices, slice(ref, fmt.Sprintf("svc-%05d-x", i), "http", 8080,
			fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("10.%d.%d.2", i/250, i%250)))
	}
	if steady {
		s = applied(s, Compute(s, testOpts))
	}
	return s
}

func BenchmarkCompute(b *testing.B) {
	for _, steady := range []bool{true, false} {
		for _, n := range []int{1000, 5000, 10000} {
			name := fmt.Sprintf("cold/channels=%d", n)
			if steady {
				name = fmt.Sprintf("steady/channels=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				s := benchWorld(n, steady)
				// The agent keeps a state cache: a steady pass does not decode an
				// unchanged document again (a cold pass has none to decode).
				opts := testOpts
				opts.StateCache = state.NewCache()
				if p := Compute(s, opts); p.Stats.Ports != 2*n || (steady && p.State.Write) {
					b.Fatalf("unexpected plan: %+v write=%v", p.Stats, p.State.Write)
				}
				b.ReportAllocs()
				for b.Loop() {
					Compute(s, opts)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/channel")
			})
		}
	}
}
