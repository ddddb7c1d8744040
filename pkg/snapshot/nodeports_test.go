package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

func TestSnapshotNamesTheServicesHoldingRememberedNodePortsOfPortsTheMuxLacks(t *testing.T) {
	m := mux(defaultNS, "mux", nil)
	m.Spec.Ports = []corev1.ServicePort{
		{Name: "placeholder", Port: 101, NodePort: 31000}, // the mux's own: never a holder
		{Name: "live", Port: 20002, NodePort: 31002},
	}
	holder := func(ns, name string, spec corev1.ServiceSpec) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	}
	cm := corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: defaultNS, Name: "mux-port-allocations"},
		Data: map[string]string{api.NodePortsKey: state.EncodeNodePorts(state.NodePorts{
			{Name: "gone-a", Port: 20000, NodePort: 31000}, // free once the placeholder goes
			{Name: "gone-b", Port: 20001, NodePort: 31001}, // two others hold it: the first by name
			{Name: "gone-c", Port: 20003, NodePort: 31003}, // held as a healthCheckNodePort
			{Name: "gone-d", Port: 20004, NodePort: 31004}, // nobody holds it
			{Name: "live", Port: 20002, NodePort: 39999},   // on the live mux: not looked up
		})},
	}
	r, err := FromLists(keys, defaultNS, Lists{
		Services: []corev1.Service{
			m,
			holder("z", "np", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 31001}}}),
			holder("a", "np", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 31001}}}),
			holder("b", "local", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, HealthCheckNodePort: 31003}),
			holder("c", "other", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 39999}}}),
		},
		ConfigMaps: []corev1.ConfigMap{cm},
	})
	require.NoError(t, err)
	muxSvc, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
	require.NoError(t, err)
	s, err := r.Snapshot(muxSvc)
	require.NoError(t, err)
	assert.Equal(t, map[int32]string{31001: "a/np", 31003: "b/local"}, s.NodePortHolders)
}

func TestSnapshotLooksUpNoNodePortsWithoutAMemory(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
	}{
		{"no nodeports.json", map[string]string{}},
		{"an invalid nodeports.json (the planner reports it)", map[string]string{api.NodePortsKey: "{"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := FromLists(keys, defaultNS, Lists{
				Services:   []corev1.Service{mux(defaultNS, "mux", nil)},
				ConfigMaps: []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: defaultNS, Name: "mux-port-allocations"}, Data: tc.data}},
			})
			require.NoError(t, err)
			muxSvc, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
			require.NoError(t, err)
			s, err := r.Snapshot(muxSvc)
			require.NoError(t, err)
			assert.Nil(t, s.NodePortHolders)
		})
	}
}
