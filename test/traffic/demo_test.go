package traffic

import (
	"bytes"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/dataplane"
)

// What `make demo` does: pods made beforehand (with whatever IPs) are
// adopted by the node, then ProveMux connects through every mux port and
// names the backend pod and port that answered.
func TestProveMuxAsTheDemoDoes(t *testing.T) {
	w := newWorld(t, "")
	mux := w.createMux("mux", nil)
	// Addresses no namespace has (nothing is ever sent to them): adoption
	// gives the pods addresses inside the node.
	w.cp.CreateNode(t, "elsewhere-"+w.ns, "10.250.9.1")
	w.cp.SetPodStatus(t, w.cp.CreatePod(t, w.ns, "web-0", map[string]string{"app": "web"}, "elsewhere-"+w.ns,
		corev1.ContainerPort{Name: "http", ContainerPort: 8080}), "10.244.250.10", true)
	w.cp.SetPodStatus(t, w.cp.CreatePod(t, w.ns, "dns-0", map[string]string{"app": "dns"}, "elsewhere-"+w.ns), "10.244.250.11", true)
	w.createChannel("web", "mux", nil, svcPort("http", 20080, intstr.FromString("http"), corev1.ProtocolTCP))
	w.createChannel("dns", "mux", nil, svcPort("dns", 53, intstr.FromInt32(5353), corev1.ProtocolUDP))
	if _, err := w.node.AdoptPods(w.ctx(), w.ns); err != nil {
		t.Fatal(err)
	}
	w.startAgent()
	w.muxPort("mux", 20080, corev1.ProtocolTCP)
	w.muxPort("mux", 53, corev1.ProtocolUDP)

	proofs, err := w.node.ProveMux(w.ctx(), w.ns, mux.Name, "", converge)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := dataplane.WriteProofs(&out, proofs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	want := map[int32]string{
		20080: fmt.Sprintf("%s/web:http %s/web-0:8080/TCP", w.ns, w.ns),
		53:    fmt.Sprintf("%s/dns:dns %s/dns-0:5353/UDP", w.ns, w.ns),
	}
	if len(proofs) != 2*len(dataplane.Vias) {
		t.Fatalf("got %d proofs, want %d", len(proofs), 2*len(dataplane.Vias))
	}
	for _, p := range proofs {
		if p.Err != nil {
			t.Errorf("%d/%s via %s: %v", p.Port.Port, p.Port.Protocol, p.Via, p.Err)
			continue
		}
		if got := p.Channel + " " + p.Answer.String(); got != want[p.Port.Port] {
			t.Errorf("%d/%s via %s: got %s, want %s", p.Port.Port, p.Port.Protocol, p.Via, got, want[p.Port.Port])
		}
	}
}
