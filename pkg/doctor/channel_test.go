package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/plan"
)

func TestChannelValidityByReason(t *testing.T) {
	owner := testChannel("api", "mux", []string{"http:8080"})
	tests := []struct {
		name     string
		mux      *corev1.Service
		channels []*corev1.Service
		code     string
		object   string
		fix      string
	}{
		{"an accepted channel is no finding", testMux("mux"), []*corev1.Service{owner}, "", "", ""},
		{"a port without a name is InvalidPort", testMux("mux"), []*corev1.Service{testChannel("web", "mux", []string{":80"})},
			"SVCMUX303", "Service app/web", "kubectl -n app edit svc web  # give every spec.ports[] entry a name"},
		{"a malformed external-ports is InvalidPortMapping", testMux("mux"),
			[]*corev1.Service{testChannel("web", "mux", []string{"http:80"}, annotate(testKeys.ExternalPorts, "http:x"))},
			"SVCMUX304", "Service app/web", "kubectl -n app annotate svc web --overwrite svc-mux.nowake.ai/external-ports=<port-name>:auto"},
		{"a newcomer on an owned port is MuxPortConflict", testMux("mux"),
			[]*corev1.Service{owner, testChannel("web", "mux", []string{"http:8080"})},
			"SVCMUX305", "Service app/web", "kubectl -n app annotate svc web --overwrite svc-mux.nowake.ai/external-ports=<port-name>:auto"},
		{"a channel over max-ports is MuxPortLimitExceeded, fixed on the mux", testMux("mux", annotate(testKeys.MaxPorts, "1")),
			[]*corev1.Service{owner, testChannel("web", "mux", []string{"http:80"})},
			"SVCMUX306", "Service app/web", "kubectl -n svc-mux annotate svc mux --overwrite svc-mux.nowake.ai/max-ports=<more ports>"},
		{"a channel from a namespace the mux does not admit is NamespaceNotAllowed, fixed on the mux",
			testMux("mux", annotate(testKeys.AllowedNamespaces, "team-*")), []*corev1.Service{testChannel("web", "mux", []string{"http:80"})},
			"SVCMUX310", "Service app/web", "kubectl -n svc-mux annotate svc mux --overwrite svc-mux.nowake.ai/allowed-namespaces='<allowed namespaces>,app'"},
		{"an auto channel inside the range is accepted", testMux("mux", annotate(testKeys.PortRange, "20000-20009")),
			[]*corev1.Service{testChannel("web", "mux", []string{"http:80"}, annotate(testKeys.ExternalPorts, "http:auto"))},
			"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, baseInput(planned(tt.mux, nil, tt.channels...)), CheckChannel).Findings
			if tt.code == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				m := planned(tt.mux, nil, tt.channels...)
				want := m.Plan.Channels[len(m.Plan.Channels)-1]
				assert.Equal(t, Finding{Code: tt.code, Severity: SeverityError, Object: tt.object, Message: want.Message,
					Fix: tt.fix, Docs: "docs/plugin/doctor.md#" + lower(tt.code)}, got[0])
			}
		})
	}
}

func lower(code string) string { return "svcmux" + code[6:] }

func TestChannelRejectedForAnotherReasonAndKept(t *testing.T) {
	// A corrupt state leaves a new auto channel waiting: rejected with the mux's reason.
	m := planned(testMux("mux", annotate(testKeys.PortRange, "20000-20009")), stateCM("mux", "{"),
		testChannel("web", "mux", []string{"http:80"}, annotate(testKeys.ExternalPorts, "http:auto")))
	got := only(t, baseInput(m), CheckChannel).Findings
	if assert.Len(t, got, 1) {
		assert.Equal(t, "SVCMUX307", got[0].Code)
		assert.Equal(t, "PortAllocationStoreInvalid: "+m.Plan.Channels[0].Message, got[0].Message)
		assert.Equal(t, "kubectl -n app describe svc web", got[0].Fix)
	}

	// An accepted channel whose edit is refused keeps its ports: a warning.
	api := testChannel("api", "mux", []string{"http:8080"})
	s := settled(t, testMux("mux"), api)
	edited := s.Snapshot.Channels[0].DeepCopy()
	edited.Annotations[testKeys.ExternalPorts] = "http:bad"
	kept := planned(s.Snapshot.Mux, s.Snapshot.StateConfigMap, edited)
	got = only(t, baseInput(kept), CheckChannel).Findings
	if assert.Len(t, got, 1) {
		assert.Equal(t, "SVCMUX308", got[0].Code)
		assert.Equal(t, SeverityWarning, got[0].Severity)
		assert.Equal(t, "InvalidPortMapping: "+kept.Plan.Channels[0].Message, got[0].Message)
	}
}

func TestOrphanChannels(t *testing.T) {
	lost := testChannel("lost", "gone", []string{"http:80"})
	bad := testChannel("bad", "Bad_Mux", []string{"http:80"})
	in := baseInput()
	for _, svc := range []*corev1.Service{bad, lost} {
		oc, _ := plan.Unattached(svc, testOpts, false)
		in.Orphans = append(in.Orphans, Orphan{Service: svc, Outcome: oc})
	}
	got := only(t, in, CheckChannel).Findings
	assert.Equal(t, []string{"SVCMUX301 Service app/lost", "SVCMUX302 Service app/bad"}, codes(Report{Findings: got}))
	assert.Equal(t, `channel app/lost names mux svc-mux/gone, which does not exist or lacks svc-mux.nowake.ai/multiplexer: "true"; create the mux or fix spec.loadBalancerClass`,
		got[0].Message)
	assert.Equal(t, "kubectl -n svc-mux annotate svc gone svc-mux.nowake.ai/multiplexer=true", got[0].Fix)
}

func TestChannelFieldsASharedLoadBalancerCannotHonour(t *testing.T) {
	tests := []struct {
		name   string
		mutate svcOpt
		fields string
	}{
		{"a plain channel sets none", func(*corev1.Service) {}, ""},
		{"every field is named once, annotations sorted", func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 31000 // assigned for Local: part of that entry
			s.Spec.LoadBalancerIP = "1.2.3.4"
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Annotations["networking.gke.io/load-balancer-type"] = "Internal"
			s.Annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internal"
			s.Annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
			s.Annotations["cloud.google.com/l4-rbs"] = "enabled"
			s.Annotations["service.beta.kubernetes.io/other"] = "kept" // not a load-balancer annotation
		}, "spec.loadBalancerSourceRanges, spec.externalTrafficPolicy: Local, spec.loadBalancerIP, spec.sessionAffinity: ClientIP, " +
			"annotation cloud.google.com/l4-rbs, annotation networking.gke.io/load-balancer-type, " +
			"annotation service.beta.kubernetes.io/aws-load-balancer-scheme, annotation service.beta.kubernetes.io/azure-load-balancer-internal"},
		{"a healthCheckNodePort without Local is named", func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 31000 }, "spec.healthCheckNodePort"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := testChannel("api", "mux", []string{"http:8080"}, tt.mutate)
			got := only(t, baseInput(planned(testMux("mux"), nil, ch)), CheckChannelFields).Findings
			if tt.fields == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				assert.Equal(t, Finding{Code: "SVCMUX309", Severity: SeverityWarning, Object: "Service app/api",
					Message: "channel app/api sets " + tt.fields + ", which the shared load balancer of mux svc-mux/mux cannot honour; set them on the mux, or give the workload its own load balancer",
					Fix:     "kubectl -n app edit svc api  # remove " + tt.fields, Docs: "docs/plugin/doctor.md#svcmux309"}, got[0])
			}
		})
	}
}
