package plan

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestMuxPortsDiffer(t *testing.T) {
	a := corev1.ServicePort{Name: "1a2b3c4", Port: 20000, Protocol: corev1.ProtocolTCP}
	b := corev1.ServicePort{Name: "5d6e7f8", Port: 20001, Protocol: corev1.ProtocolUDP}
	served := func(sp corev1.ServicePort, nodePort int32) corev1.ServicePort {
		sp.NodePort, sp.TargetPort = nodePort, intstr.FromInt32(sp.Port)
		return sp
	}
	for _, tc := range []struct {
		name       string
		live, want []corev1.ServicePort
		differ     bool
	}{
		{"the same ports in the same order do not differ", []corev1.ServicePort{a, b}, []corev1.ServicePort{a, b}, false},
		{"the same ports in another order do not differ", []corev1.ServicePort{b, a}, []corev1.ServicePort{a, b}, false},
		{"nodePort and targetPort set by the API server do not count", []corev1.ServicePort{served(a, 30001), served(b, 30002)}, []corev1.ServicePort{a, b}, false},
		{"an empty protocol is TCP", []corev1.ServicePort{{Name: a.Name, Port: a.Port}}, []corev1.ServicePort{a}, false},
		{"the placeholder written back differs", placeholderPorts(), []corev1.ServicePort{a, b}, true},
		{"a missing port differs", []corev1.ServicePort{a}, []corev1.ServicePort{a, b}, true},
		{"an extra port differs", []corev1.ServicePort{a, b}, []corev1.ServicePort{a}, true},
		{"a renamed port differs", []corev1.ServicePort{{Name: "other", Port: 20000, Protocol: corev1.ProtocolTCP}}, []corev1.ServicePort{a}, true},
		{"another protocol differs", []corev1.ServicePort{{Name: a.Name, Port: 20000, Protocol: corev1.ProtocolUDP}}, []corev1.ServicePort{a}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MuxPortsDiffer(tc.live, tc.want); got != tc.differ {
				t.Errorf("MuxPortsDiffer = %v, want %v", got, tc.differ)
			}
		})
	}
}
