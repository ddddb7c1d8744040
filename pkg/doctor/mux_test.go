package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

func TestMuxValidity(t *testing.T) {
	tests := []struct {
		name string
		mux  *corev1.Service
		want []Finding
	}{
		{"a valid mux is no finding", testMux("mux"), []Finding{}},
		{"a mux with a selector is NotSupported", testMux("mux", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} }),
			[]Finding{{Code: "SVCMUX201", Severity: SeverityError, Object: "Service svc-mux/mux",
				Message: "mux svc-mux/mux has a selector; a multiplexer Service must not select pods (remove spec.selector); the agent changes nothing on it until it is fixed",
				Fix:     `kubectl -n svc-mux patch svc mux --type=json -p '[{"op":"remove","path":"/spec/selector"}]'`, Docs: "docs/plugin/doctor.md#svcmux201"}}},
		{"a mux of type ClusterIP is not a LoadBalancer", testMux("mux", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
			[]Finding{{Code: "SVCMUX202", Severity: SeverityError, Object: "Service svc-mux/mux",
				Message: `mux svc-mux/mux has type "ClusterIP"; a multiplexer Service must be of type LoadBalancer; the agent changes nothing on it until it is fixed`,
				Fix:     `kubectl -n svc-mux patch svc mux -p '{"spec":{"type":"LoadBalancer"}}'`, Docs: "docs/plugin/doctor.md#svcmux202"}}},
		{"an invalid port range names the annotation", testMux("mux", annotate(testKeys.PortRange, "20099-20000")),
			[]Finding{{Code: "SVCMUX203", Severity: SeverityError, Object: "Service svc-mux/mux",
				Message: planMessage(testMux("mux", annotate(testKeys.PortRange, "20099-20000")), "InvalidPortRange"),
				Fix:     "kubectl -n svc-mux annotate svc mux --overwrite svc-mux.nowake.ai/port-range=20000-20099", Docs: "docs/plugin/doctor.md#svcmux203"}}},
		{"an invalid max-ports names the annotation", testMux("mux", annotate(testKeys.MaxPorts, "zero")),
			[]Finding{{Code: "SVCMUX204", Severity: SeverityError, Object: "Service svc-mux/mux",
				Message: `mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value "zero"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`,
				Fix:     "kubectl -n svc-mux annotate svc mux --overwrite svc-mux.nowake.ai/max-ports=100", Docs: "docs/plugin/doctor.md#svcmux204"}}},
		{"an invalid allowed-namespaces names the annotation", testMux("mux", annotate(testKeys.AllowedNamespaces, "Team")),
			[]Finding{{Code: "SVCMUX206", Severity: SeverityError, Object: "Service svc-mux/mux",
				Message: `mux svc-mux/mux: annotation svc-mux.nowake.ai/allowed-namespaces: "Team": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"; the mux keeps its current ports, endpoints and state until it is fixed`,
				Fix:     "kubectl -n svc-mux annotate svc mux --overwrite svc-mux.nowake.ai/allowed-namespaces='team-a,team-*'", Docs: "docs/plugin/doctor.md#svcmux206"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, only(t, baseInput(planned(tt.mux, nil)), CheckMux).Findings)
		})
	}
}

// planMessage is the planner's own message for reason on mux.
func planMessage(mux *corev1.Service, reason string) string {
	e, _ := muxEvent(planned(mux, nil).Plan, reason)
	return e.Message
}

func TestDriftSummaryCountsAgentOwnedFields(t *testing.T) {
	api := testChannel("api", "mux", []string{"http:8080"})
	clean := settled(t, testMux("mux"), api)
	placeholder := func() Mux {
		m := settled(t, testMux("mux"), api)
		live := m.Snapshot.Mux.DeepCopy()
		live.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
		delete(live.Annotations, testKeys.Summary)
		return planned(live, m.Snapshot.StateConfigMap, m.Snapshot.Channels...)
	}()
	annotationEdited := func() Mux {
		m := settled(t, testMux("mux"), api)
		ch := m.Snapshot.Channels[0].DeepCopy()
		ch.Annotations[testKeys.Ports] = "http:8080->9999"
		return planned(m.Snapshot.Mux, m.Snapshot.StateConfigMap, ch)
	}()
	tests := []struct {
		name string
		mux  Mux
		want string // message, "" for none
	}{
		{"a settled mux has no drift", clean, ""},
		{"the placeholder put back and a removed summary are two fields", placeholder,
			"2 agent-owned field(s) differ from what the agent writes: spec.ports (live: the placeholder), annotation svc-mux.nowake.ai/summary; " +
				"a running agent restores them on its next pass, a writer that keeps putting them back fights it"},
		{"an edited channel ports annotation is one field", annotationEdited,
			"1 agent-owned field(s) differ from what the agent writes: channel app/api annotation svc-mux.nowake.ai/ports; " +
				"a running agent restores them on its next pass, a writer that keeps putting them back fights it"},
		{"a frozen mux is not drift", planned(testMux("mux", annotate(testKeys.MaxPorts, "x")), nil, api), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, baseInput(tt.mux), CheckDrift).Findings
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				assert.Equal(t, Finding{Code: "SVCMUX205", Severity: SeverityWarning, Object: "Service svc-mux/mux", Message: tt.want,
					Fix: "kubectl svcmux drift svc-mux/mux", Docs: "docs/plugin/doctor.md#svcmux205"}, got[0])
			}
		})
	}
}

func TestStateHealth(t *testing.T) {
	foreign := stateCM("mux", `{"allocations":[],"mux":{"name":"other","namespace":"svc-mux"},"portClaims":[],"schemaVersion":1}`)
	older := stateCM("mux", `{"allocations":[{"namespace":"app","service":"api","portName":"http","port":20000,"protocol":"TCP"}]}`)
	tests := []struct {
		name    string
		cm      *corev1.ConfigMap
		mux     *corev1.Service
		code    string
		object  string
		message string
	}{
		{"readable current state is no finding", stateCM("mux", `{"allocations":[],"mux":{"name":"mux","namespace":"svc-mux"},"portClaims":[],"schemaVersion":1}`),
			testMux("mux"), "", "", ""},
		{"invalid JSON is an error", stateCM("mux", "{"), testMux("mux"), "SVCMUX401", "ConfigMap svc-mux/mux-port-allocations",
			"state ConfigMap svc-mux/mux-port-allocations of mux svc-mux/mux: invalid JSON: unexpected end of JSON input; the agent never writes it, owners keep their ports and no new automatic port is given"},
		{"state naming another mux is foreign", foreign, testMux("mux"), "SVCMUX402", "ConfigMap svc-mux/mux-port-allocations",
			"mux state ConfigMap svc-mux/mux-port-allocations contains state for mux svc-mux/other; expected svc-mux/mux. Use one state ConfigMap per mux."},
		{"the older format is migrated on the next pass", older, testMux("mux"), "SVCMUX404", "ConfigMap svc-mux/mux-port-allocations",
			"state ConfigMap svc-mux/mux-port-allocations has only allocations (the older format); the agent migrates it to portClaims on its next pass"},
		{"a missing state ConfigMap is created on the next pass", nil, testMux("mux"), "SVCMUX403", "Service svc-mux/mux",
			"mux svc-mux/mux has no state ConfigMap svc-mux/mux-port-allocations yet; the agent creates it on its next pass, recovering owners from the live mux"},
		{"a frozen mux's state is not judged", stateCM("mux", "{"), testMux("mux", annotate(testKeys.MaxPorts, "x")), "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, baseInput(planned(tt.mux, tt.cm)), CheckState).Findings
			if tt.code == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				assert.Equal(t, tt.code, got[0].Code)
				assert.Equal(t, tt.object, got[0].Object)
				assert.Equal(t, tt.message, got[0].Message)
				assert.Contains(t, got[0].Fix, "kubectl svcmux repair svc-mux/mux")
			}
		})
	}
}
