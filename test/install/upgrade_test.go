package install

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/chart"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// TestAnSvcLbMuxReleaseUpgradesInPlace follows docs/install.md: a release of the Python
// controller's chart, upgraded to this chart with the same values file, keeps its
// Deployment (same name, same immutable selector), its mux (same object: the provider
// load balancer is not recreated) and loses only the debug UI; a rollback goes back.
func TestAnSvcLbMuxReleaseUpgradesInPlace(t *testing.T) {
	cp := controlplane.Get(t)
	client := cp.Client()
	ns := cp.Namespace(t)
	const rel, full = "legacy", "legacy-svc-mux"
	t.Cleanup(func() {
		_, _ = newUninstall(helmConfig(t, cp, ns)).Run(rel)
		// The kept mux would otherwise be reconciled by another test's agents while its
		// namespace is deleted.
		_ = client.CoreV1().Services(ns).Delete(context.Background(), "mux", metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoles().Delete(context.Background(), full+"-role", metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoleBindings().Delete(context.Background(), full+"-rolebinding", metav1.DeleteOptions{})
	})
	values, err := chart.ReadValues("../chart/testdata/svc-lb-mux-v0.1.2-values.yaml")
	require.NoError(t, err)

	python, err := loader.LoadDir("testdata/svc-lb-mux-chart")
	require.NoError(t, err)
	cfg := helmConfig(t, cp, ns)
	_, err = newInstall(cfg, rel, ns).RunWithContext(t.Context(), python, values)
	require.NoError(t, err, "install svc-lb-mux")
	before, err := client.AppsV1().Deployments(ns).Get(t.Context(), full, metav1.GetOptions{})
	require.NoError(t, err)
	muxBefore, err := client.CoreV1().Services(ns).Get(t.Context(), "mux", metav1.GetOptions{})
	require.NoError(t, err)
	_, err = client.CoreV1().Services(ns).Get(t.Context(), full, metav1.GetOptions{})
	require.NoError(t, err, "the Python chart's debug UI Service")

	ours, err := chart.Load()
	require.NoError(t, err)
	up := action.NewUpgrade(cfg)
	up.Namespace = ns
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = time.Minute
	_, err = up.RunWithContext(t.Context(), rel, ours, values)
	require.NoError(t, err, "helm upgrade to svcmux with the same values")

	after, err := client.AppsV1().Deployments(ns).Get(t.Context(), full, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, before.UID, after.UID, "the Deployment is updated in place, not replaced")
	assert.Equal(t, before.Spec.Selector, after.Spec.Selector)
	c := after.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "ghcr.io/nowakeai/svcmux-agent:0.1.0", c.Image)
	assert.Empty(t, c.Command)
	assert.Equal(t, "--api-prefix=svc-mux.nowake.ai", c.Args[0])
	assert.Equal(t, int32(1), *after.Spec.Replicas, "the values file's replicaCount")

	muxAfter, err := client.CoreV1().Services(ns).Get(t.Context(), "mux", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, muxBefore.UID, muxAfter.UID, "the mux is the same object")
	assert.Equal(t, muxBefore.Spec.Ports, muxAfter.Spec.Ports, "placeholder and its NodePort unchanged")
	for _, k := range []string{"helm.sh/resource-policy", "svc-mux.nowake.ai/multiplexer", "svc-mux.nowake.ai/port-range",
		"svc-mux.nowake.ai/max-ports", "cloud.google.com/l4-rbs"} {
		assert.Equal(t, muxBefore.Annotations[k], muxAfter.Annotations[k], k)
	}

	for _, gone := range []func() error{
		func() error {
			_, err := client.CoreV1().Services(ns).Get(t.Context(), full, metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().Secrets(ns).Get(t.Context(), full+"-debug-token", metav1.GetOptions{})
			return err
		},
	} {
		assert.True(t, apierrors.IsNotFound(gone()), "the debug UI's objects are removed")
	}
	role, err := client.RbacV1().ClusterRoles().Get(t.Context(), full+"-role", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"list", "watch", "patch"}, role.Rules[0].Verbs, "the ClusterRole is narrowed to the agent's writes")

	rb := action.NewRollback(cfg)
	rb.Version = 1
	rb.WaitStrategy = kube.HookOnlyStrategy
	rb.Timeout = time.Minute
	require.NoError(t, rb.Run(rel), "helm rollback to the svc-lb-mux revision")
	back, err := client.AppsV1().Deployments(ns).Get(t.Context(), full, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"kopf"}, back.Spec.Template.Spec.Containers[0].Command, "the Python controller again")
	muxBack, err := client.CoreV1().Services(ns).Get(t.Context(), "mux", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, muxBefore.UID, muxBack.UID)
}
