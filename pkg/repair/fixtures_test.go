package repair

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

var (
	testKeys = api.NewKeys("")
	testOpts = plan.Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux",
		Now: metav1.Date(2026, 12, 2, 0, 0, 0, 0, metav1.Now().Location())}
	muxRef = api.MuxRef{Namespace: "svc-mux", Name: "mux"}
)

// testMux is svc-mux/mux with range 20000-20099 serving live "ns/svc:port=20000[/UDP]".
func testMux(live ...string) *corev1.Service {
	m := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", UID: "mux-uid",
			Annotations: map[string]string{testKeys.Multiplexer: "true", testKeys.PortRange: "20000-20099"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	for _, l := range live {
		id, port, proto := splitLive(l)
		ns, rest, _ := strings.Cut(id, "/")
		svc, name, _ := strings.Cut(rest, ":")
		m.Spec.Ports = append(m.Spec.Ports, corev1.ServicePort{Name: ports.MuxPortName(ns, svc, name), Port: port, Protocol: proto})
	}
	if len(m.Spec.Ports) == 0 {
		m.Spec.Ports = []corev1.ServicePort{{Name: api.PlaceholderPortName, Port: api.PlaceholderPort, Protocol: corev1.ProtocolTCP}}
	}
	return m
}

func splitLive(l string) (string, int32, corev1.Protocol) {
	id, p, _ := strings.Cut(l, "=")
	proto := corev1.ProtocolTCP
	if n, u, ok := strings.Cut(p, "/"); ok {
		p, proto = n, corev1.Protocol(u)
	}
	n, _ := strconv.Atoi(p)
	return id, int32(n), proto
}

// testChannel is ns/name attached to the mux with "name:port" TCP ports.
func testChannel(ref string, portSpecs ...string) *corev1.Service {
	ns, name, _ := strings.Cut(ref, "/")
	class := testKeys.ClassPrefix() + "mux"
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Generation: 1, Annotations: map[string]string{}},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class, Selector: map[string]string{"app": name}},
	}
	for _, p := range portSpecs {
		n, v, _ := strings.Cut(p, ":")
		port, _ := strconv.Atoi(v)
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: n, Port: int32(port), Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt(port)})
	}
	return s
}

func withAnnotation(s *corev1.Service, k, v string) *corev1.Service {
	s.Annotations[k] = v
	return s
}

// auto asks for automatic ports on every named port.
func auto(s *corev1.Service, names ...string) *corev1.Service {
	var items []string
	for _, n := range names {
		items = append(items, n+":auto")
	}
	return withAnnotation(s, testKeys.ExternalPorts, strings.Join(items, ","))
}

// stateCM is the mux's state ConfigMap holding raw, labelled and annotated as the agent writes it.
func stateCM(raw string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations", ResourceVersion: "7",
			Labels:      map[string]string{api.LabelName: api.AppName, api.LabelComponent: api.ComponentMuxState},
			Annotations: map[string]string{testKeys.Mux: "svc-mux/mux"}},
		Data: map[string]string{api.StateKey: raw},
	}
}

func claim(ns, svc, name string, channelPort, muxPort int32, source string) state.Claim {
	return state.Claim{Namespace: ns, Service: svc, PortName: name, Protocol: corev1.ProtocolTCP,
		ChannelPort: channelPort, MuxPort: muxPort, Source: source}
}

func doc(claims ...state.Claim) string { return state.Document{Mux: muxRef, Claims: claims}.Encode() }

func snap(m *corev1.Service, cm *corev1.ConfigMap, channels ...*corev1.Service) plan.Snapshot {
	return plan.Snapshot{Mux: m, Channels: channels, StateConfigMap: cm}
}
