package plugin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/chart"
	"github.com/nowakeai/svcmux/test/world"
)

// doctorDoc is `kubectl svcmux doctor -o json` as SPEC §8 states it.
type doctorDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Findings   []struct {
		Code     string `json:"code"`
		Severity string `json:"severity"`
		Object   string `json:"object"`
		Message  string `json:"message"`
		Fix      string `json:"fix"`
	} `json:"findings"`
	Skipped []struct {
		Check string `json:"check"`
		Why   string `json:"why"`
	} `json:"skipped"`
}

// codes is "CODE object" per finding.
func (d doctorDoc) codes() map[string]bool {
	out := map[string]bool{}
	for _, f := range d.Findings {
		out[f.Code+" "+f.Object] = true
	}
	return out
}

// installChartAgent installs what doctor reads of the chart, rendered from
// deploy/helm/svcmux with Helm's SDK into the World's namespace: the agent
// Deployment (its real labels and leader-election args) and its ClusterRole and
// Role. No kube-controller-manager here runs Deployments, so the Deployment's
// status is written ready by hand; the real agent runs out of process with the
// same Lease. Everything is deleted when the test ends: the ClusterRole is
// cluster-scoped, and the next test's "agent absent" must not see a Deployment of
// a namespace still being deleted.
func installChartAgent(t *testing.T, w *world.World) {
	t.Helper()
	release := "svcmux-" + w.Namespace[len(w.Namespace)-5:]
	r, err := chart.Render(map[string]any{"defaultLoadBalancer": map[string]any{"create": false}},
		chart.Options{Release: release, Namespace: w.Namespace})
	if err != nil {
		t.Fatalf("render the chart: %v", err)
	}
	ctx := w.Context()
	for _, u := range r.Objects {
		var err error
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err == nil {
				err = createReadyDeployment(t, w, &d)
			}
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cr); err == nil {
				_, err = w.Client.RbacV1().ClusterRoles().Create(ctx, &cr, metav1.CreateOptions{})
				t.Cleanup(func() {
					_ = w.Client.RbacV1().ClusterRoles().Delete(context.Background(), cr.Name, metav1.DeleteOptions{})
				})
			}
		case "Role":
			var role rbacv1.Role
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role); err == nil {
				_, err = w.Client.RbacV1().Roles(w.Namespace).Create(ctx, &role, metav1.CreateOptions{})
			}
		}
		if err != nil {
			t.Fatalf("install %s/%s from the chart: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

func createReadyDeployment(t *testing.T, w *world.World, d *appsv1.Deployment) error {
	deployments := w.Client.AppsV1().Deployments(w.Namespace)
	created, err := deployments.Create(w.Context(), d, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// Cleanups run after t.Context() is cancelled: they need their own.
	t.Cleanup(func() { _ = deployments.Delete(context.Background(), d.Name, metav1.DeleteOptions{}) })
	n := *created.Spec.Replicas
	created.Status = appsv1.DeploymentStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, UpdatedReplicas: n}
	_, err = deployments.UpdateStatus(w.Context(), created, metav1.UpdateOptions{})
	return err
}

// quietChannel is a channel as the docs ask: allocateLoadBalancerNodePorts false.
func quietChannel(w *world.World, name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	svc := w.ChannelObject(name, mux, ann, ports...)
	svc.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
	return w.CreateService(svc)
}

func doctor(t *testing.T, w *world.World, wantExit int, args ...string) doctorDoc {
	t.Helper()
	var doc doctorDoc
	res := w.PluginJSON(&doc, wantExit, append([]string{"doctor", "-n", w.Namespace, "-o", "json"}, args...)...)
	if doc.Kind != "DoctorReport" || doc.APIVersion != "svcmux.nowake.ai/v1alpha1" {
		t.Errorf("document is %s %s, want svcmux.nowake.ai/v1alpha1 DoctorReport\n%s", doc.APIVersion, doc.Kind, res)
	}
	return doc
}

func TestDoctorOnACleanClusterExitsZeroWithNoWarning(t *testing.T) {
	w := world.New(t)
	installChartAgent(t, w)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20009"})
	quietChannel(w, "api", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent("--leader-elect=true", "--leader-election-namespace="+w.Namespace, "--leader-election-id=svcmux-agent")
	w.WaitAccepted("api", "http:8080->8080")
	quietChannel(w, "web", "mux", w.ExternalPorts("https:auto"), world.TCP("https", 443))
	w.WaitAccepted("web", "https:443->20000")
	w.AwaitPass(a, "mux")

	doc := doctor(t, w, 0, "--fail-on", "warning")
	for _, f := range doc.Findings {
		t.Errorf("finding on a clean cluster: %s %s %s: %s", f.Code, f.Severity, f.Object, f.Message)
	}
	// The chart's own roles were read and judged; only the dev build's version is not comparable.
	if len(doc.Skipped) != 1 || doc.Skipped[0].Check != "version skew" {
		t.Errorf("skipped %+v, want only the version skew of a development build", doc.Skipped)
	}
	res := w.Plugin("doctor", "-n", w.Namespace)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "No findings") {
		t.Errorf("table: want exit 0 and \"No findings\"\n%s", res)
	}

	// A channel that wastes NodePorts is a warning: exit 0 by default, 1 with --fail-on warning.
	w.CreateChannel("wasteful", "mux", nil, world.TCP("http", 9090))
	w.WaitAccepted("wasteful", "http:9090->9090")
	w.AwaitPass(a, "mux")
	doc = doctor(t, w, 0)
	if !doc.codes()["SVCMUX605 Service "+w.Ref("wasteful")] {
		t.Fatalf("want SVCMUX605 on %s, got %v", w.Ref("wasteful"), doc.codes())
	}
	doc = doctor(t, w, 1, "--fail-on", "warning")

	// The fix it prints is the whole fix: applied as written, the NodePort is released.
	var fix string
	for _, f := range doc.Findings {
		if f.Code == "SVCMUX605" {
			fix = f.Fix
		}
	}
	_, patch, ok := strings.Cut(fix, "--type=json -p '")
	if !ok {
		t.Fatalf("SVCMUX605 fix is not a JSON patch: %s", fix)
	}
	svc := w.PatchService("wasteful", "kubectl-patch", types.JSONPatchType, strings.TrimSuffix(patch, "'"))
	if np := svc.Spec.Ports[0].NodePort; np != 0 {
		t.Errorf("after the fix %s still holds NodePort %d", w.Ref("wasteful"), np)
	}
	w.AwaitPass(a, "mux")
	doctor(t, w, 0, "--fail-on", "warning")
}

func TestDoctorNamesEachSeededFault(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	quietChannel(w, "api", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.AwaitPass(a, "mux")
	a.Stop() // from here on nothing repairs what the test breaks

	// Placeholder drift: a GitOps tool puts the manifest's ports back.
	w.UpdateService("mux", world.ManagerArgoCD, func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
	})
	w.CreateMux("selmux", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} })
	w.CreateMux("badrange", map[string]string{w.Key("port-range"): "20099-20000"})
	w.CreateMux("corrupt", nil)
	seedState(t, w, "corrupt", "{")
	w.CreateChannel("wasteful", "mux", nil, world.TCP("http", 9090))
	w.CreateMux("gke", map[string]string{"cloud.google.com/l4-rbs": "enabled"})
	var many []corev1.ServicePort
	for i := 0; i < 101; i++ {
		many = append(many, world.TCP(fmt.Sprintf("p%d", i), int32(10000+i)))
	}
	quietChannel(w, "big", "gke", nil, many...)
	held := w.ChannelObject("held", "mux", nil, world.TCP("http", 7070))
	held.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
	held.Finalizers = []string{w.Key("finalizer")}
	w.CreateService(held)
	t.Cleanup(func() { // or the namespace never goes away
		_, err := w.Client.CoreV1().Services(w.Namespace).Patch(context.Background(), "held", types.JSONPatchType,
			[]byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{})
		if err != nil {
			t.Errorf("remove the finalizer of %s: %v", w.Ref("held"), err)
		}
	})
	legacy := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: "mux", Labels: map[string]string{
		"app.kubernetes.io/managed-by": "svc-lb-mux", "app.kubernetes.io/component": "mux-endpoints"}}}
	if _, err := w.Client.CoreV1().Endpoints(w.Namespace).Create(w.Context(), legacy, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create svc-lb-mux's Endpoints: %v", err)
	}

	want := []string{
		"SVCMUX101 cluster",                                        // agent absent
		"SVCMUX201 Service " + w.Ref("selmux"),                     // mux with a selector
		"SVCMUX203 Service " + w.Ref("badrange"),                   // invalid range
		"SVCMUX205 Service " + w.Ref("mux"),                        // placeholder drift
		"SVCMUX401 ConfigMap " + w.Ref("corrupt-port-allocations"), // corrupt state
		"SVCMUX601 Service " + w.Ref("gke"),                        // GKE cap exceeded
		"SVCMUX605 Service " + w.Ref("wasteful"),                   // NodePort-wasting channel
		"SVCMUX701 Service " + w.Ref("held"),                       // leftover finalizer
		"SVCMUX702 Endpoints " + w.Ref("mux"),                      // leftover Python Endpoints
	}
	doc := doctor(t, w, 1)
	got := doc.codes()
	for _, c := range want {
		if !got[c] {
			t.Errorf("missing %s; got %v", c, got)
		}
	}
	for _, f := range doc.Findings {
		if f.Code == "SVCMUX205" && f.Object == "Service "+w.Ref("mux") && !strings.Contains(f.Message, "spec.ports (live: the placeholder)") {
			t.Errorf("SVCMUX205 should name the placeholder: %s", f.Message)
		}
	}
	res := w.Plugin("doctor", "-n", w.Namespace)
	if res.ExitCode != 1 || !strings.Contains(res.Stdout, "SVCMUX201 ERROR Service "+w.Ref("selmux")+"\n") {
		t.Errorf("table: want exit 1 and the SVCMUX201 block\n%s", res)
	}

	// The agent's Deployment is back but its Lease was last renewed an hour ago.
	installChartAgent(t, w)
	seedLease(t, w, time.Now().Add(-time.Hour))
	got = doctor(t, w, 1).codes()
	if !got["SVCMUX105 Lease "+w.Namespace+"/svcmux-agent"] || got["SVCMUX101 cluster"] {
		t.Errorf("want SVCMUX105 on the stale Lease and no SVCMUX101; got %v", got)
	}
}

func seedState(t *testing.T, w *world.World, mux, raw string) {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: world.StateName(mux), Labels: map[string]string{
			"app.kubernetes.io/name": "svc-lb-mux", "app.kubernetes.io/component": "mux-state"}},
		Data: map[string]string{"allocations.json": raw},
	}
	if _, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Create(w.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create state of %s: %v", mux, err)
	}
}

func seedLease(t *testing.T, w *world.World, renewed time.Time) {
	t.Helper()
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: "svcmux-agent"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: world.Ptr("svcmux-gone"), LeaseDurationSeconds: world.Ptr(int32(15)),
			RenewTime: world.Ptr(metav1.NewMicroTime(renewed))},
	}
	if _, err := w.Client.CoordinationV1().Leases(w.Namespace).Create(w.Context(), l, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create lease: %v", err)
	}
}

// grantReader makes a user who may read what doctor reads except what is left
// out, bound cluster-wide, and waits until the API server's authorizer agrees.
func grantReader(t *testing.T, w *world.World, user string, rules []rbacv1.PolicyRule) {
	t.Helper()
	ctx := w.Context()
	rbac := w.Client.RbacV1()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoles().Delete(context.Background(), user, metav1.DeleteOptions{}) })
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create binding: %v", err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoleBindings().Delete(context.Background(), user, metav1.DeleteOptions{}) })
	cfg := w.CP.Config()
	cfg.Impersonate.UserName = user
	as, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Poll(0, func() (bool, string, error) {
		_, err := as.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, fmt.Sprintf("list services as %s: %v", user, err), nil
	})
	if err != nil {
		t.Fatalf("the binding of %s never took effect: %v", user, err)
	}
}

func TestDoctorReportsAForbiddenReadAsCouldNotCheck(t *testing.T) {
	w := world.New(t)
	w.CreateMux("selmux", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} })
	user := "doctor-" + w.Namespace[len(w.Namespace)-5:]
	list := []string{"list"}
	grantReader(t, w, user, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "endpoints"}, Verbs: list},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: list},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: list},
		// No configmaps, no clusterroles: those checks are skipped, the rest run.
	})

	doc := doctor(t, w, 1, "--as="+user)
	got := doc.codes()
	if !got["SVCMUX201 Service "+w.Ref("selmux")] || !got["SVCMUX101 cluster"] {
		t.Errorf("want SVCMUX101 and SVCMUX201 from the reads that were allowed; got %v", got)
	}
	skipped := map[string]string{}
	for _, s := range doc.Skipped {
		skipped[s.Check] = s.Why
	}
	wantWhy := map[string]string{
		"state health": `could not list configmaps: configmaps is forbidden: User "` + user + `" cannot list resource "configmaps" in API group "" at the cluster scope`,
		"agent RBAC": `could not list clusterroles: clusterroles.rbac.authorization.k8s.io is forbidden: User "` + user +
			`" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`,
	}
	for check, why := range wantWhy {
		if skipped[check] != why {
			t.Errorf("skipped %q: %q, want %q", check, skipped[check], why)
		}
	}
	res := w.Plugin("doctor", "-n", w.Namespace, "--as="+user)
	if res.ExitCode != 1 || !strings.Contains(res.Stdout, "could not check state health: could not list configmaps: configmaps is forbidden") {
		t.Errorf("table: want exit 1 and the skipped state check\n%s", res)
	}

	// A user who may read nothing: doctor still reports, then exits 2 (nothing judged).
	res = w.Plugin("doctor", "-n", w.Namespace, "--as=nobody-"+user)
	if res.ExitCode != 2 || !strings.Contains(res.Stdout, "could not check mux validity: could not list services: services is forbidden") ||
		!strings.Contains(res.Stderr, "could not check muxes and channels") {
		t.Errorf("want exit 2 with the skipped checks listed\n%s", res)
	}
}
