package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The printers on their own, for the states a live cluster rarely shows together.
func TestTopologyTreeShowsEveryMuxState(t *testing.T) {
	lost := TopologyChannel{Namespace: "app", Name: "lost", Mux: "svc-mux/gone", Status: StatusRejected, Reason: "MuxNotFound",
		Message: "mux svc-mux/gone does not exist", Ports: []TopologyPort{{Name: "http", Port: 80, Protocol: "TCP"}}}
	tests := []struct {
		name string
		doc  Topology
		want string
	}{
		{"an empty scope says so", Topology{}, "No svcmux muxes or channels found in scope.\n"},
		{"a frozen mux with an invalid state and no channels",
			Topology{Muxes: []TopologyMux{{Namespace: "svc-mux", Name: "mux", Address: "pending", State: "invalid",
				StateProblem: "allocations.json: unexpected end of JSON input", Frozen: "PortAllocationStoreInvalid"}}},
			"svc-mux/mux  address=pending  ports=0  range=none  state=invalid  frozen=PortAllocationStoreInvalid\n" +
				"! state: allocations.json: unexpected end of JSON input\n" +
				"└── (no channels)\n"},
		{"only channels attached to no mux, each naming the mux it asks for",
			Topology{Unattached: []TopologyChannel{lost}},
			"channels attached to no mux\n" +
				"└── app/lost  Rejected: MuxNotFound  backends 0/0 ready  mux=svc-mux/gone\n" +
				"    │ mux svc-mux/gone does not exist\n" +
				"    └── http:80->pending/TCP\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, printTopologyTree(&b, tt.doc, false))
			assert.Equal(t, tt.want, b.String())
		})
	}
}

func TestTopologyDotDrawsAMissingMuxAsADashedBox(t *testing.T) {
	doc := Topology{Unattached: []TopologyChannel{
		{Namespace: "app", Name: "lost", Mux: "svc-mux/gone", Status: StatusRejected, Reason: "MuxNotFound",
			Ports: []TopologyPort{{Name: "http", Port: 80, Protocol: "TCP"}}},
		{Namespace: "app", Name: "odd", Status: StatusRejected, Reason: "InvalidLoadBalancerClass"},
	}}
	var b strings.Builder
	require.NoError(t, printTopologyDot(&b, doc))
	assert.Equal(t, `digraph svcmux {
  rankdir=LR;
  node [fontname="Helvetica"];
  "mux:svc-mux/gone" [shape=box, style=dashed, label="svc-mux/gone\n(not found)"];
  "channel:app/lost" [shape=ellipse, label="app/lost\nRejected: MuxNotFound"];
  "channel:app/lost" -> "mux:svc-mux/gone" [style=dashed, label="http:80->pending/TCP"];
  "channel:app/odd" [shape=ellipse, label="app/odd\nRejected: InvalidLoadBalancerClass"];
}
`, b.String())
}
