package controlplane

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// TestFinalizer holds Pods in Terminating (see MarkTerminating).
const TestFinalizer = "svc-mux.nowake.ai/e2e-hold"

// cleanupCtx is for t.Cleanup functions: t.Context() is already cancelled
// by the time they run.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace creates a namespace named after the test (plus a random suffix)
// and deletes it, with everything in it, when the test ends.
func (cp *ControlPlane) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	ns, err := cp.client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + base + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		// No kubelet will ever confirm a graceful pod deletion, and the
		// namespace controller deletes gracefully, so pods would keep the
		// namespace Terminating forever: drop our finalizers and force-delete.
		pods, err := cp.client.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				cp.forceDeletePod(ctx, &pods.Items[i])
			}
		}
		err = cp.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// CreateNode creates a Ready Node with an InternalIP, deleted when the test
// ends. The endpointslice controller skips pods whose spec.nodeName has no
// Node, so every pod needs one.
func (cp *ControlPlane) CreateNode(t testing.TB, name, internalIP string) *corev1.Node {
	t.Helper()
	node, err := cp.client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		err := cp.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting node %s: %v", name, err)
		}
	})
	// Status is ignored on create; write it as a kubelet would.
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: internalIP},
		{Type: corev1.NodeHostName, Address: name},
	}
	node.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	node, err = cp.client.CoreV1().Nodes().UpdateStatus(t.Context(), node, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("writing status of node %s: %v", name, err)
	}
	return node
}

// CreatePod creates a Pod bound to nodeName (no scheduler runs) with one
// container exposing ports; give ports names to test named targetPorts. The
// pod has no IP and is not ready until SetPodStatus.
func (cp *ControlPlane) CreatePod(t testing.TB, ns, name string, labels map[string]string, nodeName string, ports ...corev1.ContainerPort) *corev1.Pod {
	t.Helper()
	pod, err := cp.client.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName: nodeName,
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "svcmux.invalid/never-pulled", // no kubelet runs it
				Ports: ports,
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	return pod
}

// SetPodStatus plays the kubelet: the pod is Running with the given IP
// (none if ip is ""), and its Ready and ContainersReady conditions are ready.
func (cp *ControlPlane) SetPodStatus(t testing.TB, pod *corev1.Pod, ip string, ready bool) *corev1.Pod {
	t.Helper()
	pods := cp.client.CoreV1().Pods(pod.Namespace)
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(t.Context(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		SetRunningStatus(cur, ip, "", ready, metav1.Now())
		out, err = pods.UpdateStatus(t.Context(), cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing status of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return out
}

// SetRunningStatus writes into pod the status a kubelet reports for a running
// pod: phase Running, the pod IP (none if ""), the host IP (none if ""), and its
// Ready and ContainersReady conditions and container statuses set to ready.
func SetRunningStatus(pod *corev1.Pod, ip, hostIP string, ready bool, now metav1.Time) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP, pod.Status.PodIPs = ip, nil
	if ip != "" {
		pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if hostIP != "" {
		pod.Status.HostIP, pod.Status.HostIPs = hostIP, []corev1.HostIP{{IP: hostIP}}
	}
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	cond := func(typ corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: s, LastTransitionTime: now}
	}
	pod.Status.Conditions = []corev1.PodCondition{
		cond(corev1.PodScheduled, corev1.ConditionTrue),
		cond(corev1.PodInitialized, corev1.ConditionTrue),
		cond(corev1.ContainersReady, status),
		cond(corev1.PodReady, status),
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: ready, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// MarkTerminating deletes the pod while TestFinalizer holds it, so it stays
// with a deletionTimestamp: the endpointslice controller then publishes it as
// a terminating endpoint (serving as per its Ready condition). The pod is
// force-deleted when the test ends.
func (cp *ControlPlane) MarkTerminating(t testing.TB, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	pods := cp.client.CoreV1().Pods(pod.Namespace)
	patch := []byte(`{"metadata":{"finalizers":["` + TestFinalizer + `"]}}`)
	if _, err := pods.Patch(t.Context(), pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("adding finalizer to pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		cp.forceDeletePod(ctx, pod)
	})
	grace := int64(30) // graceful, as kubectl delete would do
	if err := pods.Delete(t.Context(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatalf("deleting pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	out, err := pods.Get(t.Context(), pod.Name, metav1.GetOptions{})
	if err != nil || out.DeletionTimestamp == nil {
		t.Fatalf("pod %s/%s not terminating after delete: %v", pod.Namespace, pod.Name, err)
	}
	return out
}

// forceDeletePod removes our finalizer and deletes the pod with no grace.
func (cp *ControlPlane) forceDeletePod(ctx context.Context, pod *corev1.Pod) {
	pods := cp.client.CoreV1().Pods(pod.Namespace)
	_, _ = pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	zero := int64(0)
	_ = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

// SetLoadBalancerIngressE plays the cloud provider: it sets Service
// namespace/name's status.loadBalancer.ingress to addrs (IPs, or hostnames
// otherwise), retrying on conflicts.
func (cp *ControlPlane) SetLoadBalancerIngressE(ctx context.Context, namespace, name string, addrs ...string) (*corev1.Service, error) {
	ingress := make([]corev1.LoadBalancerIngress, 0, len(addrs))
	for _, a := range addrs {
		if net.ParseIP(a) != nil {
			ingress = append(ingress, corev1.LoadBalancerIngress{IP: a})
		} else {
			ingress = append(ingress, corev1.LoadBalancerIngress{Hostname: a})
		}
	}
	services := cp.client.CoreV1().Services(namespace)
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LoadBalancer.Ingress = ingress
		out, err = services.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("write load balancer status of service %s/%s: %w", namespace, name, err)
	}
	return out, nil
}

// SetLoadBalancerIngress is SetLoadBalancerIngressE for svc, failing the test on error.
func (cp *ControlPlane) SetLoadBalancerIngress(t testing.TB, svc *corev1.Service, addrs ...string) *corev1.Service {
	t.Helper()
	out, err := cp.SetLoadBalancerIngressE(t.Context(), svc.Namespace, svc.Name, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EndpointSlices lists the EndpointSlices of a Service (by the
// kubernetes.io/service-name label), failing the test on error.
func (cp *ControlPlane) EndpointSlices(t testing.TB, ns, service string) []discoveryv1.EndpointSlice {
	t.Helper()
	list, err := cp.client.DiscoveryV1().EndpointSlices(ns).List(t.Context(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service,
	})
	if err != nil {
		t.Fatalf("listing EndpointSlices of %s/%s: %v", ns, service, err)
	}
	return list.Items
}

// Eventually polls cond until it returns true, failing the test after timeout
// with the state cond last described, e.g. "2 endpoints: 10.0.0.1 ready=true".
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v; last observed: %s", timeout, state)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting; last observed: %s", state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
