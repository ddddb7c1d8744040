package traffic

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/dataplane"
)

// Two ready pods behind one channel both receive traffic through the mux; a
// pod turned not ready stops receiving; a deleted channel's public port
// refuses connections while the mux's other channel keeps working.
func TestBackendsFollowReadinessAndDeletion(t *testing.T) {
	w := newWorld(t, "")
	w.createMux("mux", nil)
	api0 := w.addPod("api-0", "api", tcp("http", 8080))
	api1 := w.addPod("api-1", "api", tcp("http", 8080))
	other := w.addPod("other-0", "other", tcp("http", 8081))
	w.createChannel("api", "mux", nil, svcPort("http", 20080, intstr.FromInt32(8080), corev1.ProtocolTCP))
	w.createChannel("other", "mux", nil, svcPort("http", 20081, intstr.FromInt32(8081), corev1.ProtocolTCP))
	w.startAgent()

	mux, sp := w.muxPort("mux", 20080, corev1.ProtocolTCP)
	_, otherSP := w.muxPort("mux", 20081, corev1.ProtocolTCP)
	want0, want1 := answer(api0, 8080, corev1.ProtocolTCP), answer(api1, 8080, corev1.ProtocolTCP)

	// Both pods answer: new connections are spread by kube-proxy at random,
	// so 200 tries miss one pod with probability 2^-199.
	for _, via := range dataplane.Vias {
		seen := map[dataplane.Answer]int{}
		controlplane.Eventually(t, converge, func() (bool, string) {
			for range 200 {
				got, err := w.node.AskService(w.ctx(), via, mux, sp)
				if err != nil {
					return false, fmt.Sprintf("%s: %v", via, err)
				}
				seen[got]++
				if seen[want0] > 0 && seen[want1] > 0 {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%s answers so far: %v", via, seen)
		})
		for a := range seen {
			if a != want0 && a != want1 {
				t.Fatalf("%s: unexpected backend %s", via, a)
			}
		}
		t.Logf("%-12s both backends answer: %v", via, seen)
	}

	// api-1 not ready: once the change has reached kube-proxy, only api-0
	// answers (50 consecutive new connections per way in, probed back to
	// back; the loop is bounded by converge).
	start := time.Now()
	if err := api1.SetReady(w.ctx(), false); err != nil {
		t.Fatal(err)
	}
	var lastFromAPI1 time.Duration
	for _, via := range dataplane.Vias {
		streak := 0
		var last string
		for streak < 50 {
			if time.Since(start) > converge {
				t.Fatalf("%s: not-ready api-1 still reachable after %v (last: %s)", via, converge, last)
			}
			got, err := w.node.AskService(w.ctx(), via, mux, sp)
			switch {
			case err != nil:
				streak, last = 0, err.Error()
				time.Sleep(20 * time.Millisecond)
			case got == want1:
				streak, last = 0, "answered by "+got.String()
				lastFromAPI1 = time.Since(start)
			case got != want0:
				t.Fatalf("%s: unexpected backend %s", via, got)
			default:
				streak++
			}
		}
	}
	t.Logf("not-ready api-1 answered for the last time %v after its status changed", lastFromAPI1.Round(time.Millisecond))

	// Delete the channel: its public port refuses on every way in; the
	// other channel on the same mux is untouched.
	start = time.Now()
	if err := w.c.CoreV1().Services(w.ns).Delete(w.ctx(), "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controlplane.Eventually(t, converge, func() (bool, string) {
		cur, err := w.c.CoreV1().Services(w.ns).Get(context.Background(), "mux", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range cur.Spec.Ports {
			if p.Port == sp.Port {
				return false, "mux still has " + portList(cur.Spec.Ports)
			}
		}
		return true, ""
	})
	for _, via := range dataplane.Vias {
		w.expectRefused(via, mux, sp) // the old address, node port included
		w.expectReach(via, mux, otherSP, answer(other, 8081, corev1.ProtocolTCP))
	}
	t.Logf("deleted channel's port refused on every way in within %v", time.Since(start).Round(time.Millisecond))
}
