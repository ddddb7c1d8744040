package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// SPEC §10: NodePorts survive a full replace.

// The ports of stateWorld (api http:auto -> 20000/TCP, dns 53/UDP) by mux port name.
var (
	apiName = hash7("app", "api", "http")
	dnsName = hash7("app", "dns", "dns")
)

// livePort is a mux port as the API server returns it, with its NodePort.
func livePort(name string, port int32, proto corev1.Protocol, nodePort int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: proto, NodePort: nodePort}
}

// remembered is a nodeports.json entry.
func remembered(name string, port int32, proto corev1.Protocol, nodePort int32) state.NodePort {
	return state.NodePort{Name: name, Port: port, Protocol: proto, NodePort: nodePort}
}

// nodePortsCM is stateWorld's current claims plus nodeports.json (absent when raw is nil).
func nodePortsCM(t *testing.T, raw *string) *corev1.ConfigMap {
	cm := stateCM(golden(t, "older-allocations.migrated.json"))
	if raw != nil {
		cm.Data[api.NodePortsKey] = *raw
	}
	return cm
}

func memoryOf(m ...state.NodePort) *string {
	s := state.EncodeNodePorts(m)
	return &s
}

// planned renders the planned mux ports as name=nodePort (0: the API server chooses).
func planned(p Plan) map[string]int32 {
	out := map[string]int32{}
	for _, sp := range p.Ports {
		out[sp.Name] = sp.NodePort
	}
	return out
}

func TestNodePortMemory(t *testing.T) {
	placeholder := livePort(api.PlaceholderPortName, api.PlaceholderPort, corev1.ProtocolTCP, 30101)
	both := memoryOf(remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053))
	no := false
	for _, tc := range []struct {
		name       string
		live       []corev1.ServicePort
		memory     *string // nodeports.json; nil: absent
		holders    map[int32]string
		noAllocate bool
		noCM       bool

		wantPorts  map[string]int32
		wantMemory []state.NodePort
		wantWrite  bool
		wantEvents map[string]string // reason -> message
	}{
		{
			name:       "a restore after a full replace asks for every remembered NodePort back and writes no state",
			live:       []corev1.ServicePort{placeholder},
			memory:     both,
			wantPorts:  map[string]int32{apiName: 31000, dnsName: 31053},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
		},
		{
			name:       "a remembered NodePort another Service took meanwhile is left to the API server, with a Warning naming the holder",
			live:       []corev1.ServicePort{placeholder},
			memory:     both,
			holders:    map[int32]string{31000: "other/grabber"},
			wantPorts:  map[string]int32{apiName: 0, dnsName: 31053},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
			wantEvents: map[string]string{api.ReasonNodePortReassigned: "mux svc-mux/mux port " + apiName + " (20000/TCP): its NodePort 31000 is held by Service other/grabber; " +
				"the API server assigns a new one, and a load balancer that routes to NodePorts reprograms for this port"},
		},
		{
			name:       "a remembered NodePort that a port staying on the mux holds is not asked for twice",
			live:       []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31000)},
			memory:     memoryOf(remembered(apiName, 20000, "TCP", 31000)),
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31000)},
			wantWrite:  true,
			wantEvents: map[string]string{api.ReasonNodePortReassigned: "mux svc-mux/mux port " + apiName + " (20000/TCP): its NodePort 31000 is held by this mux's port " + dnsName + "; " +
				"the API server assigns a new one, and a load balancer that routes to NodePorts reprograms for this port"},
		},
		{
			name:       "NodePorts the API server changed are remembered (one state write) and ports on the live mux get no explicit NodePort",
			live:       []corev1.ServicePort{livePort(dnsName, 53, "UDP", 32053), livePort(apiName, 20000, "TCP", 32000)},
			memory:     both,
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 32000), remembered(dnsName, 53, "UDP", 32053)},
			wantWrite:  true,
		},
		{
			name:       "an idle mux whose memory matches writes nothing",
			live:       []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31053), livePort(apiName, 20000, "TCP", 31000)},
			memory:     both,
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
		},
		{
			name:       "a state ConfigMap without the key (a takeover) gets the live NodePorts",
			live:       []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31053), livePort(apiName, 20000, "TCP", 31000)},
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
			wantWrite:  true,
		},
		{
			name:       "a port no longer planned is forgotten",
			live:       []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31053), livePort(apiName, 20000, "TCP", 31000)},
			memory:     memoryOf(remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053), remembered("0000000", 20001, "TCP", 31001)),
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
			wantWrite:  true,
		},
		{
			name:       "an invalid memory is ignored with a Warning and written again from the live mux; the mux is not frozen",
			live:       []corev1.ServicePort{placeholder, livePort(apiName, 20000, "TCP", 31000)},
			memory:     ptr(`{"nodePorts": [{"name": "x"}]}`),
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000)},
			wantWrite:  true,
			wantEvents: map[string]string{api.ReasonNodePortMemoryInvalid: "mux state ConfigMap svc-mux/mux-port-allocations: key nodeports.json: nodePorts[0]: missing nodePort; " +
				"the remembered NodePorts are ignored and written again from the live mux"},
		},
		{
			name:       "a mux with allocateLoadBalancerNodePorts: false is never given a NodePort",
			live:       []corev1.ServicePort{placeholder},
			memory:     both,
			noAllocate: true,
			wantPorts:  map[string]int32{apiName: 0, dnsName: 0},
			wantMemory: []state.NodePort{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stateWorld(nodePortsCM(t, tc.memory))
			s.Mux.Spec.Ports = tc.live
			if tc.holders != nil {
				s.NodePortHolder = func(np int32) string { return tc.holders[np] }
			}
			if tc.noAllocate {
				s.Mux.Spec.AllocateLoadBalancerNodePorts = &no
			}
			p := compute(t, s)
			assert.Equal(t, tc.wantPorts, planned(p))
			// Expected entries are listed api first; the memory is sorted by name.
			want := sortNodePorts(append(state.NodePorts(nil), tc.wantMemory...))
			assert.Equal(t, want, p.State.NodePorts)
			assert.Equal(t, tc.wantWrite, p.State.WriteNodePorts, "nodeports.json written")
			if tc.wantWrite {
				assert.Equal(t, state.EncodeNodePorts(want), p.State.NodePortsEncoded)
			} else {
				assert.Empty(t, p.State.NodePortsEncoded)
			}
			assert.False(t, p.State.Write, "allocations.json is not rewritten")
			got := map[string]string{}
			for _, reason := range []string{api.ReasonNodePortReassigned, api.ReasonNodePortMemoryInvalid} {
				for _, e := range events(p, "svc-mux/mux", reason) {
					assert.Equal(t, api.EventWarning, e.Type)
					got[reason] = e.Message
				}
			}
			if tc.wantEvents == nil {
				tc.wantEvents = map[string]string{}
			}
			assert.Equal(t, tc.wantEvents, got)
		})
	}
}

func TestNodePortMemoryFollowsTheStateConfigMapsRules(t *testing.T) {
	live := []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31053), livePort(apiName, 20000, "TCP", 31000)}
	t.Run("a state ConfigMap created on the first pass carries the live NodePorts", func(t *testing.T) {
		s := stateWorld(nil)
		s.Mux.Spec.Ports = live
		p := compute(t, s)
		require.True(t, p.State.Create)
		assert.True(t, p.State.WriteNodePorts)
		assert.Equal(t, state.EncodeNodePorts(state.NodePorts{remembered(apiName, 20000, "TCP", 31000), remembered(dnsName, 53, "UDP", 31053)}),
			p.State.NodePortsEncoded)
	})
	t.Run("a state ConfigMap created for a mux without NodePorts has no nodeports.json", func(t *testing.T) {
		p := compute(t, stateWorld(nil))
		require.True(t, p.State.Create)
		assert.False(t, p.State.WriteNodePorts)
	})
	t.Run("a foreign state ConfigMap's memory is neither read nor written", func(t *testing.T) {
		cm := nodePortsCM(t, memoryOf(remembered(apiName, 20000, "TCP", 39999)))
		cm.Annotations[testKeys.Mux] = "other/mux"
		s := stateWorld(cm)
		s.Mux.Spec.Ports = []corev1.ServicePort{livePort(api.PlaceholderPortName, api.PlaceholderPort, "TCP", 30101)}
		p := compute(t, s)
		require.False(t, p.State.Readable)
		assert.Equal(t, map[string]int32{dnsName: 0}, planned(p), "no new automatic port, and no NodePort from the foreign memory")
		assert.False(t, p.State.WriteNodePorts)
	})
	t.Run("while the port range is invalid the memory is used but not written", func(t *testing.T) {
		s := stateWorld(nodePortsCM(t, memoryOf(remembered(apiName, 20000, "TCP", 31000))))
		s.Mux.Annotations[testKeys.PortRange] = "nonsense"
		s.Mux.Spec.Ports = []corev1.ServicePort{livePort(dnsName, 53, "UDP", 31053)}
		s.Channels[0] = withPorts(s.Channels[0], "http:8080->20000")
		p := compute(t, s)
		assert.Equal(t, map[string]int32{apiName: 31000, dnsName: 0}, planned(p))
		assert.False(t, p.State.WriteNodePorts)
	})
}
