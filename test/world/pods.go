package world

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// NodeName is the World's Node: Nodes are cluster-scoped, so it is named after
// the namespace and never clashes with another test's.
func (w *World) NodeName() string { return "node-" + w.Namespace }

// Node creates the World's Node (NodeName, Ready, with internalIP), deleted
// when the test ends, and returns its name. The endpointslice controller skips
// pods whose node does not exist, so every pod needs one.
func (w *World) Node(internalIP string) string {
	t := w.tb()
	t.Helper()
	w.CP.CreateNode(t, w.NodeName(), internalIP)
	return w.NodeName()
}

// NodeE creates a Ready Node called name with internalIP, as a kubelet would
// report it, and does not delete it: for a World made by Open, whose caller
// owns the cluster (a test uses Node, which cleans up).
func (w *World) NodeE(name, internalIP string) (*corev1.Node, error) {
	nodes := w.Client.CoreV1().Nodes()
	node, err := nodes.Create(w.ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create node %s: %w", name, err)
	}
	// Status is ignored on create.
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: internalIP}, {Type: corev1.NodeHostName, Address: name}}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if node, err = nodes.UpdateStatus(w.ctx, node, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("write status of node %s: %w", name, err)
	}
	return node, nil
}

// PodE creates a pod on node (no scheduler runs) with one container exposing
// ports, labelled labels, then plays its kubelet: Running with ip, Ready as
// ready (controlplane.SetRunningStatus, the one kubelet-status writer).
func (w *World) PodE(name string, labels map[string]string, node, ip string, ready bool, ports ...corev1.ContainerPort) (*corev1.Pod, error) {
	pods := w.Client.CoreV1().Pods(w.Namespace)
	_, err := pods.Create(w.ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "app", Image: "svcmux.invalid/never-pulled", Ports: ports, // no kubelet runs it
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s: %w", w.Ref(name), err)
	}
	var out *corev1.Pod
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(w.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		controlplane.SetRunningStatus(cur, ip, "", ready, metav1.Now())
		out, err = pods.UpdateStatus(w.ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("write status of pod %s: %w", w.Ref(name), err)
	}
	return out, nil
}

// Pod is PodE, failing the test on error.
func (w *World) Pod(name string, labels map[string]string, node, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	p, err := w.PodE(name, labels, node, ip, ready, ports...)
	w.must(err)
	return p
}

// ReadyPod is a ready pod of the channel named app (label app=<app>, the
// selector ChannelObject gives), on node with ip.
func (w *World) ReadyPod(name, app, node, ip string, ports ...corev1.ContainerPort) *corev1.Pod {
	return w.Pod(name, map[string]string{"app": app}, node, ip, true, ports...)
}

// SetIngressE plays the cloud provider: the Service's
// status.loadBalancer.ingress becomes addrs (IPs; anything else a hostname).
func (w *World) SetIngressE(name string, addrs ...string) (*corev1.Service, error) {
	return w.CP.SetLoadBalancerIngressE(w.ctx, w.Namespace, name, addrs...)
}

// SetIngress is SetIngressE, failing the test on error.
func (w *World) SetIngress(name string, addrs ...string) *corev1.Service {
	out, err := w.SetIngressE(name, addrs...)
	w.must(err)
	return out
}
