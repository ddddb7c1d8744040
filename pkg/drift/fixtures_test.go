package drift

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Test fixtures: a mux svc-mux/mux (range 20000-20009, one ingress IP) with two
// channels, app/api (http 8080, its own port) and app/web (https 443 on an auto
// port), one ready pod each; converged() is that world as the agent leaves it,
// with managedFields written by hand as the API server records them.

var (
	keys     = api.NewKeys("")
	testOpts = plan.Options{Keys: keys, DefaultMuxNamespace: "svc-mux", Now: at(0)}
)

// at is 2026-12-01 10:00 plus n minutes: t0 the users' creates, t1 the agent's
// pass, t2 and later someone else's write.
func at(n int) metav1.Time {
	return metav1.Date(2026, 12, 1, 10, n, 0, 0, metav1.Now().UTC().Location())
}

func muxService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", UID: "mux-uid", Annotations: map[string]string{
			keys.Multiplexer: "true", keys.PortRange: "20000-20009"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP, NodePort: 30101}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}}},
	}
}

func channelService(name string, ann map[string]string, port corev1.ServicePort) *corev1.Service {
	class := keys.ClassPrefix() + "mux.svc-mux"
	port.TargetPort = intstr.FromInt32(port.Port)
	if ann == nil {
		ann = map[string]string{}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, UID: types.UID("uid-app-" + name), Generation: 1, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{port}},
	}
}

func channelSlice(svc, ip string, port corev1.ServicePort) *discoveryv1.EndpointSlice {
	ready := true
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "app", Name: svc + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &port.Name, Port: &port.Port, Protocol: &port.Protocol}},
	}
}

func initial() plan.Snapshot {
	http := corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}
	https := corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}
	return plan.Snapshot{
		Mux: muxService(),
		Channels: []*corev1.Service{
			channelService("api", nil, http),
			channelService("web", map[string]string{keys.ExternalPorts: "https:auto", keys.ExternalDNSHostname: "web.example.com"}, https),
		},
		ChannelSlices: []*discoveryv1.EndpointSlice{channelSlice("api", "10.0.0.1", http), channelSlice("web", "10.0.0.2", https)},
	}
}

// fields is FieldsV1 as the API server serialises it: "f:"/"k:" keys, "." for
// the node itself.
func fields(json string) *metav1.FieldsV1 { return metav1.NewFieldsV1(json) }

func entry(manager string, op metav1.ManagedFieldsOperationType, subresource string, t metav1.Time, json string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource, APIVersion: "v1",
		Time: &t, FieldsType: "FieldsV1", FieldsV1: fields(json)}
}

const (
	update = metav1.ManagedFieldsOperationUpdate
	apply  = metav1.ManagedFieldsOperationApply
)

// annotationFields is {"f:metadata":{"f:annotations":{"f:k":{},…}}}.
func annotationFields(keys ...string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q:{}", "f:"+k)
	}
	return `{"f:metadata":{"f:annotations":{` + strings.Join(parts, ",") + `}}}`
}

// portsFields owns the mux port elements {port, protocol} with name, port, protocol.
func portsFields(ports ...corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, sp := range ports {
		parts[i] = fmt.Sprintf(`"k:{\"port\":%d,\"protocol\":\"%s\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}`, sp.Port, sp.Protocol)
	}
	return `{"f:spec":{"f:ports":{` + strings.Join(parts, ",") + `}}}`
}

const statusFields = `{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"svc-mux.nowake.ai/Accepted\"}":{".":{},` +
	`"f:lastTransitionTime":{},"f:message":{},"f:observedGeneration":{},"f:reason":{},"f:status":{},"f:type":{}}},` +
	`"f:loadBalancer":{"f:ingress":{}}}}`

// converged is initial() after the agent applied its plan at t1: every
// agent-owned field holds the planned value and is owned by svcmux.
func converged() plan.Snapshot {
	s := initial()
	p := plan.Compute(s, testOpts)
	mux := s.Mux.DeepCopy()
	mux.Spec.Ports = nil
	for i, sp := range p.Ports {
		sp.NodePort, sp.TargetPort = 31000+int32(i), intstr.FromInt32(sp.Port) // the API server's
		mux.Spec.Ports = append(mux.Spec.Ports, sp)
	}
	agentKeys := []string{}
	for k, v := range p.Annotations {
		mux.Annotations[k] = v
		agentKeys = append(agentKeys, k)
	}
	mux.ManagedFields = []metav1.ManagedFieldsEntry{
		entry("kubectl-create", update, "", at(0), annotationFields(keys.Multiplexer, keys.PortRange)),
		entry(api.FieldManager, update, "", at(1), mergeFields(annotationFields(agentKeys...), portsFields(p.Ports...))),
	}
	s.Mux = mux
	for i, c := range s.Channels {
		o := p.Channels[i]
		ch := c.DeepCopy()
		ch.Annotations[keys.Ports] = *o.PortsAnnotation
		ch.Status.LoadBalancer.Ingress = o.Ingress
		ch.Status.Conditions = []metav1.Condition{*o.Condition}
		ch.ManagedFields = []metav1.ManagedFieldsEntry{
			entry("kubectl-create", update, "", at(0), `{"f:spec":{"f:type":{},"f:loadBalancerClass":{}}}`),
			entry(api.FieldManager, update, "", at(1), annotationFields(keys.Ports)),
			entry(api.FieldManager, update, "status", at(1), statusFields),
		}
		s.Channels[i] = ch
	}
	s.MuxSlices = nil
	for _, sl := range p.Slices {
		live := sl.DeepCopy()
		live.ResourceVersion = "7"
		live.ManagedFields = []metav1.ManagedFieldsEntry{entry(api.FieldManager, update, "", at(1),
			`{"f:addressType":{},"f:endpoints":{},"f:ports":{},"f:metadata":{"f:labels":{".":{}}}}`)}
		s.MuxSlices = append(s.MuxSlices, live)
	}
	s.StateConfigMap = &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: p.State.Name, Labels: p.State.Labels, Annotations: p.State.Annotations,
			ManagedFields: []metav1.ManagedFieldsEntry{entry(api.FieldManager, update, "", at(1),
				`{"f:data":{".":{},"f:allocations.json":{}}}`)}},
		Data: map[string]string{api.StateKey: p.State.Encoded},
	}
	return s
}

// mergeFields joins two FieldsV1 objects with disjoint top-level keys.
func mergeFields(a, b string) string { return a[:len(a)-1] + "," + b[1:] }

func channelOf(s plan.Snapshot, name string) *corev1.Service {
	for _, c := range s.Channels {
		if c.Name == name {
			return c
		}
	}
	panic("no channel " + name)
}
