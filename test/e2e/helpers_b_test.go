package e2e

// Shared helpers of endpoints_test.go, takeover_test.go, leader_test.go and
// dryrun_test.go. Every unexported name ends in B so these files never clash
// with the helpers of the package's other tests.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// The contract's keys under the default prefix (SPEC §1, §5). Spelled out here
// rather than taken from pkg/api: the tests hold the product to the contract.
const (
	prefixB          = "svc-mux.nowake.ai"
	annMultiplexerB  = prefixB + "/multiplexer"
	annPortsB        = prefixB + "/ports"
	annExternalB     = prefixB + "/external-ports"
	annPortRangeB    = prefixB + "/port-range"
	annChannelsB     = prefixB + "/channels"
	annSummaryB      = prefixB + "/summary"
	annTopologyB     = prefixB + "/topology"
	annMuxRefB       = prefixB + "/mux"
	annManagedB      = prefixB + "/managed"
	condAcceptedB    = prefixB + "/Accepted"
	finalizerB       = prefixB + "/finalizer"
	sliceManagerB    = "svcmux.nowake.ai"                         // endpointslice.kubernetes.io/managed-by of mux slices
	mirrorManagerB   = "endpointslicemirroring-controller.k8s.io" // the cluster's mirroring controller
	labelManagedByB  = "app.kubernetes.io/managed-by"
	labelComponentB  = "app.kubernetes.io/component"
	labelNameB       = "app.kubernetes.io/name"
	labelSkipMirrorB = "endpointslice.kubernetes.io/skip-mirror"
	eventComponentB  = "svcmux"

	// waitB bounds every wait for the agent or the cluster to converge.
	waitB = 20 * time.Second
)

// envB is one test's namespace on the shared control plane.
type envB struct {
	t   *testing.T
	cp  *controlplane.ControlPlane
	c   kubernetes.Interface
	ns  string
	ctx context.Context
}

func newEnvB(t *testing.T) *envB {
	t.Helper()
	cp := controlplane.Get(t)
	return &envB{t: t, cp: cp, c: cp.Client(), ns: cp.Namespace(t), ctx: t.Context()}
}

// classB is the loadBalancerClass naming mux in the test's namespace.
func (e *envB) classB(mux string) string { return prefixB + "/" + mux + "." + e.ns }

// refB is "namespace/name" in the test's namespace.
func (e *envB) refB(name string) string { return e.ns + "/" + name }

// muxPortNameB is the mux port name of a channel port: the first 7 hex chars of
// SHA-256("namespace/service/portName") (SPEC §2, the Python controller's port_hash).
func muxPortNameB(ns, svc, port string) string {
	sum := sha256.Sum256([]byte(ns + "/" + svc + "/" + port))
	return hex.EncodeToString(sum[:])[:7]
}

// newMuxB creates a mux Service with the placeholder port, as a user would.
func (e *envB) newMuxB(name string, annotations map[string]string) *corev1.Service {
	e.t.Helper()
	ann := map[string]string{annMultiplexerB: "true"}
	for k, v := range annotations {
		ann[k] = v
	}
	return e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	})
}

// newChannelB creates a channel Service of class class.
func (e *envB) newChannelB(name, class string, selector, annotations map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	e.t.Helper()
	return e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Annotations: annotations},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: selector, Ports: ports},
	})
}

func (e *envB) createSvcB(svc *corev1.Service) *corev1.Service {
	e.t.Helper()
	out, err := e.c.CoreV1().Services(e.ns).Create(e.ctx, svc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating service %s/%s: %v", e.ns, svc.Name, err)
	}
	return out
}

// svcB gets a Service, failing the test on error.
func (e *envB) svcB(name string) *corev1.Service {
	e.t.Helper()
	svc, err := e.c.CoreV1().Services(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("getting service %s/%s: %v", e.ns, name, err)
	}
	return svc
}

// waitSvcB polls Service name until cond holds and returns it.
func (e *envB) waitSvcB(name string, cond func(*corev1.Service) (bool, string)) *corev1.Service {
	e.t.Helper()
	var svc *corev1.Service
	controlplane.Eventually(e.t, waitB, func() (bool, string) {
		var err error
		svc, err = e.c.CoreV1().Services(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cond(svc)
	})
	return svc
}

// updateSvcB applies mutate to the live Service (retrying conflicts).
func (e *envB) updateSvcB(name string, mutate func(*corev1.Service)) *corev1.Service {
	e.t.Helper()
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := e.c.CoreV1().Services(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(svc)
		out, err = e.c.CoreV1().Services(e.ns).Update(e.ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatalf("updating service %s/%s: %v", e.ns, name, err)
	}
	return out
}

// nodeB creates this test's Node (cluster-scoped, so named after the namespace).
func (e *envB) nodeB() string {
	e.t.Helper()
	name := "node-" + e.ns
	e.cp.CreateNode(e.t, name, "192.0.2.20")
	return name
}

// podB creates a pod on node with the given status (a kubelet's job).
func (e *envB) podB(name string, labels map[string]string, node, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	e.t.Helper()
	p := e.cp.CreatePod(e.t, e.ns, name, labels, node, ports...)
	return e.cp.SetPodStatus(e.t, p, ip, ready)
}

// acceptedB is the channel's <prefix>/Accepted condition, nil when absent.
func acceptedB(svc *corev1.Service) *metav1.Condition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == condAcceptedB {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// condStringB renders a condition for failure messages.
func condStringB(c *metav1.Condition) string {
	if c == nil {
		return "<no Accepted condition>"
	}
	return fmt.Sprintf("%s reason=%s gen=%d ltt=%s msg=%q", c.Status, c.Reason, c.ObservedGeneration,
		c.LastTransitionTime.UTC().Format(time.RFC3339), c.Message)
}

// svcStateB renders what the agent writes on a Service, for failure messages.
func svcStateB(svc *corev1.Service) string {
	return fmt.Sprintf("ports=%v ann(ports)=%q ingress=%v cond=%s finalizers=%v", portsB(svc),
		svc.Annotations[annPortsB], svc.Status.LoadBalancer.Ingress, condStringB(acceptedB(svc)), svc.Finalizers)
}

// portB is a Service port as the agent owns it, plus the NodePort the server gave.
type portB struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
	NodePort int32
}

// portsB lists a Service's ports (name, port, protocol, nodePort).
func portsB(svc *corev1.Service) []portB {
	out := make([]portB, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out = append(out, portB{Name: p.Name, Port: p.Port, Protocol: p.Protocol, NodePort: p.NodePort})
	}
	return out
}

// portIDsB lists "name port/protocol" of a Service's ports, in spec order.
func portIDsB(svc *corev1.Service) []string {
	out := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out = append(out, fmt.Sprintf("%s %d/%s", p.Name, p.Port, p.Protocol))
	}
	return out
}

// claimB is one claim of the state ConfigMap (SPEC §4).
type claimB struct {
	ChannelPort int32  `json:"channelPort,omitempty"`
	MuxPort     int32  `json:"muxPort,omitempty"`
	Namespace   string `json:"namespace"`
	Port        int32  `json:"port"`
	PortName    string `json:"portName"`
	Protocol    string `json:"protocol"`
	Service     string `json:"service"`
	Source      string `json:"source"`
}

// stateDocB is the allocations.json document.
type stateDocB struct {
	Allocations []claimB `json:"allocations"`
	Mux         struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"mux"`
	PortClaims    []claimB `json:"portClaims"`
	SchemaVersion int      `json:"schemaVersion"`
}

// stateCMB gets a ConfigMap; nil when it does not exist.
func (e *envB) stateCMB(name string) *corev1.ConfigMap {
	e.t.Helper()
	cm, err := e.c.CoreV1().ConfigMaps(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("getting configmap %s/%s: %v", e.ns, name, err)
	}
	return cm
}

// claimsB decodes the portClaims of a state ConfigMap (nil ConfigMap: none).
func claimsB(cm *corev1.ConfigMap) ([]claimB, error) {
	if cm == nil {
		return nil, fmt.Errorf("no state ConfigMap")
	}
	var doc stateDocB
	if err := json.Unmarshal([]byte(cm.Data["allocations.json"]), &doc); err != nil {
		return nil, err
	}
	return doc.PortClaims, nil
}

// staticClaimB is the claim of a default or explicit port.
func (e *envB) staticClaimB(svc, portName string, channelPort, muxPort int32) claimB {
	return claimB{ChannelPort: channelPort, MuxPort: muxPort, Namespace: e.ns, Port: muxPort,
		PortName: portName, Protocol: "TCP", Service: svc, Source: "static"}
}

// encodeStateB serialises a state document the way SPEC §4 (and Python's
// json.dumps(indent=2, sort_keys=True)) does: sorted keys, two-space indent,
// ": " after keys, items ending in "," at line ends, no trailing newline.
func encodeStateB(t testing.TB, doc map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatalf("encoding state: %v", err)
	}
	return string(b)
}

// epB is one mux endpoint flattened with the port its slice carries, so a
// whole set of slices compares (and prints) at once.
type epB struct {
	Slice                       string
	Addr, Pod, Node             string
	PortName                    string
	Port                        int32
	Ready, Serving, Terminating bool
}

func flattenB(list []discoveryv1.EndpointSlice, withSlice bool) []epB {
	var out []epB
	b := func(p *bool) bool { return p != nil && *p }
	for _, s := range list {
		for _, e := range s.Endpoints {
			for _, p := range s.Ports {
				ep := epB{Addr: strings.Join(e.Addresses, ","), Ready: b(e.Conditions.Ready),
					Serving: b(e.Conditions.Serving), Terminating: b(e.Conditions.Terminating)}
				if withSlice {
					ep.Slice = s.Name
				}
				if e.TargetRef != nil {
					ep.Pod = e.TargetRef.Kind + "/" + e.TargetRef.Namespace + "/" + e.TargetRef.Name
				}
				if e.NodeName != nil {
					ep.Node = *e.NodeName
				}
				if p.Name != nil {
					ep.PortName = *p.Name
				}
				if p.Port != nil {
					ep.Port = *p.Port
				}
				out = append(out, ep)
			}
		}
	}
	slices.SortFunc(out, func(a, b epB) int {
		if c := strings.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.PortName, b.PortName)
	})
	return out
}

// slicesByManagerB lists the EndpointSlices of service managed by manager.
func (e *envB) slicesByManagerB(service, manager string) []discoveryv1.EndpointSlice {
	e.t.Helper()
	var out []discoveryv1.EndpointSlice
	for _, s := range e.cp.EndpointSlices(e.t, e.ns, service) {
		if s.Labels[discoveryv1.LabelManagedBy] == manager {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// muxSlicesB are svcmux's EndpointSlices of mux.
func (e *envB) muxSlicesB(mux string) []discoveryv1.EndpointSlice {
	e.t.Helper()
	return e.slicesByManagerB(mux, sliceManagerB)
}

// svcmuxEventsB lists the Events svcmux posted in the namespace.
func (e *envB) svcmuxEventsB() []corev1.Event {
	e.t.Helper()
	list, err := e.c.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("listing events: %v", err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.Source.Component == eventComponentB || ev.ReportingController == eventComponentB {
			out = append(out, ev)
		}
	}
	return out
}

// eventsStringB renders Events for failure messages.
func eventsStringB(evs []corev1.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s/%s: %s", ev.Type, ev.Reason, ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Message)
	}
	return b.String()
}

// holdB keeps checking cond for d, failing at the first violation: "stays
// so" assertions (idle agent, follower writing nothing, dry-run).
func holdB(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ok, state := cond(); !ok {
			t.Fatalf("condition broken: %s", state)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tcpB is a channel port with a numeric target.
func tcpB(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// ptrB returns a pointer to v.
func ptrB[T any](v T) *T { return &v }

// grepB keeps the lines of log that contain s (an agent's log about one namespace).
func grepB(log, s string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// dropFinalizersAtEndB removes the finalizers of the named Services when the
// test ends (before its namespace is deleted: cleanups run last-in first-out),
// so a test that leaves the Python controller's finalizer in place on purpose
// never leaves a namespace stuck Terminating for the tests after it.
func (e *envB) dropFinalizersAtEndB(names ...string) {
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, name := range names {
			_, err := e.c.CoreV1().Services(e.ns).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				e.t.Logf("dropping finalizers of %s/%s: %v", e.ns, name, err)
			}
		}
	})
}
