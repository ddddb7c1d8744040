package plan

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
)

// Test fixtures: small builders so a table row reads like the situation it sets up.

var (
	testKeys = api.NewKeys("")
	testNow  = metav1.Date(2026, 11, 23, 12, 0, 0, 0, metav1.Now().Location())
	testOpts = Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux", Now: testNow}
)

type svcOpt func(*corev1.Service)

func mux(opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", UID: "mux-uid",
			Annotations: map[string]string{testKeys.Multiplexer: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: placeholderPorts()},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// channel builds ns/name with "name:port" TCP ports (or "name:port/UDP").
func channel(ref string, portSpecs ...string) *corev1.Service {
	var ns, name string
	fmt.Sscanf(replaceSlash(ref), "%s %s", &ns, &name)
	class := testKeys.ClassPrefix() + "mux"
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ref), Generation: 1, Annotations: map[string]string{}},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class, Selector: map[string]string{"app": name}},
	}
	for _, p := range portSpecs {
		var pname string
		var port int32
		proto := corev1.ProtocolTCP
		var rest string
		fmt.Sscanf(replaceColon(p), "%s %d%s", &pname, &port, &rest)
		if rest == "/UDP" {
			proto = corev1.ProtocolUDP
		}
		if pname == "-" {
			pname = ""
		}
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: pname, Port: port, Protocol: proto, TargetPort: intstr.FromInt32(port)})
	}
	return s
}

func replaceSlash(s string) string { return replaceFirst(s, '/') }
func replaceColon(s string) string { return replaceFirst(s, ':') }
func replaceFirst(s string, c byte) string {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i] + " " + s[i+1:]
		}
	}
	return s
}

func withAnn(svc *corev1.Service, k, v string) *corev1.Service {
	svc.Annotations[k] = v
	return svc
}

func muxAnn(k, v string) svcOpt { return func(s *corev1.Service) { s.Annotations[k] = v } }

func muxPorts(ps ...corev1.ServicePort) svcOpt { return func(s *corev1.Service) { s.Spec.Ports = ps } }

func muxIngress(ip string) svcOpt {
	return func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	}
}

// sp is a mux port for the identity ns/svc/port.
func sp(ns, svc, port string, n int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: ports.MuxPortName(ns, svc, port), Port: n, Protocol: proto}
}

func stateCM(raw string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations",
			Annotations: map[string]string{testKeys.Mux: "svc-mux/mux"}},
		Data: map[string]string{api.StateKey: raw},
	}
}

// slice builds a channel EndpointSlice with one port and endpoints "ip" (ready),
// "ip!" (not ready), "ip~" (terminating).
func slice(ref, name, portName string, port int32, eps ...string) *discoveryv1.EndpointSlice {
	var ns, svc string
	fmt.Sscanf(replaceSlash(ref), "%s %s", &ns, &svc)
	proto := corev1.ProtocolTCP
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
	for _, e := range eps {
		t, f := true, false
		ep := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: &t, Serving: &t, Terminating: &f}}
		switch e[len(e)-1] {
		case '!':
			e = e[:len(e)-1]
			ep.Conditions = discoveryv1.EndpointConditions{Ready: &f, Serving: &f, Terminating: &f}
		case '~':
			e = e[:len(e)-1]
			ep.Conditions = discoveryv1.EndpointConditions{Ready: &f, Serving: &t, Terminating: &t}
		}
		ep.Addresses = []string{e}
		ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "pod-" + e}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

// compute runs Compute and checks it did not touch its input.
func compute(t *testing.T, s Snapshot, o ...Options) Plan {
	t.Helper()
	opts := testOpts
	if len(o) > 0 {
		opts = o[0]
	}
	before := deepCopySnapshot(s)
	p := Compute(s, opts)
	require.True(t, equality.Semantic.DeepEqual(before, deepCopySnapshot(s)), "Compute mutated its input")
	return p
}

func deepCopySnapshot(s Snapshot) Snapshot {
	out := Snapshot{Mux: s.Mux.DeepCopy(), MuxEndpoints: s.MuxEndpoints.DeepCopy(), StateConfigMap: s.StateConfigMap.DeepCopy()}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, c.DeepCopy())
	}
	for _, x := range s.ChannelSlices {
		out.ChannelSlices = append(out.ChannelSlices, x.DeepCopy())
	}
	for _, x := range s.MuxSlices {
		out.MuxSlices = append(out.MuxSlices, x.DeepCopy())
	}
	return out
}

// outcome finds a channel's outcome by "ns/name".
func outcome(t *testing.T, p Plan, ref string) ChannelOutcome {
	t.Helper()
	for _, o := range p.Channels {
		if o.Channel.String() == ref {
			return o
		}
	}
	t.Fatalf("no outcome for %s", ref)
	return ChannelOutcome{}
}

// portList renders mux ports as "20000/TCP=hash" strings for exact comparison.
func portList(p Plan) []string {
	var out []string
	for _, x := range p.Ports {
		out = append(out, fmt.Sprintf("%d/%s=%s", x.Port, x.Protocol, x.Name))
	}
	return out
}

// served renders "ns/name" → its ports annotation, or "-" when absent.
func annotation(o ChannelOutcome) string {
	if o.PortsAnnotation == nil {
		return "-"
	}
	return *o.PortsAnnotation
}

func reasons(p Plan, obj string) []string {
	var out []string
	for _, e := range p.Events {
		if e.Object.String() == obj {
			out = append(out, e.Reason)
		}
	}
	return out
}
