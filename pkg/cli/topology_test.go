package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// twoMuxCluster has, on svc-mux/mux-a: an accepted default channel, a newcomer
// rejected for its port, a channel kept on its last good port after a bad edit;
// on edge/mux-b an accepted UDP channel; and a detached former channel.
func twoMuxCluster() []runtime.Object {
	const grpcClaim = `{"channelPort": 9090, "muxPort": 20000, "namespace": "app", "port": 20000, "portName": "grpc", "protocol": "TCP", "service": "grpc", "source": "auto"}`
	state := `{"allocations": [` + grpcClaim + `], "mux": {"name": "mux-a", "namespace": "svc-mux"}, "portClaims": [` + grpcClaim + `], "schemaVersion": 1}`
	muxA := fxIngress(fxMux("svc-mux", "mux-a", map[string]string{"port-range": "20000-20009", "max-ports": "10"},
		fxMuxPort("app", "api", "http", 8080, corev1.ProtocolTCP, 40001),
		fxMuxPort("app", "grpc", "grpc", 20000, corev1.ProtocolTCP, 40002)), "203.0.113.10")
	muxB := fxMux("edge", "mux-b", nil, fxMuxPort("edge", "dns", "dns", 53, corev1.ProtocolUDP, 40003))
	api := fxWithPorts(fxChannel("app", "api", "mux-a.svc-mux", nil, fxTCP("http", 8080)), "http:8080->8080")
	web := fxChannel("app", "web", "mux-a.svc-mux", nil, fxTCP("http", 8080))
	grpc := fxWithPorts(fxChannel("app", "grpc", "mux-a.svc-mux", map[string]string{"external-ports": "grpc:99999"}, fxTCP("grpc", 9090)), "grpc:9090->20000")
	dns := fxWithPorts(fxChannel("edge", "dns", "mux-b.edge", nil, fxUDP("dns", 53)), "dns:53->53")
	old := fxWithPorts(fxChannel("edge", "old", "mux-b.edge", nil, fxTCP("http", 80)), "http:80->80")
	old.Spec.LoadBalancerClass = nil
	return []runtime.Object{muxA, muxB, api, web, grpc, dns, old, fxState("svc-mux", "mux-a", state),
		fxSlice("app", "api", []string{"10.0.0.1", "10.0.0.2"}, "10.0.0.2"), fxSlice("edge", "dns", []string{"10.0.1.1"})}
}

func TestTopologyDrawsEachMuxWithItsChannelsPortsAndBackends(t *testing.T) {
	want := `edge/mux-b  address=pending  ports=1  range=none  state=missing
└── edge/dns  Accepted  backends 1/1 ready
    └── dns:53->53/UDP

svc-mux/mux-a  address=203.0.113.10  ports=2/10  range=20000-20009  state=ok
├── app/api  Accepted  backends 1/2 ready
│   └── http:8080->8080/TCP
├── app/grpc  Kept: InvalidPortMapping  backends 0/0 ready
│   │ channel app/grpc: annotation svc-mux.nowake.ai/external-ports: invalid item "grpc:99999": expected name:port (1-65535) or name:auto; still serving its last accepted ports grpc:9090->20000
│   └── grpc:9090->20000/TCP
└── app/web  Rejected: MuxPortConflict  backends 0/0 ready
    │ channel app/web: 8080/TCP is already claimed by app/api:bcaefde
    └── http:8080->pending/TCP

channels attached to no mux
└── edge/old  Detached  backends 0/0 ready
    │ no longer a channel of any mux; the agent removes svcmux's annotation, ingress and condition
    └── http:80->pending/TCP
`
	r := runPlugin(t, twoMuxCluster(), "topology")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, want, r.Out)
}

func TestTopologyWideAddsTheNodePortOfEachServedPort(t *testing.T) {
	r := runPlugin(t, twoMuxCluster(), "topology", "mux-a", "-o", "wide")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, "│   └── http:8080->8080/TCP  nodePort=40001\n")
	assert.Contains(t, r.Out, "│   └── grpc:9090->20000/TCP  nodePort=40002\n")
	assert.Contains(t, r.Out, "    └── http:8080->pending/TCP\n", "a port not served has no NodePort")
	assert.NotContains(t, r.Out, "mux-b", "the MUX argument selects one mux")
	assert.NotContains(t, r.Out, "attached to no mux", "a MUX argument shows no unattached channels")
}

func TestTopologyJSONIsTheVersionedTopologyDocument(t *testing.T) {
	r := runPlugin(t, twoMuxCluster(), "topology", "mux-b", "-o", "json")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	want := `{
  "apiVersion": "svcmux.nowake.ai/v1alpha1",
  "kind": "Topology",
  "muxes": [
    {
      "namespace": "edge",
      "name": "mux-b",
      "address": "pending",
      "ports": 1,
      "limit": 0,
      "portRange": "",
      "state": "missing",
      "channels": [
        {
          "namespace": "edge",
          "name": "dns",
          "status": "Accepted",
          "reason": "Accepted",
          "message": "channel edge/dns is served by mux edge/mux-b: dns:53->53",
          "ports": [
            {
              "name": "dns",
              "port": 53,
              "muxPort": 53,
              "protocol": "UDP",
              "nodePort": 40003
            }
          ],
          "backends": {
            "ready": 1,
            "total": 1
          }
        }
      ]
    }
  ],
  "unattached": []
}
`
	assert.Equal(t, want, r.Out)
}

func TestTopologyDotHasOneEdgePerChannelPort(t *testing.T) {
	r := runPlugin(t, twoMuxCluster(), "topology", "-o", "dot")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	var edges []string
	for _, line := range strings.Split(r.Out, "\n") {
		if strings.Contains(line, " -> ") {
			edges = append(edges, strings.TrimSpace(line))
		}
	}
	assert.Equal(t, []string{
		`"channel:edge/dns" -> "mux:edge/mux-b" [style=solid, label="dns:53->53/UDP"];`,
		`"channel:app/api" -> "mux:svc-mux/mux-a" [style=solid, label="http:8080->8080/TCP"];`,
		`"channel:app/grpc" -> "mux:svc-mux/mux-a" [style=solid, label="grpc:9090->20000/TCP"];`,
		`"channel:app/web" -> "mux:svc-mux/mux-a" [style=dashed, label="http:8080->pending/TCP"];`,
	}, edges)
	assert.True(t, strings.HasPrefix(r.Out, "digraph svcmux {\n") && strings.HasSuffix(r.Out, "}\n"))
}

func TestTopologyExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"a cluster with rejected channels still shows with exit 0", []string{"topology"}, ExitClean},
		{"json output exits 0 the same", []string{"topology", "-o", "json"}, ExitClean},
		{"a mux that does not exist cannot be shown", []string{"topology", "nope"}, ExitCannotRun},
		{"a mux that does not exist cannot be shown in json either", []string{"topology", "nope", "-o", "json"}, ExitCannotRun},
		{"an unknown output format is refused", []string{"topology", "-o", "xml"}, ExitCannotRun},
		{"an unknown flag is refused", []string{"topology", "--bogus"}, ExitCannotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPlugin(t, twoMuxCluster(), tt.args...)
			assert.Equal(t, tt.code, r.Code, r.ErrOut)
			if tt.code == ExitCannotRun {
				assert.NotEmpty(t, r.ErrOut, "a command that cannot run says why")
			}
		})
	}
}

func TestTopologyJSONDecodesIntoTheDocumentFields(t *testing.T) {
	r := runPlugin(t, twoMuxCluster(), "topology", "-o", "json")
	var doc Topology
	require.NoError(t, json.Unmarshal([]byte(r.Out), &doc))
	var got []string
	for _, m := range doc.Muxes {
		for _, ch := range m.Channels {
			got = append(got, m.Name+" "+ch.Namespace+"/"+ch.Name+" "+ch.Status)
		}
	}
	for _, ch := range doc.Unattached {
		got = append(got, "- "+ch.Namespace+"/"+ch.Name+" "+ch.Status)
	}
	assert.Equal(t, []string{"mux-b edge/dns Accepted", "mux-a app/api Accepted", "mux-a app/grpc Kept", "mux-a app/web Rejected", "- edge/old Detached"}, got)
}
