package chart

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func TestTheChartLintsClean(t *testing.T) {
	tests := []struct {
		name   string
		values func(t *testing.T) map[string]any
	}{
		{"with default values", func(*testing.T) map[string]any { return nil }},
		{"with the svc-lb-mux values file", pythonValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps, err := Capabilities()
			require.NoError(t, err)
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = "svc-mux"
			lint.KubeVersion = &caps.KubeVersion
			res := lint.Run([]string{Dir()}, tt.values(t))
			assert.Empty(t, res.Messages, "not even an INFO")
			assert.Empty(t, res.Errors)
			assert.Equal(t, 1, res.TotalChartsLinted)
		})
	}
}

func TestThePodPassesTheRestrictedPodSecurityLevel(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	tests := []struct {
		name   string
		values func(t *testing.T) map[string]any
	}{
		{"with default values", func(*testing.T) map[string]any { return nil }},
		{"with the svc-lb-mux values file (its empty security contexts keep ours)", pythonValues},
		{"with every optional part on", func(*testing.T) map[string]any { return everythingOn() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{ExtraAPIs: []string{serviceMonitorAPI}})
			require.NoError(t, err)
			pod := deployment(t, r).Spec.Template
			for _, lv := range []psaapi.LevelVersion{
				{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()},
				{Level: psaapi.LevelRestricted, Version: psaapi.MajorMinorVersion(1, 29)},
			} {
				res := policy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
				assert.True(t, res.Allowed, "%s: %s: %s", lv, res.ForbiddenReason(), res.ForbiddenDetail())
			}
			c := pod.Spec.Containers[0].SecurityContext
			require.NotNil(t, c)
			assert.True(t, *c.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
			assert.Equal(t, int64(65532), *c.RunAsUser)
		})
	}
}

func TestTheRestrictedCheckCatchesARootPod(t *testing.T) {
	// The evaluator above is only proof if it can fail: a values file asking for root
	// and privilege escalation must be refused.
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	r, err := Render(map[string]any{
		"podSecurityContext": map[string]any{"runAsNonRoot": false, "runAsUser": 0},
		"securityContext":    map[string]any{"allowPrivilegeEscalation": true, "runAsNonRoot": false, "runAsUser": 0},
	}, Options{})
	require.NoError(t, err)
	pod := deployment(t, r).Spec.Template
	res := policy.AggregateCheckResults(eval.EvaluatePod(
		psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec))
	assert.False(t, res.Allowed)
	assert.Equal(t, "allowPrivilegeEscalation != false, runAsNonRoot != true, runAsUser=0", res.ForbiddenReason())
}

func rules(t *testing.T, r Rendered, kind, name string) []rbacv1.PolicyRule {
	t.Helper()
	obj := r.Find(kind, name)
	require.NotNil(t, obj, "%s/%s", kind, name)
	var role rbacv1.ClusterRole // Role has the same shape
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role))
	return role.Rules
}

func TestRBACIsExactlyTheAgentsWrites(t *testing.T) {
	// What pkg/agent and pkg/apply call (docs/agent.md): informers list and watch, writes
	// are patches, whole-object updates for endpoints, and no get, Secrets or Service
	// create/delete anywhere.
	wantCluster := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch", "create", "update", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"endpoints"}, Verbs: []string{"list", "watch", "create", "update", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch", "create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list", "create", "patch"}},
	}
	wantLease := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"svcmux-agent"}, Verbs: []string{"get", "update"}},
	}
	tests := []struct {
		name        string
		values      func(t *testing.T) map[string]any
		wantCluster []rbacv1.PolicyRule
		wantLease   []rbacv1.PolicyRule
	}{
		{"default values grant exactly the agent's verbs", func(*testing.T) map[string]any { return nil }, wantCluster, wantLease},
		{"the svc-lb-mux values file grants the same (its rbac.rules is empty)", pythonValues, wantCluster, wantLease},
		{"rbac.rules are appended, as in the Python chart, and the Lease name follows its value",
			func(*testing.T) map[string]any {
				return map[string]any{
					"rbac":  map[string]any{"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get"}}}},
					"agent": map[string]any{"leaderElection": map[string]any{"id": "mux-leader"}},
				}
			},
			append(append([]rbacv1.PolicyRule{}, wantCluster...),
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}),
			[]rbacv1.PolicyRule{wantLease[0],
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"mux-leader"}, Verbs: []string{"get", "update"}}}},
		{"agent.namespaceSelector adds list and watch on namespaces, and nothing else",
			func(*testing.T) map[string]any {
				return map[string]any{"agent": map[string]any{"namespaceSelector": true}}
			},
			append(append([]rbacv1.PolicyRule{}, wantCluster...),
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch"}}),
			wantLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{})
			require.NoError(t, err)
			assert.Equal(t, tt.wantCluster, rules(t, r, "ClusterRole", "svcmux-svc-mux-role"))
			assert.Equal(t, tt.wantLease, rules(t, r, "Role", "svcmux-svc-mux-leader-election"))
			for _, b := range []string{"ClusterRoleBinding/svcmux-svc-mux-rolebinding", "RoleBinding/svcmux-svc-mux-leader-election"} {
				var binding rbacv1.RoleBinding
				kind, name, _ := cut(b)
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(r.Find(kind, name).Object, &binding))
				assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "svcmux-svc-mux", Namespace: "svc-mux"}}, binding.Subjects, b)
			}
			assert.Empty(t, r.Find("Role", "svcmux-svc-mux-leader-election").GetNamespace(),
				"the Role is in the release namespace, the only one it grants")
		})
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestBadValuesFailTheRenderWithAClearMessage(t *testing.T) {
	const schemaHeader = "values don't meet the specifications of the schema(s) in the following chart(s):\nsvcmux:\n"
	tests := []struct {
		name    string
		values  map[string]any
		apis    []string
		wantErr string
	}{
		{"a string replica count is refused by the schema", map[string]any{"replicaCount": "two"}, nil,
			schemaHeader + "- at '/replicaCount': got string, want integer\n"},
		{"a boolean worker count and an unknown endpoints mode are refused together",
			map[string]any{"agent": map[string]any{"workers": true, "endpointsMode": "mirror"}}, nil,
			schemaHeader + "- at '/agent/endpointsMode': value must be one of 'slices', 'endpoints', 'both'\n" +
				"- at '/agent/workers': got boolean, want integer\n"},
		{"a mux name that is not a DNS label is refused",
			map[string]any{"defaultLoadBalancer": map[string]any{"name": "My_Mux"}}, nil,
			schemaHeader + "- at '/defaultLoadBalancer/name': 'My_Mux' does not match pattern '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'\n"},
		{"a ServiceMonitor without the Prometheus Operator's API says what to install",
			map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}, nil,
			"execution error at (svcmux/templates/servicemonitor.yaml:3:4): metrics.serviceMonitor.enabled is true, " +
				"but the cluster serves no monitoring.coreos.com/v1 ServiceMonitor: install the Prometheus Operator's CRDs first, " +
				"or set metrics.serviceMonitor.enabled=false"},
		{"a ServiceMonitor without the metrics endpoint says so",
			map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}},
				"agent": map[string]any{"metricsBindAddress": "0"}}, []string{serviceMonitorAPI},
			"execution error at (svcmux/templates/servicemonitor.yaml:6:4): metrics.serviceMonitor.enabled needs the metrics Service: " +
				"set metrics.service.enabled=true and a non-zero agent.metricsBindAddress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.values, Options{ExtraAPIs: tt.apis})
			require.Error(t, err)
			assert.Equal(t, sortedLines(tt.wantErr), sortedLines(err.Error()))
		})
	}
}

// sortedLines orders the schema's "- at …" lines: the validator reports the problems of
// one object in map order.
func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
