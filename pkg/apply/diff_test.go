package apply

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Stage order is a promise every Diff keeps: state < mux < endpoints < cleanup < channels.
func requireStageOrder(t *testing.T, ws []Write) {
	t.Helper()
	for i := 1; i < len(ws); i++ {
		require.LessOrEqual(t, ws[i-1].Stage, ws[i].Stage, "write %d (%s) comes after %s", i, ws[i], ws[i-1])
	}
}

func TestStagesAreOrderedStateMuxEndpointsCleanupChannels(t *testing.T) {
	assert.Less(t, StageState, StageMux)
	assert.Less(t, StageMux, StageEndpoints)
	assert.Less(t, StageEndpoints, StageCleanup)
	assert.Less(t, StageCleanup, StageChannels)
}

// scenario is one cluster shape the diff and event tests walk.
type scenario struct {
	name string
	snap func() plan.Snapshot
	opts plan.Options
}

// scenarios are the cluster shapes every pass-level property is checked on.
func scenarios() []scenario {
	endpoints := testOpts
	endpoints.EndpointsMode = plan.EndpointsModeEndpoints
	both := testOpts
	both.EndpointsMode = plan.EndpointsModeBoth
	two := func() plan.Snapshot {
		s := apiSnapshot()
		s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 9090), tcp("admin", 9091)}))
		s.ChannelSlices = append(s.ChannelSlices, channelSlice("app/web", "http", 9090, "10.0.1.1", "10.0.1.2"))
		return s
	}
	return []scenario{
		{"a mux with one accepted channel", apiSnapshot, testOpts},
		{"a mux with two channels, one of them with a port without backends", two, testOpts},
		{"a mux with no channel keeps its placeholder and empty state", func() plan.Snapshot {
			return plan.Snapshot{Mux: newMux()}
		}, testOpts},
		{"a mux whose load balancer has no address yet", func() plan.Snapshot {
			s := apiSnapshot()
			s.Mux.Status.LoadBalancer.Ingress = nil
			return s
		}, testOpts},
		{"a channel with an automatic port from the mux range", func() plan.Snapshot {
			s := apiSnapshot()
			s.Mux.Annotations[testKeys.PortRange] = "20000-20010"
			s.Channels[0].Annotations[testKeys.ExternalPorts] = "http:auto"
			return s
		}, testOpts},
		{"a channel refused for a port another channel owns", func() plan.Snapshot {
			s := apiSnapshot()
			s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 8080)}))
			return s
		}, testOpts},
		{"channels asking for external-dns hostnames", func() plan.Snapshot {
			s := two()
			s.Channels[0].Annotations[testKeys.ExternalDNSHostname] = "api.example.com"
			s.Channels[1].Annotations[testKeys.ExternalDNSHostname] = "web.example.com,api.example.com"
			s.Channels[1].Annotations[api.ExternalDNSCloudflareProxied] = "true"
			return s
		}, testOpts},
		{"a user-owned external-dns key on the mux", func() plan.Snapshot {
			s := apiSnapshot()
			s.Mux.Annotations[api.ExternalDNSHostname] = "mine.example.com"
			s.Channels[0].Annotations[testKeys.ExternalDNSHostname] = "api.example.com"
			return s
		}, testOpts},
		{"leftover Python finalizers", func() plan.Snapshot {
			s := apiSnapshot()
			s.Mux.Finalizers = []string{testKeys.Finalizer}
			s.Channels[0].Finalizers = []string{testKeys.Finalizer, "example.com/keep"}
			return s
		}, testOpts},
		{"another controller's condition on the channel", func() plan.Snapshot {
			s := apiSnapshot()
			s.Channels[0].Status.Conditions = []metav1.Condition{{Type: "example.com/Ready", Status: metav1.ConditionTrue,
				Reason: "Fine", LastTransitionTime: testNow}}
			return s
		}, testOpts},
		{"the Python controller's Endpoints taken over in slices mode", func() plan.Snapshot {
			s := apiSnapshot()
			s.MuxEndpoints = pythonEndpoints()
			return s
		}, testOpts},
		{"legacy Endpoints mode", apiSnapshot, endpoints},
		{"both endpoint modes", two, both},
		{"a channel kept on its last accepted ports after a bad edit", func() plan.Snapshot {
			s := apiSnapshot()
			s = converge(s, plan.Compute(s, testOpts))
			s.Channels[0].Annotations[testKeys.ExternalPorts] = "http:not-a-port"
			return s
		}, testOpts},
		{"a channel with more backends than one slice holds", func() plan.Snapshot {
			s := apiSnapshot()
			var ips []string
			for i := 0; i < 150; i++ {
				ips = append(ips, fmt.Sprintf("10.0.%d.%d", i/100, i%100+1))
			}
			s.ChannelSlices = []*discoveryv1.EndpointSlice{channelSlice("app/api", "http", 8080, ips...)}
			return s
		}, testOpts},
		{"a frozen mux with an invalid max-ports", func() plan.Snapshot {
			s := apiSnapshot()
			s.Mux.Annotations[testKeys.MaxPorts] = "many"
			return s
		}, testOpts},
	}
}

func TestAConvergedClusterNeedsNoWrite(t *testing.T) {
	for _, tt := range scenarios() {
		t.Run(tt.name, func(t *testing.T) {
			settled := converged(t, tt.snap(), tt.opts)
			p := compute(t, settled, tt.opts)
			assert.Empty(t, shapes(diff(t, p, settled)), "idle ⇒ zero writes")
		})
	}
}

func TestTheFirstPassOnAFreshMuxWritesStateMuxEndpointsAndChannel(t *testing.T) {
	s := apiSnapshot()
	p := compute(t, s)
	ws := diff(t, p, s)
	require.Len(t, p.Slices, 1)
	slice := p.Slices[0].Name
	assert.Equal(t, []shape{
		{StageState, KindState, VerbCreate, "configmaps", "svc-mux", "mux-port-allocations", "", ""},
		{StageMux, KindMux, VerbPatch, "services", "svc-mux", "mux", "", types.MergePatchType},
		{StageEndpoints, KindSlice, VerbCreate, "endpointslices", "svc-mux", slice, "", ""},
		{StageChannelStatus, KindChannel, VerbPatch, "services", "app", "api", "status", types.StrategicMergePatchType},
	}, shapes(ws))

	t.Run("the state ConfigMap is created with the Python controller's labels and the mux annotation", func(t *testing.T) {
		assert.Equal(t, []string{"data[allocations.json]"}, ws[0].Fields)
		assert.Equal(t, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations",
				Labels:      map[string]string{"app.kubernetes.io/name": "svc-lb-mux", "app.kubernetes.io/component": "mux-state"},
				Annotations: map[string]string{"svc-mux.nowake.ai/mux": "svc-mux/mux"}},
			Data: map[string]string{"allocations.json": `{
  "allocations": [],
  "mux": {
    "name": "mux",
    "namespace": "svc-mux"
  },
  "portClaims": [
    {
      "channelPort": 8080,
      "muxPort": 8080,
      "namespace": "app",
      "port": 8080,
      "portName": "http",
      "protocol": "TCP",
      "service": "api",
      "source": "static"
    }
  ],
  "schemaVersion": 1
}`},
		}, ws[0].Object)
	})

	t.Run("the mux gets its ports without nodePort and the agent's annotations in one merge patch", func(t *testing.T) {
		assert.Equal(t, []string{"spec.ports", "metadata.annotations[svc-mux.nowake.ai/channels]",
			"metadata.annotations[svc-mux.nowake.ai/summary]", "metadata.annotations[svc-mux.nowake.ai/topology]"}, ws[1].Fields)
		assert.Equal(t, map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{
				"svc-mux.nowake.ai/channels": `["app/api"]`,
				"svc-mux.nowake.ai/summary":  "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: 203.0.113.10",
				"svc-mux.nowake.ai/topology": p.Annotations[testKeys.Topology],
			}},
			"spec": map[string]any{"ports": []any{
				map[string]any{"name": muxPortName("app/api", "http"), "port": float64(8080), "protocol": "TCP"},
			}},
		}, body(t, ws[1]))
	})

	t.Run("the mux slice is the planned one", func(t *testing.T) {
		assert.Equal(t, []string{"endpoints", "ports"}, ws[2].Fields)
		assert.Equal(t, p.Slices[0], ws[2].Object)
		assert.NotSame(t, p.Slices[0], ws[2].Object, "the write carries a copy, not the plan's object")
	})

	t.Run("the channel's one status patch carries the ports annotation, our condition and the mux ingress", func(t *testing.T) {
		assert.Equal(t, []string{"metadata.annotations[svc-mux.nowake.ai/ports]", "status.loadBalancer", "status.conditions"}, ws[3].Fields)
		assert.Equal(t, map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{"svc-mux.nowake.ai/ports": "http:8080->8080"}},
			"status": map[string]any{
				"conditions": []any{map[string]any{
					"type":               "svc-mux.nowake.ai/Accepted",
					"status":             "True",
					"observedGeneration": float64(1),
					"lastTransitionTime": "2026-11-23T12:00:00Z",
					"reason":             "Accepted",
					"message":            "channel app/api is served by mux svc-mux/mux: http:8080->8080",
				}},
				"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": muxIP, "ipMode": "Proxy"}}},
			}}, body(t, ws[3]))
	})

	t.Run("the write keeps the annotation alone, for an API server that drops metadata on status", func(t *testing.T) {
		c := ws[3].Carries
		require.NotNil(t, c)
		assert.Equal(t, "svc-mux.nowake.ai/ports", c.Annotation)
		value := "http:8080->8080"
		assert.Equal(t, &value, c.Value)
		assert.Equal(t, map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			"svc-mux.nowake.ai/ports": "http:8080->8080"}}}, body(t, Write{Patch: c.Patch}))
	})
}

func TestMuxPorts(t *testing.T) {
	apiPort := muxPortName("app/api", "http")
	webPort := muxPortName("app/web", "http")
	twoChannels := func() plan.Snapshot {
		s := apiSnapshot()
		s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 9090)}))
		return s
	}
	tests := []struct {
		name  string
		live  func(*corev1.Service) // changes the settled mux
		patch map[string]any        // nil: no mux write
	}{
		{"the same ports in a different order need no write", func(m *corev1.Service) {
			m.Spec.Ports[0], m.Spec.Ports[1] = m.Spec.Ports[1], m.Spec.Ports[0]
		}, nil},
		{"ports carrying the nodePort and targetPort the API server adds need no write", func(m *corev1.Service) {
			for i := range m.Spec.Ports {
				m.Spec.Ports[i].NodePort = 31000 + int32(i)
				m.Spec.Ports[i].TargetPort.IntVal = m.Spec.Ports[i].Port
			}
		}, nil},
		{"a port without a protocol counts as TCP", func(m *corev1.Service) {
			m.Spec.Ports[0].Protocol = ""
		}, nil},
		{"a GitOps tool writing the placeholder back gets the ports restored, and nothing else", func(m *corev1.Service) {
			m.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP, NodePort: 30101}}
		}, map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"ports": []any{
			map[string]any{"name": apiPort, "port": float64(8080), "protocol": "TCP"},
			map[string]any{"name": webPort, "port": float64(9090), "protocol": "TCP"},
		}}}},
		{"a renamed port is rewritten under its identity's name", func(m *corev1.Service) {
			m.Spec.Ports[1].Name = "renamed"
		}, map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"ports": []any{
			map[string]any{"name": apiPort, "port": float64(8080), "protocol": "TCP"},
			map[string]any{"name": webPort, "port": float64(9090), "protocol": "TCP"},
		}}}},
		{"a port whose protocol was changed is rewritten", func(m *corev1.Service) {
			m.Spec.Ports[0].Protocol = corev1.ProtocolUDP
		}, map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"ports": []any{
			map[string]any{"name": apiPort, "port": float64(8080), "protocol": "TCP"},
			map[string]any{"name": webPort, "port": float64(9090), "protocol": "TCP"},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := converged(t, twoChannels())
			tt.live(s.Mux)
			ws := only(diff(t, compute(t, s), s), KindMux)
			if tt.patch == nil {
				assert.Empty(t, shapes(ws))
				return
			}
			require.Len(t, ws, 1)
			assert.Equal(t, []string{"spec.ports"}, ws[0].Fields)
			assert.Equal(t, tt.patch, body(t, ws[0]))
		})
	}
}

func TestANewChannelAddsItsPortInPortOrderAndUpdatesTheAnnotations(t *testing.T) {
	s := converged(t, apiSnapshot())
	s.Channels = append(s.Channels, newChannel("app/aaa", []corev1.ServicePort{tcp("dns", 53)}))
	p := compute(t, s)
	ws := only(diff(t, p, s), KindMux)
	require.Len(t, ws, 1)
	assert.Equal(t, map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{
			"svc-mux.nowake.ai/channels": `["app/aaa", "app/api"]`,
			"svc-mux.nowake.ai/summary":  "2 channel(s) | 2 port(s) | 1 pod(s) | DNS: 203.0.113.10",
			"svc-mux.nowake.ai/topology": p.Annotations[testKeys.Topology],
		}},
		"spec": map[string]any{"ports": []any{
			map[string]any{"name": muxPortName("app/aaa", "dns"), "port": float64(53), "protocol": "TCP"},
			map[string]any{"name": muxPortName("app/api", "http"), "port": float64(8080), "protocol": "TCP"},
		}},
	}, body(t, ws[0]))
}

func TestMuxAnnotations(t *testing.T) {
	hostKey, proxiedKey, ownedKey := api.ExternalDNSHostname, api.ExternalDNSCloudflareProxied, testKeys.AggregatedExternalDNS
	tests := []struct {
		name   string
		change func(*plan.Snapshot)
		fields []string
		patch  map[string]any // nil: no mux write
	}{
		{"agent-owned external-dns keys nobody asks for any more are removed with null", func(s *plan.Snapshot) {
			s.Mux.Annotations[ownedKey] = hostKey + "," + proxiedKey
			s.Mux.Annotations[hostKey] = "old.example.com"
			s.Mux.Annotations[proxiedKey] = "true"
		}, []string{"metadata.annotations[" + proxiedKey + "]", "metadata.annotations[" + hostKey + "]", "metadata.annotations[" + ownedKey + "]"},
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{ownedKey: nil, hostKey: nil, proxiedKey: nil}}}},
		{"an owned key that is listed but already gone is not patched", func(s *plan.Snapshot) {
			s.Mux.Annotations[ownedKey] = hostKey
		}, []string{"metadata.annotations[" + ownedKey + "]"},
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{ownedKey: nil}}}},
		{"a user-owned external-dns key is left alone", func(s *plan.Snapshot) {
			s.Mux.Annotations[hostKey] = "mine.example.com"
		}, nil, nil},
		{"a hostname a channel asks for is aggregated onto the mux, listed as owned and shown", func(s *plan.Snapshot) {
			s.Channels[0].Annotations[testKeys.ExternalDNSHostname] = "api.example.com"
		}, []string{"metadata.annotations[" + hostKey + "]", "metadata.annotations[" + ownedKey + "]", "metadata.annotations[" + testKeys.Topology + "]"},
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{ownedKey: hostKey, hostKey: "api.example.com",
				testKeys.Topology: "Mux DNS: 203.0.113.10\n\nChannels:\n  - app/api\n    DNS: api.example.com (custom)\n" +
					"    Ports: http:8080->8080\n    Backend: 1 pod(s) ready\n\nSummary: 1 channel(s), 1 port(s), 1 backend pod(s)"}}}},
		{"a foreign annotation on the mux changes nothing", func(s *plan.Snapshot) {
			s.Mux.Annotations["example.com/note"] = "hello"
		}, nil, nil},
		{"an agent annotation edited by hand is put back", func(s *plan.Snapshot) {
			s.Mux.Annotations[testKeys.Summary] = "edited"
		}, []string{"metadata.annotations[" + testKeys.Summary + "]"},
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{
				testKeys.Summary: "1 channel(s) | 1 port(s) | 1 pod(s) | DNS: 203.0.113.10"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := converged(t, apiSnapshot())
			tt.change(&s)
			ws := only(diff(t, compute(t, s), s), KindMux)
			if tt.patch == nil {
				assert.Empty(t, shapes(ws))
				return
			}
			require.Len(t, ws, 1)
			assert.Equal(t, tt.fields, ws[0].Fields)
			assert.Equal(t, tt.patch, body(t, ws[0]))
		})
	}
}
