package traffic

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/dataplane"
)

// A default, an explicit and an auto channel on one mux: a connection to the
// mux's cluster IP, to the node's NodePort and to the mux's load-balancer
// IP, on each channel's public port, reaches that channel's pod on its target
// port (a named targetPort included) — in both kube-proxy modes.
func TestChannelsReachTheirBackends(t *testing.T) {
	for _, mode := range []dataplane.Mode{dataplane.ModeNFTables, dataplane.ModeIPTables} {
		t.Run(string(mode), func(t *testing.T) {
			w := newWorld(t, mode)
			w.createMux("mux", map[string]string{prefix + "port-range": "23000-23009"})
			// default: public port = the channel's port; numeric target port.
			web := w.addPod("web-0", "web", tcp("http", 8080))
			w.createChannel("web", "mux", nil, svcPort("http", 21080, intstr.FromInt32(8080), corev1.ProtocolTCP))
			// explicit: public port from external-ports; named target port.
			api := w.addPod("api-0", "api", tcp("api-http", 9090))
			w.createChannel("api", "mux", map[string]string{prefix + "external-ports": "http:22080"},
				svcPort("http", 80, intstr.FromString("api-http"), corev1.ProtocolTCP))
			// auto: public port allocated from the mux's port range.
			adm := w.addPod("admin-0", "admin", tcp("http", 7070))
			w.createChannel("admin", "mux", map[string]string{prefix + "external-ports": "http:auto"},
				svcPort("http", 80, intstr.FromInt32(7070), corev1.ProtocolTCP))
			w.startAgent()

			cases := []struct {
				channel string
				public  int32
				want    dataplane.Answer
			}{
				{"web (default)", 21080, answer(web, 8080, corev1.ProtocolTCP)},
				{"api (explicit, named targetPort)", 22080, answer(api, 9090, corev1.ProtocolTCP)},
				{"admin (auto)", 23000, answer(adm, 7070, corev1.ProtocolTCP)},
			}
			for _, c := range cases {
				mux, sp := w.muxPort("mux", c.public, corev1.ProtocolTCP)
				for _, via := range dataplane.Vias {
					d := w.expectReach(via, mux, sp, c.want)
					addr, _ := w.node.Address(via, mux, sp)
					t.Logf("%-34s %-12s %-20s → %s (after %v)", c.channel, via, addr, c.want, d.Round(1e6))
				}
			}
		})
	}
}

// 53/TCP and 53/UDP on one mux belong to two different channels, and each
// protocol reaches its own channel's pod.
func TestSamePortTwoProtocolsTwoChannels(t *testing.T) {
	w := newWorld(t, "")
	w.createMux("mux", nil)
	tcpPod := w.addPod("dns-tcp-0", "dns-tcp", tcp("dns", 5353))
	udpPod := w.addPod("dns-udp-0", "dns-udp", udp("dns", 5354))
	w.createChannel("dns-tcp", "mux", nil, svcPort("dns", 53, intstr.FromString("dns"), corev1.ProtocolTCP))
	w.createChannel("dns-udp", "mux", nil, svcPort("dns", 53, intstr.FromString("dns"), corev1.ProtocolUDP))
	w.startAgent()

	for _, c := range []struct {
		proto corev1.Protocol
		want  dataplane.Answer
	}{
		{corev1.ProtocolTCP, answer(tcpPod, 5353, corev1.ProtocolTCP)},
		{corev1.ProtocolUDP, answer(udpPod, 5354, corev1.ProtocolUDP)},
	} {
		mux, sp := w.muxPort("mux", 53, c.proto)
		for _, via := range dataplane.Vias {
			w.expectReach(via, mux, sp, c.want)
			addr, _ := w.node.Address(via, mux, sp)
			t.Logf("53/%s %-12s %-20s → %s", c.proto, via, addr, c.want)
		}
	}
}
