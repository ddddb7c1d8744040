package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
	"github.com/nowakeai/svcmux/test/world"
)

// A ConfigMap holds 1 MiB. With long channel names (63 characters) an automatic
// port takes about 630 bytes of the Python controller's indented state (it is
// listed twice), so 1,750 of them need more than 1 MiB indented and fit compact;
// 2,900 do not fit even compact. The API server is the judge of both.
func TestAStateOverAConfigMapIsWrittenCompactAndPastThatTheMuxWarnsAndKeepsItsPorts(t *testing.T) {
	w := world.New(t)
	w.Timeout = 3 * time.Minute
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-29999"})
	name := func(i int) string { return fmt.Sprintf("ch-%04d-%s", i, strings.Repeat("x", 55)) }
	create := func(from, to int) {
		var list []*corev1.Service
		for i := from; i < to; i++ {
			ch := w.ChannelObject(name(i), "mux", w.ExternalPorts("http:auto"), world.TCP("http", 8080))
			ch.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
			list = append(list, ch)
		}
		w.CreateServices(list)
	}
	create(0, 1750)
	a := w.StartAgent()
	cm := w.WaitState("mux", func(cm *corev1.ConfigMap) bool {
		doc, err := state.Decode(cm.Data[api.StateKey])
		return err == nil && len(doc.Claims) == 1750
	})
	raw := cm.Data[api.StateKey]
	if strings.Contains(raw, "\n") {
		t.Fatalf("the state of 1,750 long-named auto ports (%d bytes) is indented", len(raw))
	}
	indented, _ := state.Decode(raw)
	if n := len(indented.Encode()); n <= state.ConfigMapLimit {
		t.Fatalf("the test needs a state over 1 MiB indented; it is %d bytes", n)
	}
	mux := w.WaitServiceFor("mux", func(s *corev1.Service) (bool, string) {
		return len(s.Spec.Ports) == 1750, fmt.Sprintf("%d mux ports", len(s.Spec.Ports))
	})
	before := world.PortIDs(mux)

	// 1,150 more: even compact the claims outgrow the ConfigMap. The mux is told
	// why and what to do; it keeps the 1,750 ports it serves, and the state stays.
	create(1750, 2900)
	w.WaitEvent("mux", corev1.EventTypeWarning, api.ReasonPortAllocationStoreTooLarge,
		"a ConfigMap holds beside its other keys; the mux takes no change until they fit: move channels to another mux")
	w.AwaitPass(a, "mux")
	if got := world.PortIDs(w.Service("mux")); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("the mux ports changed while its state could not be written: %d ports, want the 1,750 it had", len(got))
	}
	if n := len(w.Claims("mux")); n != 1750 {
		t.Errorf("the state holds %d claims, want the 1,750 written before", n)
	}
	if v, has := w.Service(name(2899)).Annotations[w.Key("ports")]; has {
		t.Errorf("a newcomer was given a port the state does not hold: %q", v)
	}
}
