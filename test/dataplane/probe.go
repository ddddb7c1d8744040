package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Via is the way into a Service a probe takes.
type Via string

const (
	// ViaClusterIP: from the client pod to spec.clusterIP:port.
	ViaClusterIP Via = "ClusterIP"
	// ViaNodePort: from the external client to the node IP:nodePort.
	ViaNodePort Via = "NodePort"
	// ViaLoadBalancer: from the external client to the first
	// status.loadBalancer.ingress IP:port (write one from LoadBalancerCIDR).
	ViaLoadBalancer Via = "LoadBalancer"
)

// Vias is every way in, in the order probes report them.
var Vias = []Via{ViaClusterIP, ViaNodePort, ViaLoadBalancer}

// DefaultTimeout bounds one probe (connect and answer).
const DefaultTimeout = time.Second

// Address is where a probe via this way goes for Service port sp, or an
// error saying why there is none (no node port, no ingress IP yet).
func (n *Node) Address(via Via, svc *corev1.Service, sp corev1.ServicePort) (string, error) {
	switch via {
	case ViaClusterIP:
		if ip := net.ParseIP(svc.Spec.ClusterIP); ip == nil {
			return "", fmt.Errorf("%s/%s has no cluster IP", svc.Namespace, svc.Name)
		}
		return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(sp.Port))), nil
	case ViaNodePort:
		if sp.NodePort == 0 {
			return "", fmt.Errorf("%s/%s port %s has no node port", svc.Namespace, svc.Name, sp.Name)
		}
		return net.JoinHostPort(n.IP, strconv.Itoa(int(sp.NodePort))), nil
	case ViaLoadBalancer:
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				return net.JoinHostPort(in.IP, strconv.Itoa(int(sp.Port))), nil
			}
		}
		return "", fmt.Errorf("%s/%s has no load-balancer IP", svc.Namespace, svc.Name)
	}
	return "", fmt.Errorf("unknown way in %q", via)
}

// Ask makes one request via the given way to addr and returns the answer.
// ClusterIP requests start in the client pod, the others in the external
// client; addresses outside the node's namespaces are refused before any
// packet is sent.
func (n *Node) Ask(ctx context.Context, via Via, proto corev1.Protocol, addr string, timeout time.Duration) (Answer, error) {
	from := n.ext
	if via == ViaClusterIP {
		from = n.cli
	}
	if err := n.checkTarget(via, addr); err != nil {
		return Answer{}, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return ask(ctx, from, proto, addr, timeout)
}

// AskService asks Service port sp via the given way.
func (n *Node) AskService(ctx context.Context, via Via, svc *corev1.Service, sp corev1.ServicePort) (Answer, error) {
	addr, err := n.Address(via, svc, sp)
	if err != nil {
		return Answer{}, err
	}
	return n.Ask(ctx, via, sp.Protocol, addr, DefaultTimeout)
}

// checkTarget keeps probes inside the topology: Service IPs, load-balancer
// IPs and the node IP only.
func (n *Node) checkTarget(via Via, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	var allowed string
	switch via {
	case ViaClusterIP:
		allowed = n.cfg.ServiceCIDR
	case ViaLoadBalancer:
		allowed = LoadBalancerCIDR
	case ViaNodePort:
		if host == n.IP {
			return nil
		}
		return fmt.Errorf("dataplane: NodePort probes go to the node IP %s, not %s", n.IP, host)
	default:
		return fmt.Errorf("unknown way in %q", via)
	}
	_, cidr, err := net.ParseCIDR(allowed)
	if err != nil || ip == nil || !cidr.Contains(ip) {
		return fmt.Errorf("dataplane: %s probes go to %s, not %s", via, allowed, host)
	}
	return nil
}

// IsRefused reports whether a probe error is an active refusal (a TCP reset
// or ICMP port unreachable, from kube-proxy's reject rules or the dead end),
// as opposed to a timeout or a wrong answer.
func IsRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
