package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

func TestSnapshotNamesTheServiceHoldingANodePort(t *testing.T) {
	m := mux(defaultNS, "mux", nil)
	m.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, NodePort: 31000}}
	other := func(ns, name string, spec corev1.ServiceSpec) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	}
	nodePort := func(np int32) corev1.ServiceSpec {
		return corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: np}}}
	}
	r, err := FromLists(keys, defaultNS, Lists{Services: []corev1.Service{
		m,
		other("z", "np", nodePort(31001)),
		other("a", "np", nodePort(31001)),
		other("b", "local", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, HealthCheckNodePort: 31003}),
		other("c", "cluster-ip", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}),
	}})
	require.NoError(t, err)
	muxSvc, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
	require.NoError(t, err)
	s, err := r.Snapshot(muxSvc)
	require.NoError(t, err)
	require.NotNil(t, s.NodePortHolder)
	for _, tc := range []struct {
		name     string
		nodePort int32
		want     string
	}{
		{"the mux's own NodePort is not held: replacing the port frees it", 31000, ""},
		{"of two holders the first by namespace/name is named", 31001, "a/np"},
		{"a healthCheckNodePort holds its NodePort", 31003, "b/local"},
		{"a NodePort nobody holds is free", 31004, ""},
		{"no NodePort (0) is never held", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, s.NodePortHolder(tc.nodePort))
		})
	}
}
