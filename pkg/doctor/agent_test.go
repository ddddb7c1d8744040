package doctor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func lease(renewedAgo time.Duration, durationSeconds int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux-agent"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("svcmux-abc"), LeaseDurationSeconds: ptr(durationSeconds),
			RenewTime: ptr(metav1.NewMicroTime(testNow.Add(-renewedAgo)))},
	}
}

func TestAgentDeploymentChecks(t *testing.T) {
	notReady := healthyAgent("v0.1.0")
	notReady.Status.ReadyReplicas = 0
	partly := healthyAgent("v0.1.0")
	partly.Status.ReadyReplicas = 1
	second := healthyAgent("v0.1.0")
	second.Namespace = "other"
	tests := []struct {
		name   string
		agents []appsv1.Deployment
		want   []Finding
	}{
		{"a ready agent is no finding", []appsv1.Deployment{healthyAgent("v0.1.0")}, []Finding{}},
		{"no agent Deployment is an error that says how to install it", nil, []Finding{{
			Code: "SVCMUX101", Severity: SeverityError, Object: "cluster",
			Message: "no Deployment labelled app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux in the cluster: nothing reconciles muxes and channels",
			Fix:     "helm install svcmux deploy/helm/svcmux -n svc-mux --create-namespace", Docs: "docs/plugin/doctor.md#svcmux101"}}},
		{"an agent with no ready replica is an error", []appsv1.Deployment{notReady}, []Finding{{
			Code: "SVCMUX102", Severity: SeverityError, Object: "Deployment svc-mux/svcmux",
			Message: "agent Deployment svc-mux/svcmux has no ready replica (0/2): nothing reconciles muxes and channels",
			Fix:     "kubectl -n svc-mux describe deployment svcmux", Docs: "docs/plugin/doctor.md#svcmux102"}}},
		{"an agent with some replicas ready is a warning", []appsv1.Deployment{partly}, []Finding{{
			Code: "SVCMUX103", Severity: SeverityWarning, Object: "Deployment svc-mux/svcmux",
			Message: "agent Deployment svc-mux/svcmux has 1 of 2 replicas ready: a leader change has no standby",
			Fix:     "kubectl -n svc-mux describe deployment svcmux", Docs: "docs/plugin/doctor.md#svcmux103"}}},
		{"two agent Deployments are a warning naming both", []appsv1.Deployment{second, healthyAgent("v0.1.0")}, []Finding{{
			Code: "SVCMUX108", Severity: SeverityWarning, Object: "cluster",
			Message: "2 agent Deployments (other/svcmux, svc-mux/svcmux): agents with different Leases both write the same muxes",
			Fix:     "kubectl -n svc-mux delete deployment svcmux", Docs: "docs/plugin/doctor.md#svcmux108"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			in.Agents = tt.agents
			in.Lease = lease(time.Second, 15)
			assert.Equal(t, tt.want, only(t, in, CheckAgent).Findings)
		})
	}
}

func TestLeaseFreshness(t *testing.T) {
	stale := "Lease svc-mux/svcmux-agent (holder svcmux-abc) was last renewed 1m0s ago, more than twice its 15s duration: no agent is leading"
	tests := []struct {
		name    string
		args    []string
		lease   *coordinationv1.Lease
		code    string
		object  string
		message string
	}{
		{"a lease renewed a second ago is fresh", nil, lease(time.Second, 15), "", "", ""},
		{"a lease renewed exactly twice its duration ago is still fresh", nil, lease(30*time.Second, 15), "", "", ""},
		{"a lease renewed a minute ago is stale", nil, lease(time.Minute, 15), "SVCMUX105", "Lease svc-mux/svcmux-agent", stale},
		{"the lease's own duration wins over the flag's", []string{"--leader-election-lease-duration=1h"}, lease(time.Minute, 15),
			"SVCMUX105", "Lease svc-mux/svcmux-agent", stale},
		{"the flag's duration counts when the lease has none", []string{"--leader-election-lease-duration=1h"},
			func() *coordinationv1.Lease { l := lease(time.Minute, 15); l.Spec.LeaseDurationSeconds = nil; return l }(), "", "", ""},
		{"a lease never renewed is stale", nil,
			func() *coordinationv1.Lease { l := lease(0, 15); l.Spec.RenewTime = nil; return l }(), "SVCMUX105", "Lease svc-mux/svcmux-agent",
			"Lease svc-mux/svcmux-agent (holder svcmux-abc) was last renewed never ago, more than twice its 15s duration: no agent is leading"},
		{"no lease is an error naming the lease from the agent's flags",
			[]string{"--leader-election-id=mine", "--leader-election-namespace=ops"}, nil,
			"SVCMUX104", "Lease ops/mine", "no Lease ops/mine: no agent replica has become leader, so none writes"},
		{"an agent without leader election needs no lease", []string{"--leader-elect=false"}, nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			in.Agents = []appsv1.Deployment{healthyAgent("v0.1.0", tt.args...)}
			in.Lease = tt.lease
			got := only(t, in, CheckLease).Findings
			if tt.code == "" {
				assert.Empty(t, got)
				return
			}
			if assert.Len(t, got, 1) {
				assert.Equal(t, tt.code, got[0].Code)
				assert.Equal(t, tt.object, got[0].Object)
				assert.Equal(t, tt.message, got[0].Message)
				assert.Equal(t, "kubectl -n svc-mux logs deployment/svcmux", got[0].Fix)
			}
		})
	}
}

func TestVersionSkew(t *testing.T) {
	tests := []struct {
		name, plugin, agent string
		want                []string
		skipped             []Skipped
	}{
		{"the same version is no finding", "v0.1.0", "0.1.0", []string{}, nil},
		{"a patch difference is no finding", "v0.1.3", "0.1.0", []string{}, nil},
		{"a minor difference is a warning", "v0.2.0", "0.1.0", []string{"SVCMUX106 Deployment svc-mux/svcmux"}, nil},
		{"a development plugin cannot be compared", "dev", "0.1.0", []string{},
			[]Skipped{{CheckVersion, `the plugin is a development build (version "dev")`}}},
		{"an agent without a version label cannot be compared", "v0.1.0", "", []string{},
			[]Skipped{{CheckVersion, "agent Deployment svc-mux/svcmux has no app.kubernetes.io/version label"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			in.PluginVersion = tt.plugin
			in.Agents = []appsv1.Deployment{healthyAgent(tt.agent)}
			r := only(t, in, CheckVersion)
			assert.Equal(t, tt.want, codes(r))
			assert.Equal(t, tt.skipped, r.Skipped)
		})
	}
	in := baseInput()
	in.PluginVersion = "v0.2.0"
	in.Agents = []appsv1.Deployment{healthyAgent("0.1.0")}
	assert.Equal(t, "the plugin is v0.2.0 and agent Deployment svc-mux/svcmux is 0.1.0: the plugin's predictions follow its own planner",
		only(t, in, CheckVersion).Findings[0].Message)
}

// chartRules are the chart's rbac.yaml rules.
var chartRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list", "watch", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"services/status"}, Verbs: []string{"patch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch", "create", "update", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"endpoints"}, Verbs: []string{"list", "watch", "create", "update", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch", "create", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list", "create", "patch"}},
}

var leaseRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"svcmux-agent"}, Verbs: []string{"get", "update"}},
}

func TestAgentRBAC(t *testing.T) {
	clusterRole := func(rules ...rbacv1.PolicyRule) []rbacv1.ClusterRole {
		return []rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "svcmux-svc-mux-role",
			Labels: map[string]string{"app.kubernetes.io/instance": "svcmux"}}, Rules: rules}}
	}
	role := []rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux-svc-mux-leader-election"}, Rules: leaseRules}}
	tests := []struct {
		name    string
		rbac    RBAC
		want    []Finding
		skipped []Skipped
	}{
		{"the chart's roles grant everything", RBAC{clusterRole(chartRules...), role}, []Finding{}, nil},
		{"a wildcard role grants everything", RBAC{clusterRole(rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}), nil},
			[]Finding{}, nil},
		{"no chart-labelled ClusterRole cannot be checked", RBAC{}, []Finding{},
			[]Skipped{{CheckRBAC, "no ClusterRole labelled app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux (RBAC not installed by the chart)"}}},
		{"a role without status and lease rights is an error listing each missing right",
			RBAC{clusterRole(chartRules[0], chartRules[2], chartRules[3], chartRules[4], chartRules[5]), nil}, []Finding{{
				Code: "SVCMUX107", Severity: SeverityError, Object: "ClusterRole svcmux-svc-mux-role",
				Message: "the agent's roles (ClusterRole svcmux-svc-mux-role) do not grant: patch services/status, create leases, get leases, update leases; those writes fail",
				Fix:     "helm upgrade svcmux deploy/helm/svcmux -n svc-mux --reuse-values", Docs: "docs/plugin/doctor.md#svcmux107"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			in.RBAC = tt.rbac
			r := only(t, in, CheckRBAC)
			assert.Equal(t, tt.want, r.Findings)
			assert.Equal(t, tt.skipped, r.Skipped)
		})
	}
}

func TestParseAgentConfigReadsTheChartsFlags(t *testing.T) {
	d := healthyAgent("0.1.0", "--api-prefix=x", "--leader-elect=true", "--leader-election-id=svcmux-agent",
		"--leader-election-lease-duration=20s", "--endpoints-mode=both")
	assert.Equal(t, AgentConfig{LeaderElect: true, LeaseNamespace: "svc-mux", LeaseName: "svcmux-agent",
		LeaseDuration: 20 * time.Second, EndpointsMode: "both"}, ParseAgentConfig(&d))
	bare := healthyAgent("0.1.0")
	assert.Equal(t, AgentConfig{LeaderElect: true, LeaseNamespace: "svc-mux", LeaseName: "svcmux-agent",
		LeaseDuration: 15 * time.Second, EndpointsMode: "slices"}, ParseAgentConfig(&bare), "the agent's defaults")
}
