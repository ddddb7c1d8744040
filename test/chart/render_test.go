package chart

import (
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/agent"
)

// pythonValues is the svc-lb-mux chart's own values file (testdata/README.md).
func pythonValues(t *testing.T) map[string]any {
	t.Helper()
	v, err := ReadValues("testdata/svc-lb-mux-v0.1.2-values.yaml")
	require.NoError(t, err)
	return v
}

// everythingOn turns on every optional part of the chart.
func everythingOn() map[string]any {
	return map[string]any{
		"priorityClassName": "system-cluster-critical",
		"metrics":           map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
		"networkPolicy": map[string]any{"enabled": true,
			"metricsFrom": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"name": "monitoring"}}}},
			"apiServer":   map[string]any{"cidrs": []any{"10.0.0.1/32"}}},
		"podDisruptionBudget": map[string]any{"minAvailable": 1},
		"agent": map[string]any{"dryRun": true, "endpointsMode": "both", "namespaceSelector": true,
			"leaderElection": map[string]any{"leaseDuration": "30s", "renewDeadline": "20s", "retryPeriod": "4s"},
			"extraArgs":      []any{"--log-level=debug"}},
	}
}

const serviceMonitorAPI = "monitoring.coreos.com/v1/ServiceMonitor"

func TestRenderProducesExactlyTheObjects(t *testing.T) {
	agentObjects := []string{
		"ClusterRole/svcmux-svc-mux-role", "ClusterRoleBinding/svcmux-svc-mux-rolebinding",
		"Deployment/svcmux-svc-mux",
	}
	tests := []struct {
		name   string
		values func(t *testing.T) map[string]any
		apis   []string
		want   []string
	}{
		{"default values render the agent, its RBAC, the metrics Service, the PDB and the default mux",
			func(*testing.T) map[string]any { return nil }, nil,
			append(agentObjects, "PodDisruptionBudget/svcmux-svc-mux", "Role/svcmux-svc-mux-leader-election",
				"RoleBinding/svcmux-svc-mux-leader-election", "Service/mux", "Service/svcmux-svc-mux-metrics",
				"ServiceAccount/svcmux-svc-mux")},
		{"the svc-lb-mux values file renders the same objects and no debug UI, Secret or Ingress",
			pythonValues, nil,
			append(agentObjects, "PodDisruptionBudget/svcmux-svc-mux", "Role/svcmux-svc-mux-leader-election",
				"RoleBinding/svcmux-svc-mux-leader-election", "Service/mux", "Service/svcmux-svc-mux-metrics",
				"ServiceAccount/svcmux-svc-mux")},
		{"every optional part on adds the ServiceMonitor and the NetworkPolicy",
			func(*testing.T) map[string]any { return everythingOn() }, []string{serviceMonitorAPI},
			append(agentObjects, "NetworkPolicy/svcmux-svc-mux", "PodDisruptionBudget/svcmux-svc-mux",
				"Role/svcmux-svc-mux-leader-election", "RoleBinding/svcmux-svc-mux-leader-election", "Service/mux",
				"Service/svcmux-svc-mux-metrics", "ServiceAccount/svcmux-svc-mux", "ServiceMonitor/svcmux-svc-mux")},
		{"everything off leaves only the agent and its RBAC",
			func(*testing.T) map[string]any {
				return map[string]any{"defaultLoadBalancer": map[string]any{"create": false},
					"serviceAccount":      map[string]any{"create": false, "name": "agent"},
					"metrics":             map[string]any{"service": map[string]any{"enabled": false}},
					"podDisruptionBudget": map[string]any{"enabled": false}}
			}, nil,
			append(agentObjects, "Role/svcmux-svc-mux-leader-election", "RoleBinding/svcmux-svc-mux-leader-election")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{ExtraAPIs: tt.apis})
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Kinds())
		})
	}
}

func deployment(t *testing.T, r Rendered) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(r.Find("Deployment", "svcmux-svc-mux").Object, &d))
	return &d
}

func TestTheAgentRunsWithFlagsItKnows(t *testing.T) {
	tests := []struct {
		name   string
		values func(t *testing.T) map[string]any
		want   []string
	}{
		{"default values give every flag its documented default and the release namespace",
			func(*testing.T) map[string]any { return nil },
			[]string{"--api-prefix=svc-mux.nowake.ai", "--default-mux-namespace=svc-mux", "--endpoints-mode=slices",
				"--dry-run=false", "--leader-elect=true", "--leader-election-id=svcmux-agent",
				"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--kube-api-qps=1000",
				"--kube-api-burst=2000", "--workers=8", "--channel-write-concurrency=32", "--coalesce-window=100ms", "--namespace-selector=false",
				"--log-level=info", "--log-format=json"}},
		{"the Python controller's DEFAULT_MUX_NAMESPACE and DRYRUN_MODE keep their meaning",
			func(*testing.T) map[string]any {
				return map[string]any{"api": map[string]any{"prefix": "lb.example.com"}, "env": []any{
					map[string]any{"name": "DEFAULT_MUX_NAMESPACE", "value": "muxes"},
					map[string]any{"name": "DRYRUN_MODE", "value": "Yes"}}}
			},
			[]string{"--api-prefix=lb.example.com", "--default-mux-namespace=muxes", "--endpoints-mode=slices",
				"--dry-run=true", "--leader-elect=true", "--leader-election-id=svcmux-agent",
				"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--kube-api-qps=1000",
				"--kube-api-burst=2000", "--workers=8", "--channel-write-concurrency=32", "--coalesce-window=100ms", "--namespace-selector=false",
				"--log-level=info", "--log-format=json"}},
		{"agent values become flags, extra arguments last",
			func(*testing.T) map[string]any { return everythingOn() },
			[]string{"--api-prefix=svc-mux.nowake.ai", "--default-mux-namespace=svc-mux", "--endpoints-mode=both",
				"--dry-run=true", "--leader-elect=true", "--leader-election-id=svcmux-agent",
				"--leader-election-lease-duration=30s", "--leader-election-renew-deadline=20s",
				"--leader-election-retry-period=4s", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
				"--kube-api-qps=1000", "--kube-api-burst=2000", "--workers=8", "--channel-write-concurrency=32",
				"--coalesce-window=100ms", "--namespace-selector=true", "--log-level=info", "--log-format=json", "--log-level=debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{ExtraAPIs: []string{serviceMonitorAPI}})
			require.NoError(t, err)
			c := deployment(t, r).Spec.Template.Spec.Containers[0]
			assert.Equal(t, tt.want, c.Args)
			assert.Empty(t, c.Command, "the image's entrypoint is the agent")

			// The agent's own parser accepts them and the result validates.
			cfg := agent.DefaultConfig()
			fs := pflag.NewFlagSet("svcmux-agent", pflag.ContinueOnError)
			cfg.AddFlags(fs)
			require.NoError(t, fs.Parse(c.Args))
			cfg.Complete(func(k string) string { return map[string]string{"POD_NAMESPACE": "svc-mux"}[k] },
				func(string) ([]byte, error) { return nil, assert.AnError })
			require.NoError(t, cfg.Validate())
			assert.Equal(t, "svc-mux", cfg.LeaderElectionNamespace, "the Lease is where the Role grants it")
		})
	}
}

func TestThePodKnowsItsNamespaceAndProbesTheHealthPort(t *testing.T) {
	r, err := Render(nil, Options{})
	require.NoError(t, err)
	c := deployment(t, r).Spec.Template.Spec.Containers[0]
	require.GreaterOrEqual(t, len(c.Env), 1)
	assert.Equal(t, corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}, c.Env[0])
	assert.Equal(t, []corev1.ContainerPort{
		{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}}, c.Ports)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/healthz", c.StartupProbe.HTTPGet.Path)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		assert.Equal(t, "health", p.HTTPGet.Port.String())
	}
	assert.Equal(t, "ghcr.io/nowakeai/svcmux-agent:0.1.0", c.Image)
	spec := deployment(t, r).Spec
	assert.Equal(t, int32(2), *spec.Replicas)
	require.Len(t, spec.Template.Spec.TopologySpreadConstraints, 2)
	assert.Equal(t, "topology.kubernetes.io/zone", spec.Template.Spec.TopologySpreadConstraints[0].TopologyKey)
}

func TestTheDefaultMuxIsThePythonChartsMux(t *testing.T) {
	tests := []struct {
		name            string
		values          func(t *testing.T) map[string]any
		wantAnnotations map[string]string
	}{
		{"default values make the annotated, kept mux with the GKE default",
			func(*testing.T) map[string]any { return nil },
			map[string]string{
				"helm.sh/resource-policy":       "keep",
				"svc-mux.nowake.ai/multiplexer": "true",
				"svc-mux.nowake.ai/port-range":  "20000-20099",
				"svc-mux.nowake.ai/max-ports":   "100",
				"cloud.google.com/l4-rbs":       "enabled",
			}},
		{"a prefix, a state ConfigMap name and empty annotation values dropped",
			func(*testing.T) map[string]any {
				return map[string]any{"api": map[string]any{"prefix": "lb.example.com"},
					"defaultLoadBalancer": map[string]any{"allocationConfigMapName": "mux-state", "maxPorts": nil,
						"annotations": map[string]any{"cloud.google.com/l4-rbs": "", "team": "net"}}}
			},
			map[string]string{
				"helm.sh/resource-policy":             "keep",
				"lb.example.com/multiplexer":          "true",
				"lb.example.com/port-range":           "20000-20099",
				"lb.example.com/allocation-configmap": "mux-state",
				"team":                                "net",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{})
			require.NoError(t, err)
			var svc corev1.Service
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(r.Find("Service", "mux").Object, &svc))
			assert.Equal(t, tt.wantAnnotations, svc.Annotations)
			assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
			assert.Nil(t, svc.Spec.Selector, "the agent writes the mux endpoints")
			assert.Equal(t, []corev1.ServicePort{{Name: "placeholder", Protocol: corev1.ProtocolTCP, Port: 101}}, svc.Spec.Ports)
			assert.Equal(t, true, *svc.Spec.AllocateLoadBalancerNodePorts)
			assert.Empty(t, svc.Namespace, "the release namespace, as in the Python chart")
		})
	}
}

func TestNotesNameTheClassAndEveryIgnoredValue(t *testing.T) {
	tests := []struct {
		name      string
		values    func(t *testing.T) map[string]any
		namespace string
		want      []string
		notWant   []string
	}{
		{"default values print the short class and ignore nothing",
			func(*testing.T) map[string]any { return nil }, "svc-mux",
			[]string{"  loadBalancerClass: svc-mux.nowake.ai/mux\n"},
			[]string{"Ignored values", "replicaCount is 1", "is the svc-lb-mux (Python) image"}},
		{"a default mux namespace elsewhere prints the class with the release namespace",
			func(*testing.T) map[string]any {
				return map[string]any{"agent": map[string]any{"defaultMuxNamespace": "muxes"}}
			}, "svc-mux",
			[]string{"  loadBalancerClass: svc-mux.nowake.ai/mux.svc-mux\n"}, nil},
		{"the svc-lb-mux values file names each legacy value it sets, the image and the one replica",
			pythonValues, "svc-mux",
			[]string{
				"image.repository ghcr.io/nowakeai/svc-lb-mux is the svc-lb-mux (Python) image: using ghcr.io/nowakeai/svcmux-agent:0.1.0 instead.\n",
				"replicaCount is 1: one replica",
				"Ignored values (they configured svc-lb-mux and mean nothing to svcmux):\n" +
					"  - service.healthPort\n  - service.port\n  - service.type\n" +
					"  - debugWeb.actions.enabled\n  - debugWeb.auth.enabled\n  - debugWeb.auth.existingSecretKey\n" +
					"  - debugWeb.enabled\n  - debugWeb.ingress.enabled\n  - debugWeb.ingress.hosts\n" +
					"  - command\n  - args\n",
			}, nil},
		{"an older chart's api.legacyPrefixes is named too",
			func(*testing.T) map[string]any {
				return map[string]any{"api": map[string]any{"legacyPrefixes": []any{"lb4-multiplexer.altlayer.io"}}}
			}, "svc-mux",
			[]string{"Ignored values (they configured svc-lb-mux and mean nothing to svcmux):\n  - api.legacyPrefixes\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(tt.values(t), Options{Namespace: tt.namespace})
			require.NoError(t, err)
			for _, w := range tt.want {
				assert.Contains(t, r.Notes, w)
			}
			for _, w := range tt.notWant {
				assert.NotContains(t, r.Notes, w)
			}
		})
	}
}

// nested reads a string at a path of an unstructured object.
func nested(t *testing.T, u *unstructured.Unstructured, path ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(u.Object, path...)
	require.NoError(t, err)
	return s
}

func TestTheServiceMonitorScrapesTheMetricsService(t *testing.T) {
	r, err := Render(everythingOn(), Options{ExtraAPIs: []string{serviceMonitorAPI}})
	require.NoError(t, err)
	sm := r.Find("ServiceMonitor", "svcmux-svc-mux")
	require.NotNil(t, sm)
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	assert.Equal(t, []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "30s"}}, eps)
	assert.Equal(t, "prom", nested(t, sm, "metadata", "labels", "release"))
	ports, _, _ := unstructured.NestedSlice(r.Find("Service", "svcmux-svc-mux-metrics").Object, "spec", "ports")
	assert.Equal(t, []any{map[string]any{"name": "metrics", "port": float64(8080), "targetPort": "metrics", "protocol": "TCP"}}, ports)
}

func TestTheNetworkPolicyLetsOnlyTheAPIServerOutAndScrapesAndProbesIn(t *testing.T) {
	r, err := Render(everythingOn(), Options{ExtraAPIs: []string{serviceMonitorAPI}})
	require.NoError(t, err)
	var np networkingv1.NetworkPolicy
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(r.Find("NetworkPolicy", "svcmux-svc-mux").Object, &np))
	tcp := corev1.ProtocolTCP
	port := func(p int) *intstr.IntOrString { v := intstr.FromInt(p); return &v }
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "svc-mux", "app.kubernetes.io/instance": "svcmux"}, np.Spec.PodSelector.MatchLabels)
	assert.Equal(t, []networkingv1.NetworkPolicyIngressRule{
		{Ports: []networkingv1.NetworkPolicyPort{{Port: port(8080), Protocol: &tcp}},
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "monitoring"}}}}},
		{Ports: []networkingv1.NetworkPolicyPort{{Port: port(8081), Protocol: &tcp}}},
	}, np.Spec.Ingress)
	assert.Equal(t, []networkingv1.NetworkPolicyEgressRule{
		{Ports: []networkingv1.NetworkPolicyPort{{Port: port(443), Protocol: &tcp}, {Port: port(6443), Protocol: &tcp}},
			To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/32"}}}},
	}, np.Spec.Egress)

	var pdb policyv1.PodDisruptionBudget
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(r.Find("PodDisruptionBudget", "svcmux-svc-mux").Object, &pdb))
	assert.Equal(t, "1", pdb.Spec.MinAvailable.String(), "minAvailable wins when set")
	assert.Nil(t, pdb.Spec.MaxUnavailable)
	assert.Equal(t, "system-cluster-critical", deployment(t, r).Spec.Template.Spec.PriorityClassName)
}
