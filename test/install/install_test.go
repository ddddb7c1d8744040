package install

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/chart"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// The API server audits the service accounts' requests: the RBAC proof reads them.
func TestMain(m *testing.M) { controlplane.MainWith(m, controlplane.Options{AuditPolicy: auditPolicy}) }

const (
	release  = "svcmux"
	fullname = "svcmux-svc-mux" // <release>-<nameOverride "svc-mux">
	prefix   = "svc-mux.nowake.ai"
	wait     = 30 * time.Second
)

// restrictedNamespace creates the release namespace enforcing the restricted level.
func restrictedNamespace(t *testing.T, cp *controlplane.ControlPlane) string {
	t.Helper()
	ns, err := cp.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "svcmux-system-",
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		// t.Context() is cancelled by the time cleanups run.
		_ = cp.Client().CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

func leading(t *testing.T, a *agentrun.Agent) bool {
	t.Helper()
	v, err := a.Metric("svcmux_leader")
	require.NoError(t, err)
	return v == 1
}

func TestTheChartInstalledForRealRunsTheAgentAsItsServiceAccount(t *testing.T) {
	cp := controlplane.Get(t)
	client := cp.Client()
	ns := restrictedNamespace(t, cp)
	apps := cp.Namespace(t)

	cfg := helmConfig(t, cp, ns)
	ch, err := chart.Load()
	require.NoError(t, err)
	_, err = newInstall(cfg, release, ns).RunWithContext(t.Context(), ch, nil)
	require.NoError(t, err, "helm install")
	uninstalled := false
	t.Cleanup(func() {
		if !uninstalled {
			_, _ = newUninstall(helmConfig(t, cp, ns)).Run(release)
		}
		// Cluster-scoped objects outlive the namespace.
		_ = client.RbacV1().ClusterRoles().Delete(context.Background(), fullname+"-role", metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoleBindings().Delete(context.Background(), fullname+"-rolebinding", metav1.DeleteOptions{})
	})

	deploy, err := client.AppsV1().Deployments(ns).Get(t.Context(), fullname, metav1.GetOptions{})
	require.NoError(t, err)

	t.Run("the restricted namespace admits the chart's pod and refuses a root one", func(t *testing.T) {
		// No ReplicaSet controller runs here, so the test creates the Pod the Deployment
		// would, with a server-side dry run: admission (Pod Security included) runs in full.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: fullname + "-", Namespace: ns,
			Labels: deploy.Spec.Template.Labels}, Spec: *deploy.Spec.Template.Spec.DeepCopy()}
		_, err := client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		require.NoError(t, err)

		root := pod.DeepCopy()
		root.Spec.SecurityContext.RunAsUser = ptr.To(int64(0))
		root.Spec.Containers[0].SecurityContext.RunAsUser = ptr.To(int64(0))
		_, err = client.CoreV1().Pods(ns).Create(t.Context(), root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err), "%v", err)
		assert.Contains(t, err.Error(), `violates PodSecurity "restricted:latest": runAsUser=0`)
	})

	sa := fmt.Sprintf("system:serviceaccount:%s:%s", ns, fullname)
	t.Run("the service account may do exactly the agent's kinds of request", func(t *testing.T) {
		tests := []struct {
			verb, group, resource, sub, namespace, name string
			want                                        bool
		}{
			{"patch", "", "services", "", apps, "", true},
			{"patch", "", "services", "status", apps, "", true},
			{"watch", "discovery.k8s.io", "endpointslices", "", "", "", true},
			{"create", "", "configmaps", "", ns, "", true},
			{"create", "", "events", "", apps, "", true},
			{"update", "coordination.k8s.io", "leases", "", ns, "svcmux-agent", true},
			{"get", "", "services", "", apps, "", false},
			{"create", "", "services", "", apps, "", false},
			{"delete", "", "services", "", apps, "", false},
			{"get", "", "secrets", "", ns, "", false},
			{"list", "", "secrets", "", "", "", false},
			{"delete", "", "configmaps", "", ns, "", false},
			{"update", "coordination.k8s.io", "leases", "", ns, "someone-elses", false},
			{"create", "coordination.k8s.io", "leases", "", apps, "", false},
		}
		for _, tt := range tests {
			review, err := client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: sa,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: tt.verb, Group: tt.group, Resource: tt.resource,
						Subresource: tt.sub, Namespace: tt.namespace, Name: tt.name}},
			}, metav1.CreateOptions{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, review.Status.Allowed, "%s %s/%s %s in %q %q", tt.verb, tt.resource, tt.sub, tt.group, tt.namespace, tt.name)
		}
	})

	// The agent, twice, as the chart runs it: its args, POD_NAMESPACE from the downward
	// API (here: the environment it inherits), the ServiceAccount's token.
	kubeconfig := serviceAccountKubeconfig(t, cp, ns, fullname)
	t.Run("the agent's credentials are the service account's, with no extra group", func(t *testing.T) {
		rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		require.NoError(t, err)
		rc.UserAgent = testUserAgent
		saClient, err := kubernetes.NewForConfig(rc)
		require.NoError(t, err)
		who, err := saClient.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, sa, who.Status.UserInfo.Username)
		assert.ElementsMatch(t, []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}, who.Status.UserInfo.Groups)
	})
	// What the Python controller left behind: its Endpoints object beside the mux, which
	// the agent replaces with EndpointSlices and deletes (takeover).
	_, err = client.CoreV1().Endpoints(ns).Create(t.Context(), &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: "mux", Namespace: ns, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "svc-lb-mux", "app.kubernetes.io/component": "mux-endpoints"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Setenv("POD_NAMESPACE", ns)
	args := agentArgs(deploy.Spec.Template.Spec.Containers[0].Args)
	a1 := agentrun.Start(t, kubeconfig, args...)
	a2 := agentrun.Start(t, kubeconfig, args...)
	var leader, follower *agentrun.Agent
	controlplane.Eventually(t, wait, func() (bool, string) {
		l1, l2 := leading(t, a1), leading(t, a2)
		switch {
		case l1 && !l2:
			leader, follower = a1, a2
		case l2 && !l1:
			leader, follower = a2, a1
		default:
			return false, describe("svcmux_leader %v and %v", l1, l2)
		}
		return true, ""
	})

	node := cp.CreateNode(t, "install-"+strings.TrimPrefix(ns, "svcmux-system-"), "192.0.2.10")
	channel := func(name string, port int32, podIP string, annotations map[string]string) {
		pod := cp.CreatePod(t, apps, name, map[string]string{"app": name}, node.Name)
		cp.SetPodStatus(t, pod, podIP, true)
		_, err := client.CoreV1().Services(apps).Create(t.Context(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: apps, Annotations: annotations},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				// The class the chart's NOTES print for its default mux.
				LoadBalancerClass:             ptr.To(prefix + "/mux"),
				AllocateLoadBalancerNodePorts: ptr.To(false),
				Selector:                      map[string]string{"app": name},
				Ports:                         []corev1.ServicePort{{Name: "http", Port: port}}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	accepted := func(name, want string) {
		controlplane.Eventually(t, wait, func() (bool, string) {
			s, err := client.CoreV1().Services(apps).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			cond := "none"
			for _, c := range s.Status.Conditions {
				if c.Type == prefix+"/Accepted" {
					cond = string(c.Status) + " " + c.Reason
				}
			}
			return s.Annotations[prefix+"/ports"] == want && cond == "True Accepted",
				describe("ports %q, condition %s", s.Annotations[prefix+"/ports"], cond)
		})
	}

	t.Run("a channel of the chart's default mux is accepted and routed", func(t *testing.T) {
		channel("api", 8080, "10.244.0.10", nil)
		accepted("api", "http:8080->8080")
		controlplane.Eventually(t, wait, func() (bool, string) {
			mux, err := client.CoreV1().Services(ns).Get(t.Context(), "mux", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			var addrs []string
			for _, s := range cp.EndpointSlices(t, ns, "mux") {
				for _, e := range s.Endpoints {
					addrs = append(addrs, e.Addresses...)
				}
			}
			return len(mux.Spec.Ports) == 1 && mux.Spec.Ports[0].Port == 8080 && strings.Join(addrs, ",") == "10.244.0.10",
				describe("mux ports %v, endpoints %v", mux.Spec.Ports, addrs)
		})
		_, err := client.CoreV1().ConfigMaps(ns).Get(t.Context(), "mux-port-allocations", metav1.GetOptions{})
		assert.NoError(t, err, "the state ConfigMap is written in the release namespace")
		assert.Zero(t, follower.Writes(t), "the follower writes nothing")
	})

	t.Run("a stopped leader hands over and the other replica allocates an auto port", func(t *testing.T) {
		leader.Stop()
		controlplane.Eventually(t, wait, func() (bool, string) {
			return leading(t, follower), "the follower does not lead yet"
		})
		lease, err := client.CoordinationV1().Leases(ns).Get(t.Context(), "svcmux-agent", metav1.GetOptions{})
		require.NoError(t, err, "the Lease is in the release namespace")
		assert.NotEmpty(t, ptr.Deref(lease.Spec.HolderIdentity, ""))
		// auto: allocated from the chart's defaultLoadBalancer.portRange (20000-20099).
		channel("web", 9090, "10.244.0.11", map[string]string{prefix + "/external-ports": "http:auto"})
		accepted("web", "http:9090->20000")
	})

	t.Run("a backend turning unready and a channel deleted reach the mux endpoints", func(t *testing.T) {
		api, err := client.CoreV1().Pods(apps).Get(t.Context(), "api", metav1.GetOptions{})
		require.NoError(t, err)
		cp.SetPodStatus(t, api, "10.244.0.10", false)
		require.NoError(t, client.CoreV1().Services(apps).Delete(t.Context(), "web", metav1.DeleteOptions{}))
		controlplane.Eventually(t, wait, func() (bool, string) {
			var state []string
			for _, s := range cp.EndpointSlices(t, ns, "mux") {
				for _, e := range s.Endpoints {
					state = append(state, describe("%v ready=%v", e.Addresses, ptr.Deref(e.Conditions.Ready, false)))
				}
			}
			return strings.Join(state, ",") == "[10.244.0.10] ready=false", strings.Join(state, ",")
		})
	})

	t.Run("no request of the agent was refused by RBAC", func(t *testing.T) {
		for _, a := range []*agentrun.Agent{a1, a2} {
			log, err := os.ReadFile(a.LogPath)
			require.NoError(t, err)
			assert.NotContains(t, string(log), rbacDenied, a.LogPath)
		}
	})

	t.Run("the Python controller's Endpoints object is taken over", func(t *testing.T) {
		controlplane.Eventually(t, wait, func() (bool, string) {
			_, err := client.CoreV1().Endpoints(ns).Get(t.Context(), "mux", metav1.GetOptions{})
			return apierrors.IsNotFound(err), describe("Endpoints mux still there: %v", err)
		})
	})

	t.Run("the audit log shows every request granted and every grant used", func(t *testing.T) {
		follower.Stop()
		var roles [][]rbacv1.PolicyRule
		cr, err := client.RbacV1().ClusterRoles().Get(t.Context(), fullname+"-role", metav1.GetOptions{})
		require.NoError(t, err)
		role, err := client.RbacV1().Roles(ns).Get(t.Context(), fullname+"-leader-election", metav1.GetOptions{})
		require.NoError(t, err)
		roles = append(roles, cr.Rules, role.Rules)
		g := granted(roles...)
		u, err := readAudit(cp.AuditLogPath(), sa)
		require.NoError(t, err)
		// Grants this run cannot exercise, each with the situation that needs it.
		unusedWhy := map[access]string{
			{"create", "", "endpoints"}: "--endpoints-mode endpoints|both (this run: slices)",
			{"update", "", "endpoints"}: "--endpoints-mode endpoints|both (this run: slices)",
			// client-go's informers stream their initial state in a watch (WatchList) where
			// the API server offers it, as this one does; older servers are listed.
			{"list", "", "services"}:                       "informers list on API servers that do not stream the initial watch (WatchList)",
			{"list", "", "configmaps"}:                     "informers list on API servers that do not stream the initial watch (WatchList)",
			{"list", "", "endpoints"}:                      "informers list on API servers that do not stream the initial watch (WatchList)",
			{"list", "discovery.k8s.io", "endpointslices"}: "informers list on API servers that do not stream the initial watch (WatchList)",
			{"patch", "", "events"}:                        "the recorder aggregates an Event that repeats",
		}
		t.Logf("RBAC proof for %s (audit log %s):\n%s", sa, cp.AuditLogPath(), table(g, u, unusedWhy))
		assert.Empty(t, u.forbidden, "no request refused")
		assert.Empty(t, u.other, "no non-resource request")
		for a, n := range u.counts {
			assert.True(t, g[a], "used %d times but not granted: %s", n, a)
		}
		for a := range g {
			why, listed := unusedWhy[a]
			switch {
			case u.counts[a] == 0 && !listed:
				t.Errorf("granted but never used, and not listed with why: %s", a)
			case u.counts[a] > 0 && listed:
				t.Errorf("listed as unused (%s) but used %d times: %s", why, u.counts[a], a)
			}
		}
	})

	t.Run("helm uninstall leaves the default mux and its state", func(t *testing.T) {
		_, err := newUninstall(cfg).Run(release)
		require.NoError(t, err)
		uninstalled = true
		_, err = client.AppsV1().Deployments(ns).Get(t.Context(), fullname, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
		mux, err := client.CoreV1().Services(ns).Get(t.Context(), "mux", metav1.GetOptions{})
		require.NoError(t, err, "the mux is kept")
		require.Len(t, mux.Spec.Ports, 1, "with the port it served last")
		assert.Equal(t, int32(8080), mux.Spec.Ports[0].Port)
		_, err = client.CoreV1().ConfigMaps(ns).Get(t.Context(), "mux-port-allocations", metav1.GetOptions{})
		assert.NoError(t, err, "the state ConfigMap is kept")
	})
}
