package plan

import (
	"fmt"
	"runtime/metrics"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/state"
)

// benchSizes are the channel counts of BenchmarkCompute: to 20,000, so the figures
// show whether a pass stays linear (ns/channel flat) well past a large mux.
var benchSizes = []int{1000, 5000, 10000, 20000}

// benchWorld is a mux with n channels of two ports each: http on its own number
// (static, 1000+i) and grpc:auto from 30000-59999, each channel with one slice of two
// ready endpoints. The cold variant is a first pass (no state ConfigMap, placeholder
// mux, no annotations, no mux slices); the steady variant is the snapshot after the
// cold plan was applied, so the state document holds every claim: the idle pass the
// agent runs on every event.
func benchWorld(n int, steady bool) Snapshot {
	s := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "30000-59999"), muxIngress("203.0.113.7"))}
	s.Channels = make([]*corev1.Service, 0, n)
	s.ChannelSlices = make([]*discoveryv1.EndpointSlice, 0, n)
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("ns%d/svc-%05d", i%10, i)
		s.Channels = append(s.Channels, auto(channel(ref, fmt.Sprintf("http:%d", 1000+i), "grpc:9090"), "grpc:auto"))
		cs := slice(ref, fmt.Sprintf("svc-%05d-x", i), "http", 8080,
			fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("10.%d.%d.2", i/250, i%250))
		cs.UID, cs.ResourceVersion = types.UID(fmt.Sprintf("slice-%05d", i)), "1" // as the API server gives them
		s.ChannelSlices = append(s.ChannelSlices, cs)
	}
	if steady {
		s = applied(s, Compute(s, testOpts))
	}
	return s
}

// benchOptions are the agent's options: a state cache and a planner cache, both new.
func benchOptions() Options {
	o := testOpts
	o.StateCache = state.NewCache()
	o.Cache = NewCache()
	return o
}

func BenchmarkCompute(b *testing.B) {
	for _, steady := range []bool{true, false} {
		for _, n := range benchSizes {
			name := fmt.Sprintf("cold/channels=%d", n)
			if steady {
				name = fmt.Sprintf("steady/channels=%d", n)
			}
			b.Run(name, func(b *testing.B) { benchCompute(b, n, steady) })
		}
	}
}

// benchCompute measures one pass. A cold pass is a freshly started agent's first:
// its caches are new each time, so nothing is remembered from an earlier pass. A
// steady pass reuses the caches the agent keeps, warmed by one pass before timing.
// Besides wall time it reports the process's CPU time per pass (cpu-ns/op, GC
// included), which other load on a shared machine inflates less.
func benchCompute(b *testing.B, n int, steady bool) {
	s := benchWorld(n, steady)
	opts := benchOptions()
	// Every channel is served, but for the few whose 7-hex port names collide with
	// another's (SPEC §2: a handful among 40,000 names).
	if p := Compute(s, opts); p.Stats.Ports != 2*p.Stats.Accepted || p.Stats.Accepted < n-n/1000 || (steady && p.State.Write) {
		b.Fatalf("unexpected plan: %+v write=%v", p.Stats, p.State.Write)
	}
	b.ReportAllocs()
	cpu, gc := processCPU(), readCPUClasses()
	for b.Loop() {
		if !steady {
			opts = benchOptions()
		}
		Compute(s, opts)
	}
	cpu = processCPU() - cpu
	if share := readCPUClasses().since(gc).gcShare(); share >= 0 {
		b.ReportMetric(100*share, "gc-%")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/channel")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// cpuClasses is the runtime's estimate of the CPU time spent in the garbage
// collector and in Go code (runtime/metrics /cpu/classes): the estimates are only
// comparable with each other, so a pass reports the collector's share, not its time.
type cpuClasses struct{ gc, user float64 }

func readCPUClasses() cpuClasses {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s)
	var c cpuClasses
	if s[0].Value.Kind() == metrics.KindFloat64 && s[1].Value.Kind() == metrics.KindFloat64 {
		c.gc, c.user = s[0].Value.Float64(), s[1].Value.Float64()
	}
	return c
}

func (c cpuClasses) since(start cpuClasses) cpuClasses {
	return cpuClasses{gc: c.gc - start.gc, user: c.user - start.user}
}

// gcShare is the collector's part of the CPU time, or -1 when nothing was measured.
func (c cpuClasses) gcShare() float64 {
	if c.gc+c.user <= 0 {
		return -1
	}
	return c.gc / (c.gc + c.user)
}
