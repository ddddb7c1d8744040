package traffic

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/dataplane"
)

// The mux's load-balancer IP serves the mux's ports and nothing else.
//
// Regression test: the agent once copied the mux's ingress onto every channel in
// the API server's default ipMode (VIP), so kube-proxy also programmed
// <mux LB IP>:<channel's own port> → that channel's pods: the shared IP answered
// on ports the mux does not expose and, where a channel's own port equalled
// another channel's public port, two Services claimed one IP:port (iptables mode
// routed it to the wrong channel). Channels now carry the address in Proxy mode.
func TestLoadBalancerIPServesOnlyMuxPorts(t *testing.T) {
	w := newWorld(t, "")
	w.createMux("mux", nil)
	a := w.addPod("a-0", "a", tcp("http", 8080))
	b := w.addPod("b-0", "b", tcp("http", 9090))
	// a: own port 8000, public 80. b: own port 80, public 8080.
	w.createChannel("a", "mux", map[string]string{prefix + "external-ports": "http:80"},
		svcPort("http", 8000, intstr.FromInt32(8080), corev1.ProtocolTCP))
	w.createChannel("b", "mux", map[string]string{prefix + "external-ports": "http:8080"},
		svcPort("http", 80, intstr.FromInt32(9090), corev1.ProtocolTCP))
	w.startAgent()
	mux, sp80 := w.muxPort("mux", 80, corev1.ProtocolTCP)
	_, sp8080 := w.muxPort("mux", 8080, corev1.ProtocolTCP)
	w.expectReach(dataplane.ViaLoadBalancer, mux, sp8080, answer(b, 9090, corev1.ProtocolTCP))
	w.expectReach(dataplane.ViaLoadBalancer, mux, sp80, answer(a, 8080, corev1.ProtocolTCP))
	notMux := corev1.ServicePort{Name: "not-a-mux-port", Port: 8000, Protocol: corev1.ProtocolTCP}

	// Each Service change makes kube-proxy sync again: check after several.
	for i := range 3 {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e-resync":"%d"}}}`, i)
		if _, err := w.c.CoreV1().Services(w.ns).Patch(w.ctx(), "a", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond) // > kube-proxy's 1 s min sync period
		if got, err := w.node.AskService(w.ctx(), dataplane.ViaLoadBalancer, mux, sp80); err != nil || got != answer(a, 8080, corev1.ProtocolTCP) {
			t.Errorf("sync %d: LB IP:80 (public port of a) answered by %v %v, want a", i, got, err)
		}
		if got, err := w.node.AskService(w.ctx(), dataplane.ViaLoadBalancer, mux, notMux); !dataplane.IsRefused(err) {
			t.Errorf("sync %d: LB IP:8000 (no mux port; a's own port) answered by %v %v, want refused", i, got, err)
		}
	}
}
