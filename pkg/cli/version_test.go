package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nowakeai/svcmux/pkg/version"
)

func agentDeployment(v string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/version": v}
	sel, _ := metav1.ParseToLabelSelector(AgentSelector)
	for k, val := range sel.MatchLabels {
		labels[k] = val
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux", Labels: labels}}
}

func TestVersionNamesThePluginAndTheAgentItFinds(t *testing.T) {
	r := runPlugin(t, []runtime.Object{agentDeployment("v1.2.3")}, "version")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, "plugin: "+version.Version+" (commit "+version.Commit+")\nagent:  v1.2.3 (deployment svc-mux/svcmux)\n", r.Out)

	r = runPlugin(t, nil, "version", "-o", "json")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.JSONEq(t, `{"apiVersion": "svcmux.nowake.ai/v1alpha1", "kind": "Version",
		"plugin": {"version": "`+version.Version+`", "commit": "`+version.Commit+`"}, "agent": {"version": "", "found": false}}`, r.Out)
}

func TestVersionExitCodes(t *testing.T) {
	assert.Equal(t, ExitClean, runPlugin(t, nil, "version").Code, "no agent found is not an error")
	assert.Equal(t, ExitClean, runPlugin(t, nil, "version", "--client", "-o", "yaml").Code)
	assert.Equal(t, ExitCannotRun, runPlugin(t, nil, "version", "-o", "wide").Code)
	assert.Equal(t, ExitCannotRun, runPlugin(t, nil, "version", "extra").Code)
}
