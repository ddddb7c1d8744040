package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// SPEC §10: fields a shared load balancer cannot honour. The channel is accepted as
// before; one ChannelFieldIgnored Warning names every such field and its fix, and the
// Accepted condition's message says what is ignored.

const (
	everyChannel = "(set it on the mux, where it applies to every channel, or give the workload its own load balancer)"
	local        = "spec.externalTrafficPolicy: Local (only the mux's load balancer health-checks nodes, never the channel's healthCheckNodePort: " +
		"set externalTrafficPolicy: Local on the mux to keep client source IPs for every channel, or give the workload its own load balancer)"
	lbIP        = "spec.loadBalancerIP (the channel's address is the mux's: set it on the mux, or give the workload its own load balancer)"
	healthCheck = "spec.healthCheckNodePort (only the mux's load balancer health-checks nodes: remove it, or give the workload its own load balancer)"
	annFix      = " (no cloud load balancer is made for a channel: set it on the mux, or give the workload its own load balancer)"
	acceptedAPI = "channel app/api is served by mux svc-mux/mux: http:8080->8080"
)

func TestChannelFieldIgnored(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*corev1.Service)
		ignored string // "" = no Event, the Accepted message unchanged
	}{
		{"a channel without such fields gets no Event and the usual message", func(*corev1.Service) {}, ""},
		{"loadBalancerSourceRanges is ignored: set it on the mux",
			func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			"spec.loadBalancerSourceRanges " + everyChannel},
		{"externalTrafficPolicy Local is ignored, with the healthCheckNodePort the API server assigned in the same entry",
			func(s *corev1.Service) {
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.HealthCheckNodePort = 31000
			}, local},
		{"externalTrafficPolicy Cluster is what a channel gets anyway",
			func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster }, ""},
		{"loadBalancerIP is ignored: the channel's address is the mux's",
			func(s *corev1.Service) { s.Spec.LoadBalancerIP = "203.0.113.7" }, lbIP},
		{"sessionAffinity ClientIP is ignored: set it on the mux",
			func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP },
			"spec.sessionAffinity: ClientIP " + everyChannel},
		{"sessionAffinity None is the default",
			func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityNone }, ""},
		{"a healthCheckNodePort without Local is named on its own",
			func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 31000 }, healthCheck},
		{"an aws-load-balancer- annotation is ignored",
			func(s *corev1.Service) {
				s.Annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internal"
			},
			"annotation service.beta.kubernetes.io/aws-load-balancer-scheme" + annFix},
		{"an azure- annotation is ignored",
			func(s *corev1.Service) {
				s.Annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
			},
			"annotation service.beta.kubernetes.io/azure-load-balancer-internal" + annFix},
		{"a cloud.google.com/ annotation is ignored",
			func(s *corev1.Service) { s.Annotations["cloud.google.com/l4-rbs"] = "enabled" },
			"annotation cloud.google.com/l4-rbs" + annFix},
		{"a networking.gke.io/ annotation is ignored",
			func(s *corev1.Service) { s.Annotations["networking.gke.io/load-balancer-type"] = "Internal" },
			"annotation networking.gke.io/load-balancer-type" + annFix},
		{"other annotations, even under service.beta.kubernetes.io/, are not load-balancer settings",
			func(s *corev1.Service) {
				s.Annotations["service.beta.kubernetes.io/other"] = "x"
				s.Annotations["example.com/cloud.google.com/x"] = "y"
			}, ""},
		{"every field at once is one Event: spec fields in SPEC order, then annotations sorted by key",
			func(s *corev1.Service) {
				s.Annotations["service.beta.kubernetes.io/aws-load-balancer-type"] = "nlb"
				s.Annotations["cloud.google.com/l4-rbs"] = "enabled"
				s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				s.Spec.LoadBalancerIP = "203.0.113.7"
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.HealthCheckNodePort = 31000
				s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "192.0.2.0/24"}
			},
			"spec.loadBalancerSourceRanges " + everyChannel + "; " + local + "; " + lbIP + "; spec.sessionAffinity: ClientIP " + everyChannel +
				"; annotation cloud.google.com/l4-rbs" + annFix + "; annotation service.beta.kubernetes.io/aws-load-balancer-type" + annFix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := channel("app/api", "http:8080")
			tc.mutate(ch)
			p := compute(t, Snapshot{Mux: mux(), Channels: channels(ch)})
			o := outcome(t, p, "app/api")
			require.True(t, o.Accepted, "accepted as before")
			assert.Equal(t, "http:8080->8080", annotation(o))
			assert.Equal(t, []string{muxPort(8080, "TCP", "app/api", "http")}, portList(p))
			ev := events(p, "app/api", api.ReasonChannelFieldIgnored)
			if tc.ignored == "" {
				assert.Empty(t, ev)
				assert.Equal(t, acceptedAPI, o.Message)
				assert.Equal(t, acceptedAPI, o.Condition.Message)
				assert.Empty(t, IgnoredChannelFields(ch))
				return
			}
			require.Len(t, ev, 1, "one Event per channel")
			assert.Equal(t, api.EventWarning, ev[0].Type)
			assert.Equal(t, "channel app/api: the shared load balancer of mux svc-mux/mux ignores "+tc.ignored, ev[0].Message)
			assert.Empty(t, ev[0].FieldPath)
			assert.Equal(t, acceptedAPI+"; ignored: "+tc.ignored, o.Message)
			assert.Equal(t, o.Message, o.Condition.Message)
			assert.Equal(t, api.ConditionReasonAccepted, o.Condition.Reason)
		})
	}
}

// The Event and the message are the same whatever the map order of the annotations,
// so the agent's dedup (one post per distinct message) holds pass after pass.
func TestChannelFieldIgnoredIsDeterministic(t *testing.T) {
	ch := channel("app/api", "http:8080")
	for _, k := range []string{"networking.gke.io/a", "cloud.google.com/b", "service.beta.kubernetes.io/azure-c",
		"service.beta.kubernetes.io/aws-load-balancer-d", "cloud.google.com/a"} {
		ch.Annotations[k] = "v"
	}
	first := compute(t, Snapshot{Mux: mux(), Channels: channels(ch)})
	want := message(t, first, "app/api", api.ReasonChannelFieldIgnored)
	for i := 0; i < 20; i++ {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(ch)})
		assert.Equal(t, want, message(t, p, "app/api", api.ReasonChannelFieldIgnored))
		assert.Equal(t, outcome(t, first, "app/api").Message, outcome(t, p, "app/api").Message)
	}
	var fields []string
	for _, f := range IgnoredChannelFields(ch) {
		fields = append(fields, f.Field)
	}
	assert.Equal(t, []string{"annotation cloud.google.com/a", "annotation cloud.google.com/b", "annotation networking.gke.io/a",
		"annotation service.beta.kubernetes.io/aws-load-balancer-d", "annotation service.beta.kubernetes.io/azure-c"}, fields)
}

// A refused or kept channel is told too (the fields are ignored whatever happens),
// but its condition keeps the refusal's message: the Accepted message alone grows.
func TestChannelFieldIgnoredOnARefusedChannel(t *testing.T) {
	ranges := func(s *corev1.Service) *corev1.Service {
		s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		return s
	}
	api8080 := channel("app/api", "http:8080")
	refused := ranges(channel("app/new", "http:8080"))
	kept := ranges(withPorts(auto(channel("app/kept", "web:80"), "web:90000"), "web:80->20000"))
	p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)), Channels: channels(api8080, refused, kept),
		StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 8080, "static"), claim("app/kept", "web", "TCP", 80, 20000, "auto"))})

	o := outcome(t, p, "app/new")
	require.Equal(t, api.ReasonMuxPortConflict, o.Reason)
	assert.Equal(t, "channel app/new: 8080/TCP is already claimed by "+owner("app/api", "http"), o.Condition.Message)
	assert.Equal(t, "channel app/new: the shared load balancer of mux svc-mux/mux ignores spec.loadBalancerSourceRanges "+everyChannel,
		message(t, p, "app/new", api.ReasonChannelFieldIgnored))

	k := outcome(t, p, "app/kept")
	require.True(t, k.Kept)
	assert.NotContains(t, k.Condition.Message, "ignored:")
	assert.Len(t, events(p, "app/kept", api.ReasonChannelFieldIgnored), 1)
	assert.Empty(t, events(p, "app/api", api.ReasonChannelFieldIgnored))
}
