package plan

import (
	"fmt"
	"testing"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// BenchmarkNodePortMemory is the steady pass of benchWorld with every mux port
// holding a NodePort, with and without nodeports.json remembering them: what the
// memory adds to the idle pass the agent runs on every event.
func BenchmarkNodePortMemory(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		for _, remembered := range []bool{false, true} {
			b.Run(fmt.Sprintf("channels=%d/memory=%v", n, remembered), func(b *testing.B) {
				s := benchWorld(n, true)
				s.Mux = s.Mux.DeepCopy()
				var mem state.NodePorts
				for i := range s.Mux.Spec.Ports {
					sp := &s.Mux.Spec.Ports[i]
					sp.NodePort = int32(30000 + i%2768)
					mem = append(mem, state.NodePort{Name: sp.Name, Port: sp.Port, Protocol: sp.Protocol, NodePort: sp.NodePort})
				}
				s.StateConfigMap = s.StateConfigMap.DeepCopy()
				if remembered {
					s.StateConfigMap.Data[api.NodePortsKey] = state.EncodeNodePorts(mem)
				}
				opts := testOpts
				opts.StateCache = state.NewCache()
				if p := Compute(s, opts); p.State.Write || p.State.WriteNodePorts != !remembered {
					b.Fatalf("unexpected plan: write=%v nodePorts=%v", p.State.Write, p.State.WriteNodePorts)
				}
				b.ReportAllocs()
				for b.Loop() {
					Compute(s, opts)
				}
			})
		}
	}
}
