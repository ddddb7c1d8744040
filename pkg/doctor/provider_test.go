package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

func TestProviderCaps(t *testing.T) {
	gke := annotate("cloud.google.com/l4-rbs", "enabled")
	nlb := annotate(api.AWSLoadBalancerTypeAnnotation, "external")
	nlbClass := func(s *corev1.Service) { c := api.AWSNLBClass; s.Spec.LoadBalancerClass = &c }
	tests := []struct {
		name     string
		mux      *corev1.Service
		channels []*corev1.Service
		want     []string // messages
		codes    []string
	}{
		{"a GKE mux within 100 ports is no finding", testMux("mux", gke),
			[]*corev1.Service{testChannel("a", "mux", []string{"http:80"})}, nil, []string{}},
		{"a GKE mux whose channels declare 101 ports is over the cap", testMux("mux", gke),
			[]*corev1.Service{testChannel("a", "mux", portList("p", 60)), testChannel("b", "mux", portList("q", 41))},
			[]string{"mux svc-mux/mux is GKE-backed (at most 100 ports) and its channels declare 101 ports; 1 channel(s) are refused over the cap"},
			[]string{"SVCMUX601"}},
		{"a GKE mux with spread ports spans a range", testMux("mux", gke),
			[]*corev1.Service{testChannel("a", "mux", []string{"a:80", "b:81", "c:82", "d:83", "e:84", "f:9000"})},
			[]string{"mux svc-mux/mux has 6 ports on GKE, which forwards a Service with more than 5 ports as one range: 80-9000 (8921 ports) reach the nodes"},
			[]string{"SVCMUX603"}},
		{"a GKE mux with five spread ports is forwarded port by port", testMux("mux", gke),
			[]*corev1.Service{testChannel("a", "mux", []string{"a:80", "b:81", "c:82", "d:83", "f:9000"})}, nil, []string{}},
		{"an AWS NLB mux whose channels declare 51 ports is over the listener cap", testMux("mux", nlb),
			[]*corev1.Service{testChannel("a", "mux", portList("p", 30)), testChannel("b", "mux", portList("q", 21))},
			[]string{"mux svc-mux/mux is an AWS NLB (at most 50 listeners, one per port and protocol) and its channels declare 51 ports; 1 channel(s) are refused over the cap"},
			[]string{"SVCMUX602"}},
		{"an NLB by class with 50 ports is within the cap", testMux("mux", nlbClass),
			[]*corev1.Service{testChannel("a", "mux", portList("p", 50))}, nil, []string{}},
		{"a plain mux with 51 ports has no provider cap", testMux("mux"),
			[]*corev1.Service{testChannel("a", "mux", portList("p", 51))}, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, baseInput(planned(tt.mux, nil, tt.channels...)), CheckProvider).Findings
			var msgs []string
			gotCodes := []string{}
			for _, f := range got {
				msgs = append(msgs, f.Message)
				gotCodes = append(gotCodes, f.Code)
				assert.Equal(t, "Service svc-mux/mux", f.Object)
			}
			assert.Equal(t, tt.codes, gotCodes)
			assert.Equal(t, tt.want, msgs)
		})
	}
	m := planned(testMux("mux", nlb), nil, testChannel("a", "mux", portList("p", 51)))
	if got := only(t, baseInput(m), CheckProvider).Findings; assert.Len(t, got, 1) {
		assert.Equal(t, "kubectl svcmux topology svc-mux/mux  # move the refused channels to a second mux", got[0].Fix)
	}
}

func TestNodePortBudget(t *testing.T) {
	withNodePorts := func(allocate *bool, nodePorts ...int32) svcOpt {
		return func(s *corev1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = allocate
			for i := range s.Spec.Ports {
				if i < len(nodePorts) {
					s.Spec.Ports[i].NodePort = nodePorts[i]
				}
			}
		}
	}
	tests := []struct {
		name string
		ch   *corev1.Service
		why  string
		fix  string
	}{
		{"a channel that allocates none holds none", testChannel("api", "mux", []string{"http:80"}), "", ""},
		{"a channel with the default allocation wastes its NodePorts", testChannel("api", "mux", []string{"http:80", "grpc:81"}, withNodePorts(nil, 30001, 30002)),
			"holds 2 NodePort(s) and allocates one for every port it adds (allocateLoadBalancerNodePorts is not false)",
			`kubectl -n app patch svc api --type=json -p '[{"op":"add","path":"/spec/allocateLoadBalancerNodePorts","value":false},` +
				`{"op":"remove","path":"/spec/ports/0/nodePort"},{"op":"remove","path":"/spec/ports/1/nodePort"}]'`},
		{"a channel set false after allocation still holds them", testChannel("api", "mux", []string{"http:80", "grpc:81"}, withNodePorts(ptr(false), 0, 30002)),
			"holds 1 NodePort(s) allocated before allocateLoadBalancerNodePorts was set false",
			`kubectl -n app patch svc api --type=json -p '[{"op":"remove","path":"/spec/ports/1/nodePort"}]'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, baseInput(planned(testMux("mux"), nil, tt.ch)), CheckNodePorts).Findings
			if tt.why == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				assert.Equal(t, Finding{Code: "SVCMUX605", Severity: SeverityWarning, Object: "Service app/api",
					Message: "channel app/api " + tt.why + "; a channel's own load balancer is never provisioned, so its NodePorts are never used",
					Fix:     tt.fix, Docs: "docs/plugin/doctor.md#svcmux605"}, got[0])
			}
		})
	}

	t.Run("a cluster with 80% of the default range allocated is warned", func(t *testing.T) {
		mux := testMux("mux")
		mux.Spec.Ports[0].NodePort = 32000
		ch := testChannel("api", "mux", []string{"http:80"}, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 32001 })
		in := baseInput(planned(mux, nil, ch))
		in.Services = []corev1.Service{*mux, *ch}
		for i := 0; i < 2213; i++ {
			in.Services = append(in.Services, corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{NodePort: int32(30000 + i)}}}})
		}
		budget := func() []Finding {
			var out []Finding
			for _, f := range only(t, in, CheckNodePorts).Findings {
				if f.Code == "SVCMUX604" {
					out = append(out, f)
				}
			}
			return out
		}
		got := budget()
		if assert.Len(t, got, 1) {
			assert.Equal(t, Finding{Code: "SVCMUX604", Severity: SeverityWarning, Object: "cluster",
				Message: "2215 NodePorts are allocated, 80% of the default range 30000-32767 (2768); the muxes in scope hold 1 " +
					"(one per port while allocateLoadBalancerNodePorts is not false), channels that never use theirs 1",
				Fix: "kubectl svcmux doctor --fail-on warning  # patch every SVCMUX605 channel", Docs: "docs/plugin/doctor.md#svcmux604"}, got[0])
		}
		in.Services = in.Services[:2214]
		assert.Empty(t, budget(), "2214 allocated is under 80%")
	})
}
