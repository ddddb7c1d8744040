package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// endpoint is the part of an EndpointSlice endpoint the smoke test checks,
// flattened so a whole slice compares (and prints) in one line.
type endpoint struct {
	Addr, Pod, Node             string
	Ready, Serving, Terminating bool
}

func endpointsOf(list []discoveryv1.EndpointSlice) []endpoint {
	var out []endpoint
	b := func(p *bool) bool { return p != nil && *p }
	for _, s := range list {
		for _, e := range s.Endpoints {
			ep := endpoint{Addr: strings.Join(e.Addresses, ","), Ready: b(e.Conditions.Ready),
				Serving: b(e.Conditions.Serving), Terminating: b(e.Conditions.Terminating)}
			if e.TargetRef != nil {
				ep.Pod = e.TargetRef.Name
			}
			if e.NodeName != nil {
				ep.Node = *e.NodeName
			}
			out = append(out, ep)
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// TestSmoke checks that the control plane behaves like a cluster for what
// svcmux relies on: its Service shapes are accepted, the real
// endpointslice controller turns pod readiness into endpoint conditions, and
// a load-balancer status written by "the cloud" sticks.
func TestSmoke(t *testing.T) {
	began := time.Now()
	cp := controlplane.Get(t)
	c := cp.Client()
	ctx := t.Context()
	ns := cp.Namespace(t)

	v, err := c.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v1.37.2", v.GitVersion, "API server version (build.sh ldflags)")

	// The mux: a selector-less LoadBalancer Service with a placeholder port.
	mux, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Annotations: map[string]string{"svc-mux.nowake.ai/multiplexer": "true"}},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	assertAllocated(t, mux)

	// A channel of that mux. The class names the mux as <name>.<namespace>;
	// the namespace is this test's (not a fixed "svc-mux") so tests sharing
	// the control plane never address each other's muxes.
	class := "svc-mux.nowake.ai/mux." + ns
	web, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: &class,
			Selector:          map[string]string{"app": "web"},
			Ports:             []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	assertAllocated(t, web)
	require.NotNil(t, web.Spec.LoadBalancerClass)
	assert.Equal(t, class, *web.Spec.LoadBalancerClass)

	// Two pods behind the channel, one ready and one not.
	node := "node-" + ns // cluster-scoped: unique per test
	cp.CreateNode(t, node, "192.0.2.10")
	port := corev1.ContainerPort{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}
	ready := cp.CreatePod(t, ns, "web-ready", map[string]string{"app": "web"}, node, port)
	notReady := cp.CreatePod(t, ns, "web-not-ready", map[string]string{"app": "web"}, node, port)
	cp.CreatePod(t, ns, "other", map[string]string{"app": "other"}, node, port) // not selected
	ready = cp.SetPodStatus(t, ready, "10.244.0.10", true)
	cp.SetPodStatus(t, notReady, "10.244.0.11", false)

	waitEndpoints := func(want []endpoint) []discoveryv1.EndpointSlice {
		t.Helper()
		var got []discoveryv1.EndpointSlice
		controlplane.Eventually(t, 20*time.Second, func() (bool, string) {
			got = cp.EndpointSlices(t, ns, "web")
			eps := endpointsOf(got)
			return reflect.DeepEqual(eps, want), fmt.Sprintf("%d slices, endpoints %+v", len(got), eps)
		})
		return got
	}
	got := waitEndpoints([]endpoint{
		{Addr: "10.244.0.10", Pod: "web-ready", Node: node, Ready: true, Serving: true},
		{Addr: "10.244.0.11", Pod: "web-not-ready", Node: node},
	})
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, discoveryv1.AddressTypeIPv4, s.AddressType)
	assert.Equal(t, "endpointslice-controller.k8s.io", s.Labels[discoveryv1.LabelManagedBy])
	name, proto, p := "http", corev1.ProtocolTCP, int32(80) // targetPort, under the Service port's name
	assert.Equal(t, []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p}}, s.Ports)

	// A terminating pod stays published: not ready, but serving while Ready.
	cp.MarkTerminating(t, ready)
	waitEndpoints([]endpoint{
		{Addr: "10.244.0.10", Pod: "web-ready", Node: node, Serving: true, Terminating: true},
		{Addr: "10.244.0.11", Pod: "web-not-ready", Node: node},
	})

	// The mux has no selector: no controller writes its endpoints (svcmux will).
	assert.Empty(t, cp.EndpointSlices(t, ns, "mux"))

	// Play the cloud: the mux gets an external IP and a hostname.
	cp.SetLoadBalancerIngress(t, mux, "203.0.113.10", "mux.example.test")
	mux, err = c.CoreV1().Services(ns).Get(ctx, "mux", metav1.GetOptions{})
	require.NoError(t, err)
	vip := corev1.LoadBalancerIPModeVIP // defaulted by the API server for IPs
	assert.Equal(t, []corev1.LoadBalancerIngress{
		{IP: "203.0.113.10", IPMode: &vip},
		{Hostname: "mux.example.test"},
	}, mux.Status.LoadBalancer.Ingress)

	// Out-of-process clients work with the kubeconfig file.
	out, err := exec.CommandContext(ctx, cp.Binary("kubectl"), "--kubeconfig", cp.KubeconfigPath(),
		"get", "services", "-n", ns, "-o", "name").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "service/mux\nservice/web\n", string(out))

	t.Logf("smoke test took %v", time.Since(began).Round(time.Millisecond))
}

// assertAllocated checks that the API server allocated a cluster IP and node
// ports from the ranges the control plane was configured with.
func assertAllocated(t *testing.T, svc *corev1.Service) {
	t.Helper()
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	require.NoError(t, err, "service %s cluster IP", svc.Name)
	assert.True(t, netip.MustParsePrefix(controlplane.ServiceClusterIPRange).Contains(ip),
		"service %s cluster IP %s outside %s", svc.Name, ip, controlplane.ServiceClusterIPRange)
	for _, p := range svc.Spec.Ports {
		assert.True(t, p.NodePort >= 40000 && p.NodePort <= 60000,
			"service %s port %s: node port %d outside %s", svc.Name, p.Name, p.NodePort, controlplane.ServiceNodePortRange)
	}
}
