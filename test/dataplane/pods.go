package dataplane

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/nowakeai/svcmux/test/controlplane"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Pod is a backend: a Pod object bound to the node and a namespace in which
// an echo server listens on the pod's ports.
type Pod struct {
	Namespace string
	Name      string
	IP        string
	// Ports the echo server listens on.
	Ports []corev1.ContainerPort

	node *Node
	ns   netns
	echo *echoServer
}

// Key is namespace/name, as echo answers name the pod.
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// AddPod creates a Pod bound to this node, with one container exposing ports
// (name them to test named targetPorts), gives it the next pod address, serves
// the echo protocol on every port inside its own namespace and marks it
// Running and Ready as a kubelet would. The namespace is deleted by Close;
// the Pod object belongs to the caller's namespace.
func (n *Node) AddPod(ctx context.Context, namespace, name string, labels map[string]string, ports ...corev1.ContainerPort) (*Pod, error) {
	obj, err := n.client.CoreV1().Pods(namespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName: n.Name,
			Containers: []corev1.Container{{
				Name: "echo", Image: "svcmux.invalid/echo", // no kubelet pulls it
				Ports: ports,
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", namespace, name, err)
	}
	return n.AdoptPod(ctx, obj)
}

// AdoptPod serves an existing Pod (created by someone else, e.g. the demo,
// possibly bound to another Node name: kube-proxy forwards to any endpoint
// of a Cluster-policy Service): it gets the next pod address and an echo
// server on its container ports plus extra, and is marked Running and Ready
// with that address. Use extra for target ports the pod does not declare.
func (n *Node) AdoptPod(ctx context.Context, obj *corev1.Pod, extra ...corev1.ContainerPort) (*Pod, error) {
	n.mu.Lock()
	idx := n.nextPod
	n.nextPod++
	n.mu.Unlock()
	// 10.244.0.3 upwards (.1 is the gateway, .2 the client pod), 250 per /24.
	ip := fmt.Sprintf("10.244.%d.%d", idx/250, idx%250+3)
	if idx >= 250*250 {
		return nil, fmt.Errorf("dataplane: out of pod addresses")
	}
	p := &Pod{Namespace: obj.Namespace, Name: obj.Name, IP: ip, node: n, echo: &echoServer{}}
	for _, c := range obj.Spec.Containers {
		p.Ports = append(p.Ports, c.Ports...)
	}
	p.Ports = append(p.Ports, extra...)
	var err error
	if p.ns, err = n.newNetns(ctx, "p"+strconv.Itoa(idx)); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.pods = append(n.pods, p)
	n.mu.Unlock()
	if err := n.plugPod(ctx, p.ns, "p"+strconv.Itoa(idx), ip); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, cp := range p.Ports {
		proto := cp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := strconv.Itoa(int(cp.ContainerPort)) + "/" + string(proto)
		if seen[key] {
			continue
		}
		seen[key] = true
		if err := p.echo.serve(p.ns, p.Key(), cp.ContainerPort, proto); err != nil {
			return nil, fmt.Errorf("echo %s on %s: %w", p.Key(), key, err)
		}
	}
	return p, p.SetReady(ctx, true)
}

// Pods lists the pods added to the node.
func (n *Node) Pods() []*Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.pods)
}

// SetReady writes the pod's status as a kubelet would: Running with its
// address, Ready and ContainersReady as given. The echo server keeps
// listening either way: only the endpoints decide whether traffic comes.
func (p *Pod) SetReady(ctx context.Context, ready bool) error {
	pods := p.node.client.CoreV1().Pods(p.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		controlplane.SetRunningStatus(cur, p.IP, p.node.IP, ready, metav1.Now())
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
