package dataplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nowakeai/svcmux/test/proc"
)

// KubeProxyUser is who kube-proxy authenticates as: the admin credentials
// impersonate it, so the API server authorizes every kube-proxy request as
// this user, bound (by the bootstrap policy) to ClusterRole
// system:node-proxier only.
const KubeProxyUser = "system:kube-proxy"

// startKubeProxy relays the API server into the node, writes kube-proxy's
// kubeconfig, checks that user's privileges and starts kube-proxy inside the
// node namespace, waiting for its health check.
func (n *Node) startKubeProxy(ctx context.Context, apiHost string) error {
	u, err := url.Parse(apiHost)
	if err != nil || u.Host == "" {
		return fmt.Errorf("dataplane: API server address %q: %v", apiHost, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return fmt.Errorf("dataplane: API server address %q: %w", apiHost, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("dataplane: the API server must listen on loopback (got %s)", host)
	}
	// Inside the node, kube-proxy dials the same URL: the node's own loopback,
	// where the relay listens and forwards to the host's loopback.
	if err := n.startRelay(net.JoinHostPort("127.0.0.1", port), u.Host); err != nil {
		return err
	}
	kubeconfig := filepath.Join(n.cfg.LogDir, n.Name+"-kube-proxy.kubeconfig")
	if err := writeImpersonatingKubeconfig(n.cfg.Kubeconfig, kubeconfig, KubeProxyUser); err != nil {
		return err
	}
	if err := n.checkKubeProxyUser(ctx, kubeconfig); err != nil {
		return err
	}
	args := []string{
		"netns", "exec", string(n.node), n.cfg.KubeProxy,
		"--kubeconfig=" + kubeconfig,
		"--hostname-override=" + n.Name,
		"--proxy-mode=" + string(n.Mode),
		"--cluster-cidr=" + ClusterCIDR,
		"--nodeport-addresses=" + n.IP + "/32",
		// Both servers bind inside the node namespace.
		"--healthz-bind-address=127.0.0.1:10256",
		"--metrics-bind-address=127.0.0.1:10249",
		// Leave host-global settings alone: 0 keeps nf_conntrack_max and the
		// nf_conntrack hashsize module parameter (both global) and the
		// conntrack TCP timeouts as they are.
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		// No route_localnet (only for NodePorts on 127.0.0.1 in iptables mode).
		"--iptables-localhost-nodeports=false",
		// Keep the process's OOM score as the test process's.
		"--oom-score-adj=0",
		"--v=2",
	}
	p, err := proc.Start("kube-proxy", "ip", n.KubeProxyLog, args...)
	if err != nil {
		return err
	}
	n.kubeProxy = p
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if done, exitErr := p.Exited(); done {
			return fmt.Errorf("kube-proxy exited: %v\n%s", exitErr, proc.Tail(n.KubeProxyLog, 30))
		}
		code, err := n.healthz(ctx)
		if err == nil && code == 200 {
			return nil
		}
		last = fmt.Sprint(code, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("kube-proxy not healthy within 60s (last: %s)\n%s", last, proc.Tail(n.KubeProxyLog, 30))
}

// writeImpersonatingKubeconfig copies the admin kubeconfig with every user
// impersonating user.
func writeImpersonatingKubeconfig(admin, out, user string) error {
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		return fmt.Errorf("dataplane: read %s: %w", admin, err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
		ai.ImpersonateGroups = nil
	}
	return clientcmd.WriteToFile(*cfg, out)
}

// checkKubeProxyUser makes sure kube-proxy runs least-privileged: it can
// watch Services but cannot read Secrets. It creates the system:node-proxier
// binding if the bootstrap policy has not (it always has on a real cluster).
func (n *Node) checkKubeProxyUser(ctx context.Context, kubeconfig string) error {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	kp, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if _, err := n.client.RbacV1().ClusterRoleBindings().Get(ctx, "system:node-proxier", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("dataplane: ClusterRoleBinding system:node-proxier (bootstrap policy): %w", err)
	}
	if _, err := kp.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("dataplane: %s cannot list Services: %w", KubeProxyUser, err)
	}
	_, err = kp.CoreV1().Secrets("").List(ctx, metav1.ListOptions{Limit: 1})
	if !apierrors.IsForbidden(err) {
		return fmt.Errorf("dataplane: %s is not least-privileged: listing Secrets gave %v, want Forbidden", KubeProxyUser, err)
	}
	return nil
}

// startRelay listens on listenAddr inside the node namespace and forwards
// each connection to target on the host's loopback. Bytes are copied
// untouched (TLS end to end), so kube-proxy sees the real API server.
func (n *Node) startRelay(listenAddr, target string) error {
	l, err := n.node.listen("tcp4", listenAddr)
	if err != nil {
		return fmt.Errorf("dataplane: relay listen in %s: %w", n.node, err)
	}
	n.relay = &relay{listener: l, conns: map[net.Conn]struct{}{}}
	n.relay.wg.Go(func() { n.relay.serve(target) })
	return nil
}

// relay is the API server's doorway into the node namespace.
type relay struct {
	listener net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

func (r *relay) serve(target string) {
	for {
		in, err := r.listener.Accept()
		if err != nil {
			return // closed
		}
		out, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		if !r.track(in, out) {
			return
		}
		r.wg.Go(func() {
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(out, in)
			go pipe(in, out)
			<-done
			<-done
			r.untrack(in, out)
		})
	}
}

func (r *relay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		r.conns[c] = struct{}{}
	}
	return true
}

func (r *relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(r.conns, c)
	}
}

// close stops accepting, cuts every open connection and waits.
func (r *relay) close() {
	_ = r.listener.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Tail is the last n lines of kube-proxy's log.
func (n *Node) Tail(lines int) string { return proc.Tail(n.KubeProxyLog, lines) }
