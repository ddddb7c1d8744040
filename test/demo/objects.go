package main

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/test/world"
)

// The sample: one mux in its own namespace (as the chart installs it) and three
// channels in an application namespace, one per kind of port mapping.
const (
	muxNamespace     = "svc-mux"
	muxName          = "mux"
	channelNamespace = "demo"
	portRange        = "20000-20099"
	// ingressIP plays the cloud: the address a provider would give the mux's
	// load balancer. It is the data-plane harness's first load-balancer address,
	// routed only inside the network namespaces the traffic proof makes.
	ingressIP = "10.251.0.1"
	nodeName  = "demo-node"
	nodeIP    = "10.240.0.10"
)

var keys = api.NewKeys(api.DefaultPrefix)

// channel is one sample channel: one named port, its mapping annotation (if
// any), its pods, and what the agent is expected to write.
type channel struct {
	name        string
	mapping     string // how the public port is chosen, for the report
	port        int32  // spec.ports[0].port
	targetPort  int32
	external    string // <prefix>/external-ports, "" for none
	podIPs      []string
	wantMuxPort int32
}

var channels = []channel{
	{name: "web", mapping: "default (port)", port: 80, targetPort: 8080,
		podIPs: []string{"10.244.0.11", "10.244.0.12"}, wantMuxPort: 80},
	{name: "api", mapping: "explicit http:30080", port: 8080, targetPort: 8080, external: "http:30080",
		podIPs: []string{"10.244.0.21"}, wantMuxPort: 30080},
	{name: "admin", mapping: "auto http:auto", port: 9090, targetPort: 9090, external: "http:auto",
		podIPs: []string{"10.244.0.31"}, wantMuxPort: 20000},
}

// rejected is the newcomer the demo adds once the sample has converged: it asks
// for api's public port, which api owns from its first pass on (SPEC §4), so the
// agent rejects it whole (MuxPortConflict naming the owner) and the mux and the
// traffic stay as they were. It has no pods: nothing would serve it.
var rejected = channel{name: "api-v2", mapping: "explicit http:30080 (api's)", port: 8080, targetPort: 8080,
	external: "http:30080"}

// autoPort is the public port the agent picked for the channel with an automatic mapping.
func autoPort() int32 {
	for _, c := range channels {
		if strings.HasSuffix(c.external, ":auto") {
			return c.wantMuxPort
		}
	}
	return 0
}

// wantPorts is the channel's expected <prefix>/ports annotation.
func (c channel) wantPorts() string {
	return fmt.Sprintf("http:%d->%d", c.port, c.wantMuxPort)
}

func (c channel) labels() map[string]string { return map[string]string{"app": c.name} }

func muxService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: muxName, Namespace: muxNamespace, Annotations: map[string]string{
			keys.Multiplexer: "true",
			keys.PortRange:   portRange,
		}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer,
			// The agent owns spec.ports; a placeholder is what a manifest carries.
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func (c channel) service() *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: channelNamespace},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass:             ptrTo(keys.ClassPrefix() + muxName + "." + muxNamespace),
			AllocateLoadBalancerNodePorts: ptrTo(false),
			Selector:                      c.labels(),
			Ports: []corev1.ServicePort{{Name: "http", Port: c.port, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString("http")}},
		},
	}
	if c.external != "" {
		svc.Annotations = map[string]string{keys.ExternalPorts: c.external}
	}
	return svc
}

// createSample creates the namespaces, the agent's stand-in Deployment, a Node,
// the mux, the channels and their ready pods, and gives the mux its load
// balancer address.
func (d *demo) createSample(ctx context.Context) error {
	c := d.cp.Client()
	for _, ns := range []string{muxNamespace, channelNamespace} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	if err := d.createAgentDeployment(ctx); err != nil {
		return err
	}
	mux, err := c.CoreV1().Services(muxNamespace).Create(ctx, muxService(), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating mux: %w", err)
	}
	for _, ch := range channels {
		if _, err := c.CoreV1().Services(channelNamespace).Create(ctx, ch.service(), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating channel %s: %w", ch.name, err)
		}
	}
	// The rest through the shared world's error-returning helpers (a World
	// made by Open has no testing.TB and never needs one).
	apps := world.Open(ctx, d.cp, channelNamespace)
	if _, err := apps.NodeE(nodeName, nodeIP); err != nil {
		return err
	}
	for _, ch := range channels {
		for i, ip := range ch.podIPs {
			if _, err := apps.PodE(fmt.Sprintf("%s-%d", ch.name, i), ch.labels(), nodeName, ip, true,
				corev1.ContainerPort{Name: "http", ContainerPort: ch.targetPort, Protocol: corev1.ProtocolTCP}); err != nil {
				return err
			}
		}
	}
	_, err = world.Open(ctx, d.cp, muxNamespace).SetIngressE(mux.Name, ingressIP)
	return err
}

func ptrTo[T any](v T) *T { return &v }
