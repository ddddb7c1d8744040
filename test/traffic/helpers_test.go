package traffic

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/dataplane"
	sw "github.com/nowakeai/svcmux/test/world"
)

const (
	// prefix is the contract's default annotation prefix, as keys are built:
	// prefix + "port-range" (the shared world's Key does the same).
	prefix = sw.DefaultPrefix + "/"
	// converge bounds every wait for agent + endpointslice controller +
	// kube-proxy to carry a change into the data plane.
	converge = 30 * time.Second
)

// lbSeq hands out load-balancer IPs unique in the package: kube-proxy sees
// every Service of the control plane, including those of earlier tests whose
// namespaces are still being deleted.
var lbSeq atomic.Int32

func nextLoadBalancerIP() string { return dataplane.LoadBalancerIP(int(lbSeq.Add(1)) % 254) }

// world is the shared e2e world (test/world: namespace, muxes, channels, the
// agent) plus the node that plays the data plane (test/dataplane). The short
// fields name the shared world's own, for the probes' many calls.
type world struct {
	*sw.World
	t    *testing.T
	cp   *controlplane.ControlPlane
	c    kubernetes.Interface
	ns   string
	node *dataplane.Node
}

func newWorld(t *testing.T, mode dataplane.Mode) *world {
	t.Helper()
	w := sw.New(t)
	node := dataplane.NewNode(t, w.CP, mode)
	return &world{World: w, t: t, cp: w.CP, c: w.Client, ns: w.Namespace, node: node}
}

func (w *world) ctx() context.Context { return w.Context() }

// startAgent starts the agent for the test (test/world: its log tail is
// logged when the test fails).
func (w *world) startAgent() *agentrun.Agent {
	w.t.Helper()
	return w.StartAgent().Agent
}

// createMux creates a mux (placeholder port) and gives it a load-balancer IP
// as the cloud would.
func (w *world) createMux(name string, ann map[string]string) *corev1.Service {
	w.t.Helper()
	w.CreateMux(name, ann)
	return w.SetIngress(name, nextLoadBalancerIP())
}

// createChannel creates a channel of mux selecting pods labelled app=<name>.
func (w *world) createChannel(name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	w.t.Helper()
	return w.CreateChannel(name, mux, ann, ports...)
}

// addPod adds a ready backend pod labelled app=<app> to the node.
func (w *world) addPod(name, app string, ports ...corev1.ContainerPort) *dataplane.Pod {
	w.t.Helper()
	p, err := w.node.AddPod(w.ctx(), w.ns, name, map[string]string{"app": app}, ports...)
	if err != nil {
		w.t.Fatalf("add pod %s: %v", name, err)
	}
	return p
}

func tcp(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func udp(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolUDP}
}

func svcPort(name string, port int32, target intstr.IntOrString, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: proto}
}

// muxPort waits until the mux has public port/proto (with a node port) and
// returns the mux and that port.
func (w *world) muxPort(mux string, port int32, proto corev1.Protocol) (*corev1.Service, corev1.ServicePort) {
	w.t.Helper()
	var svc *corev1.Service
	var found corev1.ServicePort
	controlplane.Eventually(w.t, converge, func() (bool, string) {
		var err error
		svc, err = w.c.CoreV1().Services(w.ns).Get(w.ctx(), mux, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, sp := range svc.Spec.Ports {
			if sp.Port == port && sp.Protocol == proto && sp.NodePort != 0 {
				found = sp
				return true, ""
			}
		}
		return false, fmt.Sprintf("mux ports %s", portList(svc.Spec.Ports))
	})
	return svc, found
}

func portList(ps []corev1.ServicePort) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s:%d/%s(node %d)", p.Name, p.Port, p.Protocol, p.NodePort))
	}
	return strings.Join(out, " ")
}

// expectReach waits until a probe via the way in reaches want (pod and
// port) and returns how long that took.
func (w *world) expectReach(via dataplane.Via, mux *corev1.Service, sp corev1.ServicePort, want dataplane.Answer) time.Duration {
	w.t.Helper()
	start := time.Now()
	controlplane.Eventually(w.t, converge, func() (bool, string) {
		got, err := w.node.AskService(w.ctx(), via, mux, sp)
		if err != nil {
			return false, fmt.Sprintf("%s %d/%s: %v", via, sp.Port, sp.Protocol, err)
		}
		return got == want, fmt.Sprintf("%s %d/%s answered by %s, want %s", via, sp.Port, sp.Protocol, got, want)
	})
	return time.Since(start)
}

// expectRefused waits until a probe via the way in is actively refused.
func (w *world) expectRefused(via dataplane.Via, mux *corev1.Service, sp corev1.ServicePort) {
	w.t.Helper()
	controlplane.Eventually(w.t, converge, func() (bool, string) {
		got, err := w.node.AskService(w.ctx(), via, mux, sp)
		if err == nil {
			return false, fmt.Sprintf("%s %d/%s still answered by %s", via, sp.Port, sp.Protocol, got)
		}
		return dataplane.IsRefused(err), fmt.Sprintf("%s %d/%s: %v (want connection refused)", via, sp.Port, sp.Protocol, err)
	})
}

// answer is what a backend pod says on port/proto.
func answer(p *dataplane.Pod, port int32, proto corev1.Protocol) dataplane.Answer {
	return dataplane.Answer{Pod: p.Key(), Port: port, Protocol: proto}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }
