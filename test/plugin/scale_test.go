package plugin

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// The small case of test/bench's plugin benchmark (3,000 channels there): every
// channel of several muxes is read with one List per kind and shown accepted.
func TestTopologyShowsEveryChannelOfSeveralMuxesAfterTheAgentConverged(t *testing.T) {
	const muxes, perMux = 3, 40
	w := world.New(t)
	w.Timeout = 2 * time.Minute // 120 channels on a shared 2-core machine
	var services []*corev1.Service
	for m := range muxes {
		w.CreateMux(fmt.Sprintf("mux-%d", m), nil)
		for i := range perMux {
			services = append(services, w.ChannelObject(fmt.Sprintf("ch-%d-%02d", m, i), fmt.Sprintf("mux-%d", m), nil,
				world.TCP("http", int32(30000+i))))
		}
	}
	w.CreateServices(services)
	a := w.StartAgent()
	for m := range muxes {
		w.WaitAccepted(fmt.Sprintf("ch-%d-%02d", m, perMux-1), fmt.Sprintf("http:%d->%d", 30000+perMux-1, 30000+perMux-1))
	}
	for m := range muxes {
		w.AwaitPass(a, fmt.Sprintf("mux-%d", m))
	}
	var doc topologyDoc
	w.PluginJSON(&doc, 0, "topology", "-n", w.Namespace, "-o", "json")
	accepted := 0
	for _, m := range doc.Muxes {
		for _, ch := range m.Channels {
			if ch.Status == "Accepted" && len(ch.Ports) == 1 && ch.Ports[0].MuxPort == ch.Ports[0].Port {
				accepted++
			}
		}
	}
	if len(doc.Muxes) != muxes || accepted != muxes*perMux {
		t.Errorf("want %d muxes with %d accepted channels in all, got %d muxes, %d accepted", muxes, muxes*perMux, len(doc.Muxes), accepted)
	}
}
