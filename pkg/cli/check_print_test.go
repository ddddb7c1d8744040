package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The check printer on its own, for reports a cluster rarely gives together.
func TestCheckTableShowsInvalidMuxesUnsettledPlansAndPortlessChannels(t *testing.T) {
	invalid := CheckMux{Namespace: "svc-mux", Name: "mux", File: "mux.yaml", Line: 4, Status: MuxInvalid,
		Reason: "NotLoadBalancer", Message: "mux svc-mux/mux is type ClusterIP: set spec.type: LoadBalancer"}
	tests := []struct {
		name string
		doc  CheckReport
		want string
	}{
		{"an invalid mux without channels, in a plan that had not settled",
			CheckReport{Note: "check predicts one pass", Passes: 3, Namespace: "default", Muxes: []CheckMux{invalid}},
			"MUX           STATUS                     PORTS   RANGE   CHANNELS   FILE\n" +
				"svc-mux/mux   Invalid: NotLoadBalancer   0       none    0          mux.yaml:4\n" +
				"\n" +
				"No svcmux channels in the files.\n" +
				"\n" +
				"mux.yaml:4: mux svc-mux/mux Invalid: NotLoadBalancer: mux svc-mux/mux is type ClusterIP: set spec.type: LoadBalancer\n" +
				"\n" +
				"note: check predicts one pass.\n" +
				"note: the plan had not settled after 3 passes: the agent may go on changing these channels.\n" +
				"note: objects without metadata.namespace are in namespace \"default\".\n"},
		{"a channel without ports, in a settled plan without muxes in the files",
			CheckReport{Note: "check predicts one pass", Passes: 1, Settled: true, Namespace: "app",
				Channels: []CheckChannel{{Namespace: "app", Name: "web", Mux: "svc-mux/mux", File: "web.yaml", Line: 1,
					Status: StatusRejected, Reason: "InvalidPort", Message: "channel app/web declares no port"}}},
			"CHANNEL   MUX           STATUS                  PORTS   FILE\n" +
				"app/web   svc-mux/mux   Rejected: InvalidPort   none    web.yaml:1\n" +
				"\n" +
				"web.yaml:1: app/web Rejected: InvalidPort: channel app/web declares no port\n" +
				"\n" +
				"note: check predicts one pass.\n" +
				"note: objects without metadata.namespace are in namespace \"app\".\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, printCheckTable(&b, tt.doc, false))
			assert.Equal(t, tt.want, b.String())
		})
	}
}
