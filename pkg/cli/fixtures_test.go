package cli

// Shared builders for the pkg/cli unit tests: cluster objects as the API server
// would return them, a fake clientset behind Globals, and a runner that executes
// the plugin through IOStreams. Every command's tests use these; add, don't copy.

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
)

// fxPrefix is the default prefix, spelled out as the contract does.
const fxPrefix = "svc-mux.nowake.ai/"

// fxResult is one plugin run.
type fxResult struct {
	Code   int
	Out    string
	ErrOut string
}

// runPlugin executes `kubectl svcmux args…` against a fake clientset holding objs.
func runPlugin(t *testing.T, objs []runtime.Object, args ...string) fxResult {
	t.Helper()
	return runPluginWith(t, fake.NewClientset(objs...), args...)
}

// runPluginWith executes the plugin against a prepared clientset (reactors, actions).
func runPluginWith(t *testing.T, c kubernetes.Interface, args ...string) fxResult {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	g := &Globals{
		NewClient: func() (kubernetes.Interface, error) { return c, nil },
		Getenv:    func(string) string { return "" },
	}
	code := ExecuteContext(context.Background(), streams, g, args)
	return fxResult{Code: code, Out: out.String(), ErrOut: errOut.String()}
}

// fxMux is an annotated mux Service in ns with the given annotations (key suffixes
// under the prefix) and live ports.
func fxMux(ns, name string, ann map[string]string, live ...corev1.ServicePort) *corev1.Service {
	a := map[string]string{fxPrefix + "multiplexer": "true"}
	for k, v := range ann {
		a[fxPrefix+k] = v
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: a, UID: types.UID("uid-mux-" + name)},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: live},
	}
}

// fxChannel is a channel in ns attached to mux (a ns/name) with TCP ports "name:port".
func fxChannel(ns, name, mux string, ann map[string]string, ps ...corev1.ServicePort) *corev1.Service {
	a := map[string]string{}
	for k, v := range ann {
		a[fxPrefix+k] = v
	}
	class := fxPrefix + mux
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: a, UID: types.UID("uid-" + ns + "-" + name)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": name}, Ports: ps, AllocateLoadBalancerNodePorts: ptr.To(false)},
	}
}

// fxTCP is a named TCP service port.
func fxTCP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// fxUDP is a named UDP service port.
func fxUDP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolUDP}
}

// fxMuxPort is the live mux port the agent writes for a channel port, with a NodePort.
func fxMuxPort(ns, svc, port string, n int32, proto corev1.Protocol, nodePort int32) corev1.ServicePort {
	return corev1.ServicePort{Name: ports.MuxPortName(ns, svc, port), Port: n, Protocol: proto, NodePort: nodePort}
}

// fxState is a state ConfigMap for mux ns/name holding raw allocations.json.
func fxState(ns, mux, raw string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: mux + "-port-allocations",
			Labels:      map[string]string{api.LabelName: api.AppName, api.LabelComponent: api.ComponentMuxState},
			Annotations: map[string]string{fxPrefix + "mux": ns + "/" + mux}},
		Data: map[string]string{api.StateKey: raw},
	}
}

// fxSlice is a channel's EndpointSlice with one endpoint per ip (ready unless listed in notReady).
func fxSlice(ns, svc string, ips []string, notReady ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc", Labels: map[string]string{api.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, ip := range ips {
		ready := true
		for _, nr := range notReady {
			ready = ready && nr != ip
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}})
	}
	return s
}

// fxIngress gives a Service a load-balancer IP, as the cloud would.
func fxIngress(svc *corev1.Service, ip string) *corev1.Service {
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	return svc
}

// fxWithPorts sets the channel's <prefix>/ports annotation (what the agent wrote).
func fxWithPorts(svc *corev1.Service, v string) *corev1.Service {
	svc.Annotations[fxPrefix+"ports"] = v
	return svc
}

// fxHash is the mux port name of a channel port (the planner's own hash: the
// independent one is pinned by test vectors in test/world).
func fxHash(ns, svc, port string) string { return ports.MuxPortName(ns, svc, port) }
