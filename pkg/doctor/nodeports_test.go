package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

func TestNodePortMemory(t *testing.T) {
	const tail = "; until the agent's next pass remembers them, a full replace of its spec.ports (a GitOps PUT) " +
		"gives those ports new NodePorts and a load balancer that routes to NodePorts reprograms"
	// live is a settled mux serving api's two ports with the NodePorts given.
	live := func(t *testing.T, nodePorts ...int32) Mux {
		m := settled(t, testMux("mux"), testChannel("api", "mux", []string{"http:80", "grpc:81"}))
		mux := m.Snapshot.Mux.DeepCopy()
		for i := range mux.Spec.Ports {
			mux.Spec.Ports[i].NodePort = nodePorts[i]
		}
		m.Snapshot.Mux = mux
		return m
	}
	memory := func(m Mux, entries ...int32) *corev1.ConfigMap {
		var mem state.NodePorts
		for i, sp := range m.Snapshot.Mux.Spec.Ports {
			mem = append(mem, state.NodePort{Name: sp.Name, Port: sp.Port, Protocol: sp.Protocol, NodePort: entries[i]})
		}
		cm := m.Snapshot.StateConfigMap.DeepCopy()
		cm.Data[api.NodePortsKey] = state.EncodeNodePorts(mem)
		return cm
	}
	base := live(t, 31080, 31081)
	grpc := base.Snapshot.Mux.Spec.Ports[1].Name
	for _, tc := range []struct {
		name string
		cm   func(m Mux) *corev1.ConfigMap
		want []string
	}{
		{"a memory that matches the live NodePorts is no finding", func(m Mux) *corev1.ConfigMap { return memory(m, 31080, 31081) }, nil},
		{"a state ConfigMap without nodeports.json leaves every NodePort unremembered",
			func(m Mux) *corev1.ConfigMap { return m.Snapshot.StateConfigMap },
			[]string{"mux svc-mux/mux: state ConfigMap svc-mux/mux-port-allocations has no nodeports.json" + tail}},
		{"a NodePort that changed since it was remembered is churn",
			func(m Mux) *corev1.ConfigMap { return memory(m, 31080, 30999) },
			[]string{"mux svc-mux/mux: live NodePorts not remembered: " + grpc + " 31081 (remembered 30999)" + tail}},
		{"an invalid memory says so",
			func(m Mux) *corev1.ConfigMap {
				cm := m.Snapshot.StateConfigMap.DeepCopy()
				cm.Data[api.NodePortsKey] = "{"
				return cm
			},
			[]string{"mux svc-mux/mux: nodeports.json of state ConfigMap svc-mux/mux-port-allocations does not parse (invalid JSON: unexpected end of JSON input)" + tail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := live(t, 31080, 31081)
			m = planned(m.Snapshot.Mux, tc.cm(m), m.Snapshot.Channels...)
			var got []string
			for _, f := range only(t, baseInput(m), CheckNodePorts).Findings {
				if f.Code == "SVCMUX606" {
					assert.Equal(t, "Service svc-mux/mux", f.Object)
					assert.Equal(t, "kubectl -n svc-mux get events --field-selector involvedObject.name=mux,reason=NodePortReassigned  # the agent remembers the live NodePorts on its next pass; a SVCMUX1xx finding says when none runs", f.Fix)
					got = append(got, f.Message)
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("a memory of a port the mux lacks (being restored) is not churn", func(t *testing.T) {
		m := live(t, 31080, 31081)
		cm := memory(m, 31080, 31081)
		mux := m.Snapshot.Mux.DeepCopy()
		mux.Spec.Ports = mux.Spec.Ports[:1]
		m = planned(mux, cm, m.Snapshot.Channels...)
		for _, f := range only(t, baseInput(m), CheckNodePorts).Findings {
			assert.NotEqual(t, "SVCMUX606", f.Code, f.Message)
		}
	})
}
