// Package dataplane proves that traffic through a mux reaches the right
// backend: it plays a Kubernetes node inside Linux network namespaces, runs
// the real kube-proxy there against the test control plane, and serves every
// backend pod from its own namespace with an echo server that names the pod
// and port that answered.
//
// Topology of one Node (all namespaces are made by this package, named
// svcmux-dp-<pid>-<seq>-<role>, and deleted by Close):
//
//		          ext (10.250.0.2) ── external client: NodePort and LB IPs
//		           │ up0
//		 cli ── node (10.250.0.1, kube-proxy) ──dead0── dead-end (10.250.1.2)
//		 10.244.0.2 │  gateway 10.244.0.1 on each pod veth   rejects (RST / ICMP)
//		           pods 10.244.x.y, one namespace each       what was not translated
//
//	  - node: the node's network namespace. kube-proxy (nftables or iptables
//	    mode) runs in it as user system:kube-proxy; its API server is reached
//	    through a relay listening on the node's own loopback, so the host's
//	    network is never changed. The Node object's InternalIP is 10.250.0.1.
//	  - cli: a client pod: ClusterIP traffic starts here, as from any pod.
//	  - ext: an outside client, as a cloud load balancer would be: NodePort
//	    traffic to the node IP and load-balancer-IP traffic (10.251.0.0/24,
//	    routed to the node) starts here.
//	  - dead-end: the node routes Service and load-balancer addresses there, so
//	    any packet kube-proxy did not translate ends in a namespace that owns
//	    those addresses and refuses it (TCP reset, ICMP port unreachable), and
//	    nothing ever leaves the namespaces.
//	  - pods: point-to-point veths as the ptp CNI plugin makes them: the pod has
//	    10.244.x.y/32 and a default route via 10.244.0.1, which sits on the
//	    node's end of every pod veth. All pod traffic is routed by the node,
//	    so kube-proxy's NAT sees both directions (no bridge, no br_netfilter).
//
// Traffic only ever goes to addresses inside these namespaces. The test
// process itself listens in pod namespaces and dials from cli and ext by
// switching one locked OS thread into the namespace to create the socket;
// kube-proxy is the only process started. Needs root (`ip netns`), iproute2,
// and nft (nftables mode) or iptables (iptables mode).
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nowakeai/svcmux/test/proc"
)

// Mode is kube-proxy's proxy mode.
type Mode string

const (
	ModeNFTables Mode = "nftables"
	ModeIPTables Mode = "iptables"

	// EnvMode selects the mode of nodes started without an explicit one.
	EnvMode = "SVCMUX_KUBE_PROXY_MODE"
)

// Addresses of the topology (see the package comment).
const (
	ClusterCIDR   = "10.244.0.0/16"
	podGateway    = "10.244.0.1"
	clientPodIP   = "10.244.0.2"
	NodeIP        = "10.250.0.1"
	externalIP    = "10.250.0.2"
	deadEndNodeIP = "10.250.1.1"
	deadEndIP     = "10.250.1.2"
	// LoadBalancerCIDR holds the load-balancer IPs a test writes on a mux as
	// the cloud would (LoadBalancerIP); ext routes them to the node.
	LoadBalancerCIDR = "10.251.0.0/24"
	// DefaultServiceCIDR is test/controlplane's --service-cluster-ip-range.
	DefaultServiceCIDR = "10.96.0.0/16"
)

// LoadBalancerIP is the i-th load-balancer address (0 ≤ i < 254), routed
// from ext to the node.
func LoadBalancerIP(i int) string { return fmt.Sprintf("10.251.0.%d", i+1) }

// Config says how to start a Node.
type Config struct {
	// Kubeconfig is an admin kubeconfig for the control plane (its API server
	// must listen on the host's loopback). The node derives kube-proxy's
	// kubeconfig from it, impersonating system:kube-proxy.
	Kubeconfig string
	// KubeProxy is the kube-proxy binary (controlplane's Binary("kube-proxy")).
	KubeProxy string
	// Mode defaults to $SVCMUX_KUBE_PROXY_MODE, else nftables.
	Mode Mode
	// ServiceCIDR is routed to the dead end; default DefaultServiceCIDR.
	ServiceCIDR string
	// LogDir receives kube-proxy.log; default a new temporary directory.
	LogDir string
}

// Node is a running node: namespaces, kube-proxy, client namespaces and the
// pods added to it.
type Node struct {
	// Name is the Node object's name (also the prefix of its namespaces).
	Name string
	// IP is its InternalIP (NodePort traffic goes there).
	IP   string
	Mode Mode
	// KubeProxyLog is the path of kube-proxy's log.
	KubeProxyLog string

	cfg    Config
	client kubernetes.Interface
	node   netns
	cli    netns
	ext    netns
	dead   netns

	relay     *relay
	kubeProxy *proc.Process

	mu      sync.Mutex
	created []netns // in creation order; deleted in reverse
	pods    []*Pod
	nextPod int // index of the next pod address and veth

	closeOnce sync.Once
	closeErr  error
}

var nodeSeq atomic.Int32

// Start builds the namespaces, registers the Node object with its InternalIP
// and starts kube-proxy, returning once kube-proxy reports healthy. On error
// everything already made is undone. The caller must Close the node.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.Mode == "" {
		cfg.Mode = Mode(os.Getenv(EnvMode))
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeNFTables
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if err := Preflight(cfg.Mode); err != nil {
		return nil, err
	}
	if cfg.LogDir == "" {
		if cfg.LogDir, err = os.MkdirTemp("", "svcmux-dataplane-"); err != nil {
			return nil, err
		}
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("dataplane: kubeconfig: %w", err)
	}
	// Tests add many pods at once: not client-go's default 5 QPS.
	restCfg.QPS, restCfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	removeStaleNamespaces(ctx)

	name := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nodeSeq.Add(1))
	n = &Node{
		Name: name, IP: NodeIP, Mode: cfg.Mode, cfg: cfg, client: client,
		KubeProxyLog: filepath.Join(cfg.LogDir, name+"-kube-proxy.log"),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
			n = nil
		}
	}()
	if err := n.buildNetwork(ctx); err != nil {
		return n, err
	}
	if err := n.registerNode(ctx); err != nil {
		return n, err
	}
	if err := n.startKubeProxy(ctx, restCfg.Host); err != nil {
		return n, err
	}
	return n, nil
}

// Preflight reports what this machine lacks to run a node in mode.
func Preflight(mode Mode) error {
	if err := platformError(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: %w: creating network namespaces needs root", ErrUnsupported, ErrNotRoot)
	}
	need := []string{"ip"}
	switch mode {
	case ModeNFTables:
		need = append(need, "nft")
	case ModeIPTables:
		need = append(need, "iptables", "iptables-restore", "iptables-save")
	default:
		return fmt.Errorf("dataplane: unknown kube-proxy mode %q (nftables or iptables)", mode)
	}
	for _, b := range need {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%w: %s not found (Debian packages iproute2, nftables, iptables; `make testenv` installs them)", ErrMissingTool, b)
		}
	}
	return nil
}

var (
	// ErrUnsupported: this process cannot make network namespaces (not
	// Linux, or not root: then ErrNotRoot too).
	ErrUnsupported = errors.New("dataplane unsupported")
	// ErrNotRoot: on Linux, but not root.
	ErrNotRoot = errors.New("not root")
	// ErrMissingTool: a command-line tool the node needs is not installed.
	ErrMissingTool = errors.New("dataplane tool missing")
)

func (n *Node) newNetns(ctx context.Context, role string) (netns, error) {
	ns, err := addNetns(ctx, n.Name+"-"+role)
	if ns != "" || err == nil {
		n.mu.Lock()
		n.created = append(n.created, netns(n.Name+"-"+role))
		n.mu.Unlock()
	}
	return ns, err
}

// buildNetwork makes node, ext, dead-end and cli and wires them.
func (n *Node) buildNetwork(ctx context.Context) error {
	var err error
	if n.node, err = n.newNetns(ctx, "node"); err != nil {
		return err
	}
	// Per-namespace settings of the node: it forwards between its links,
	// checks no reverse path (the default may come from the host) and runs
	// IPv4 only, so kube-proxy runs a single IPv4 proxier as on a
	// single-stack cluster. No per-peer ICMP rate limit (node and dead end):
	// every rejected probe is refused at once instead of some being
	// silently dropped, which keeps outage measurements sharp.
	if err := n.node.writeSysctls(map[string]string{
		"net/ipv4/ip_forward":                "1",
		"net/ipv4/conf/all/rp_filter":        "0",
		"net/ipv4/conf/default/rp_filter":    "0",
		"net/ipv4/icmp_ratelimit":            "0",
		"net/ipv6/conf/all/disable_ipv6":     "1",
		"net/ipv6/conf/default/disable_ipv6": "1",
	}); err != nil {
		return err
	}
	if n.ext, err = n.newNetns(ctx, "ext"); err != nil {
		return err
	}
	if n.dead, err = n.newNetns(ctx, "dead"); err != nil {
		return err
	}
	if err := n.dead.writeSysctls(map[string]string{"net/ipv4/icmp_ratelimit": "0"}); err != nil {
		return err
	}
	if n.cli, err = n.newNetns(ctx, "cli"); err != nil {
		return err
	}
	if err := n.node.batch(ctx,
		"link add up0 type veth peer name eth0 netns "+string(n.ext),
		"link add dead0 type veth peer name eth0 netns "+string(n.dead),
		"addr add "+NodeIP+"/24 dev up0",
		"addr add "+deadEndNodeIP+"/30 dev dead0",
		"link set up0 up",
		"link set dead0 up",
		"route add "+n.cfg.ServiceCIDR+" via "+deadEndIP,
		"route add "+LoadBalancerCIDR+" via "+deadEndIP,
	); err != nil {
		return fmt.Errorf("node links: %w", err)
	}
	if err := n.ext.batch(ctx,
		"addr add "+externalIP+"/24 dev eth0",
		"link set eth0 up",
		"route add "+LoadBalancerCIDR+" via "+NodeIP,
	); err != nil {
		return fmt.Errorf("ext links: %w", err)
	}
	if err := n.dead.batch(ctx,
		"addr add "+deadEndIP+"/30 dev eth0",
		"link set eth0 up",
		"route add local "+n.cfg.ServiceCIDR+" dev lo",
		"route add local "+LoadBalancerCIDR+" dev lo",
		"route add default via "+deadEndNodeIP,
	); err != nil {
		return fmt.Errorf("dead-end links: %w", err)
	}
	return n.plugPod(ctx, n.cli, "cli0", clientPodIP)
}

// plugPod connects a pod namespace to the node with a point-to-point veth.
func (n *Node) plugPod(ctx context.Context, pod netns, veth, ip string) error {
	if err := n.node.batch(ctx,
		"link add "+veth+" type veth peer name eth0 netns "+string(pod),
		"addr add "+podGateway+"/32 dev "+veth,
		"link set "+veth+" up",
		"route add "+ip+"/32 dev "+veth,
	); err != nil {
		return fmt.Errorf("node side of %s: %w", pod, err)
	}
	if err := pod.batch(ctx,
		"addr add "+ip+"/32 dev eth0",
		"link set eth0 up",
		"route add "+podGateway+" dev eth0 scope link",
		"route add default via "+podGateway+" dev eth0",
	); err != nil {
		return fmt.Errorf("pod side of %s: %w", pod, err)
	}
	return nil
}

// registerNode creates the Node object with its InternalIP and Ready
// condition, as a kubelet would, before kube-proxy starts (kube-proxy reads
// its node IP from it).
func (n *Node) registerNode(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	obj, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, Labels: map[string]string{corev1.LabelHostname: n.Name},
	}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node %s: %w", n.Name, err)
	}
	now := metav1.Now()
	obj.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: n.IP},
		{Type: corev1.NodeHostName, Address: n.Name},
	}
	obj.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	if _, err := nodes.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write status of node %s: %w", n.Name, err)
	}
	return nil
}

// Close stops kube-proxy, the relay and the echo servers, deletes the Node
// object and every namespace. Safe to call twice; also undoes a failed Start.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var errs []error
		if n.kubeProxy != nil {
			errs = append(errs, n.kubeProxy.Stop(10*time.Second))
		}
		if n.relay != nil {
			n.relay.close()
		}
		n.mu.Lock()
		pods, created := n.pods, n.created
		n.mu.Unlock()
		for _, p := range pods {
			p.echo.close()
		}
		if n.client != nil {
			err := n.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete node %s: %w", n.Name, err))
			}
		}
		for i := len(created) - 1; i >= 0; i-- {
			errs = append(errs, created[i].delete(ctx))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// healthz asks kube-proxy's health server inside the node namespace.
func (n *Node) healthz(ctx context.Context) (int, error) {
	hc := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			DialContext:       n.node.dial,
			DisableKeepAlives: true,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:10256/healthz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
