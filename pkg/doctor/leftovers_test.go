package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func TestLeftoverFinalizers(t *testing.T) {
	fin := func(s *corev1.Service) { s.Finalizers = append(s.Finalizers, "example.com/keep", testKeys.Finalizer) }
	m := planned(testMux("mux", fin), nil, testChannel("api", "mux", []string{"http:80"}, fin), testChannel("web", "mux", []string{"http:81"}))
	orphan := testChannel("lost", "gone", []string{"http:80"}, fin)
	oc, _ := plan.Unattached(orphan, testOpts, false)
	in := baseInput(m)
	in.Orphans = []Orphan{{Service: orphan, Outcome: oc}}
	got := only(t, in, CheckFinalizers).Findings
	assert.Equal(t, []string{"SVCMUX701 Service app/api", "SVCMUX701 Service app/lost", "SVCMUX701 Service svc-mux/mux"}, codes(Report{Findings: got}))
	assert.Equal(t, Finding{Code: "SVCMUX701", Severity: SeverityWarning, Object: "Service svc-mux/mux",
		Message: "mux svc-mux/mux carries svc-lb-mux's finalizer svc-mux.nowake.ai/finalizer: a delete hangs until a running agent removes it",
		Fix:     `kubectl -n svc-mux patch svc mux --type=json -p '[{"op":"remove","path":"/metadata/finalizers/1"}]'`,
		Docs:    "docs/plugin/doctor.md#svcmux701"}, got[2])
}

func TestLeftoverPythonEndpoints(t *testing.T) {
	legacy := func(ns, name string, labels map[string]string) corev1.Endpoints {
		return corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	}
	python := map[string]string{api.LabelManagedBy: api.AppName, api.LabelComponent: api.ComponentMuxEndpoints}
	tests := []struct {
		name      string
		agentArgs []string
		endpoints []corev1.Endpoints
		want      []string
	}{
		{"svc-lb-mux's Endpoints beside a mux in slices mode is a leftover", nil,
			[]corev1.Endpoints{legacy("svc-mux", "mux", python)}, []string{"SVCMUX702 Endpoints svc-mux/mux"}},
		{"in both mode the agent owns that object", []string{"--endpoints-mode=both"},
			[]corev1.Endpoints{legacy("svc-mux", "mux", python)}, []string{}},
		{"an Endpoints not named like a mux is not judged", nil,
			[]corev1.Endpoints{legacy("svc-mux", "other", python)}, []string{}},
		{"an Endpoints without the component label is a user's", nil,
			[]corev1.Endpoints{legacy("svc-mux", "mux", map[string]string{api.LabelManagedBy: api.AppName})}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(planned(testMux("mux"), nil))
			in.Agents = []appsv1.Deployment{healthyAgent("0.1.0", tt.agentArgs...)}
			in.LegacyEndpoints = tt.endpoints
			r := only(t, in, CheckLegacyEndpoint)
			assert.Equal(t, tt.want, codes(r))
			if len(r.Findings) == 1 {
				assert.Equal(t, "Endpoints svc-mux/mux left by svc-lb-mux is mirrored into EndpointSlices that route mux svc-mux/mux to stale backends beside the agent's slices",
					r.Findings[0].Message)
				assert.Equal(t, "kubectl -n svc-mux delete endpoints mux", r.Findings[0].Fix)
			}
		})
	}
}

func TestLeftoverKopfAnnotations(t *testing.T) {
	ch := testChannel("api", "mux", []string{"http:80"},
		annotate("kopf.zalando.org/last-handled-configuration", "{}", "kopf.zalando.org/touch-dummy", "x"))
	got := only(t, baseInput(planned(testMux("mux"), nil, ch)), CheckKopf).Findings
	assert.Equal(t, []Finding{{Code: "SVCMUX703", Severity: SeverityInfo, Object: "Service app/api",
		Message: "channel app/api carries svc-lb-mux's kopf annotations kopf.zalando.org/last-handled-configuration, kopf.zalando.org/touch-dummy; nothing reads them any more",
		Fix:     "kubectl -n app annotate svc api kopf.zalando.org/last-handled-configuration- kopf.zalando.org/touch-dummy-",
		Docs:    "docs/plugin/doctor.md#svcmux703"}}, got)
}
