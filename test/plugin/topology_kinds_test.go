package plugin

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// fourKinds builds two muxes in the World's namespace with, on mux-a, an accepted
// channel with a ready pod, a channel kept on its last good port after a bad edit
// and a newcomer rejected for an owned port; on mux-b an accepted UDP channel and
// a former channel that left (detached), all converged by the real agent.
func fourKinds(t *testing.T) (*world.World, *world.Agent) {
	w := world.New(t)
	w.CreateMux("mux-a", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateMux("mux-b", nil)
	w.SetIngress("mux-a", "203.0.113.10")
	node := w.Node("192.0.2.1")
	w.CreateChannel("api", "mux-a", nil, world.TCP("http", 8080))
	w.ReadyPod("api-0", "api", node, "10.1.0.1")
	w.CreateChannel("grpc", "mux-a", w.ExternalPorts("grpc:auto"), world.TCP("grpc", 9090))
	w.CreateChannel("dns", "mux-b", nil, world.UDP("dns", 53))
	w.CreateChannel("old", "mux-b", nil, world.TCP("http", 80))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitAccepted("grpc", "grpc:9090->20000")
	w.WaitAccepted("dns", "dns:53->53")
	w.WaitAccepted("old", "http:80->80")

	// Owners exist: now the newcomer, the bad edit and the departure.
	w.CreateChannel("web", "mux-a", nil, world.TCP("http", 8080))
	w.SetAnnotation("grpc", "e2e", w.Key("external-ports"), world.Ptr("grpc:99999"))
	w.UpdateService("old", "e2e", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.LoadBalancerClass, s.Spec.AllocateLoadBalancerNodePorts = corev1.ServiceTypeClusterIP, nil, nil
		for i := range s.Spec.Ports {
			s.Spec.Ports[i].NodePort = 0
		}
	})
	w.WaitRejected("web", "MuxPortConflict", "already claimed")
	w.WaitRejected("grpc", "InvalidPortMapping", "still serving its last accepted ports grpc:9090->20000")
	w.WaitChannel("old", func(s *corev1.Service) bool { _, has := s.Annotations[w.Key("ports")]; return !has })
	w.WaitMuxPorts("mux-b", w.MuxPort("dns", "dns", 53, corev1.ProtocolUDP))
	w.WaitChannel("api", func(s *corev1.Service) bool {
		return s.Annotations[w.Key("ports")] == "http:8080->8080" && len(s.Status.LoadBalancer.Ingress) == 1
	})
	// The endpointslice controller fills api's slice on its own schedule: the
	// agent's summary counting the ready pod says the plugin will see it too.
	w.WaitChannel("mux-a", func(s *corev1.Service) bool {
		return strings.Contains(s.Annotations[w.Key("summary")], "| 1 pod(s) |")
	})
	w.AwaitPass(a, "mux-a")
	w.AwaitPass(a, "mux-b")
	return w, a
}

func TestTopologyShowsAcceptedRejectedKeptAndDetachedChannelsOnTwoMuxes(t *testing.T) {
	w, _ := fourKinds(t)
	ns := w.Namespace
	want := fmt.Sprintf(`%[1]s/mux-a  address=203.0.113.10  ports=2  range=20000-20009  state=ok
├── %[1]s/api  Accepted  backends 1/1 ready
│   └── http:8080->8080/TCP
├── %[1]s/grpc  Kept: InvalidPortMapping  backends 0/0 ready
│   │ channel %[1]s/grpc: annotation svc-mux.nowake.ai/external-ports: invalid item "grpc:99999": expected name:port (1-65535) or name:auto; still serving its last accepted ports grpc:9090->20000
│   └── grpc:9090->20000/TCP
└── %[1]s/web  Rejected: MuxPortConflict  backends 0/0 ready
    │ channel %[1]s/web: 8080/TCP is already claimed by %[1]s/api:%[2]s
    └── http:8080->pending/TCP

%[1]s/mux-b  address=pending  ports=1  range=none  state=ok
└── %[1]s/dns  Accepted  backends 0/0 ready
    └── dns:53->53/UDP
`, ns, world.PortName(ns, "api", "http"))
	res := w.Plugin("topology", "-n", ns)
	if res.ExitCode != 0 || res.Stdout != want {
		t.Fatalf("topology: exit %d\n--- got\n%s--- want\n%s--- stderr\n%s", res.ExitCode, res.Stdout, want, res.Stderr)
	}
	if strings.Contains(res.Stdout, "/old") {
		t.Errorf("a detached channel the agent cleaned is no longer shown:\n%s", res.Stdout)
	}
}

func TestTopologyJSONOfTwoMuxesIsExact(t *testing.T) {
	w, _ := fourKinds(t)
	ns := w.Namespace
	mux := w.Service("mux-b")
	nodePort := world.NodePorts(mux)[world.PortName(ns, "dns", "dns")]
	want := fmt.Sprintf(`{
  "apiVersion": "svcmux.nowake.ai/v1alpha1",
  "kind": "Topology",
  "muxes": [
    {
      "namespace": "%[1]s",
      "name": "mux-b",
      "address": "pending",
      "ports": 1,
      "limit": 0,
      "portRange": "",
      "state": "ok",
      "channels": [
        {
          "namespace": "%[1]s",
          "name": "dns",
          "status": "Accepted",
          "reason": "Accepted",
          "message": "channel %[1]s/dns is served by mux %[1]s/mux-b: dns:53->53",
          "ports": [
            {
              "name": "dns",
              "port": 53,
              "muxPort": 53,
              "protocol": "UDP",
              "nodePort": %[2]d
            }
          ],
          "backends": {
            "ready": 0,
            "total": 0
          }
        }
      ]
    }
  ],
  "unattached": []
}
`, ns, nodePort)
	if nodePort == 0 {
		t.Fatalf("mux-b's dns port has no NodePort: %+v", mux.Spec.Ports)
	}
	res := w.Plugin("topology", "mux-b", "-n", ns, "-o", "json")
	if res.ExitCode != 0 || res.Stdout != want {
		t.Fatalf("topology -o json: exit %d\n--- got\n%s--- want\n%s--- stderr\n%s", res.ExitCode, res.Stdout, want, res.Stderr)
	}
	var doc topologyDoc
	w.PluginJSON(&doc, 0, "topology", "-n", ns, "-o", "json")
	var got []string
	for _, m := range doc.Muxes {
		for _, ch := range m.Channels {
			got = append(got, m.Name+" "+ch.Name+" "+ch.Status+" "+ch.Reason)
		}
	}
	wantRows := []string{"mux-a api Accepted Accepted", "mux-a grpc Kept InvalidPortMapping", "mux-a web Rejected MuxPortConflict", "mux-b dns Accepted Accepted"}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("channels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
}

func TestTopologyDotHasOneEdgePerChannelPortOnTheRealCluster(t *testing.T) {
	w, _ := fourKinds(t)
	res := w.Plugin("topology", "-n", w.Namespace, "-o", "dot")
	if res.ExitCode != 0 {
		t.Fatalf("topology -o dot: %s", res)
	}
	edges := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.Contains(line, " -> ") {
			edges++
		}
	}
	// api:http, grpc:grpc, web:http on mux-a; dns:dns on mux-b.
	if edges != 4 || !strings.HasPrefix(res.Stdout, "digraph svcmux {") || !strings.HasSuffix(res.Stdout, "}\n") {
		t.Errorf("want a digraph with 4 edges, got %d:\n%s", edges, res.Stdout)
	}
}
