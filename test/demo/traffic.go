package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nowakeai/svcmux/test/dataplane"
)

// proveTraffic is the hook for the demo's data-plane proof (SPEC §9: kube-proxy
// in a network namespace playing the node, one namespace per backend pod, a
// connection to the mux's load-balancer address reaching each channel's pods).
// It runs after the topology is printed and before the demo reports ready; what
// it writes to w is appended to the report. Without root it says it skipped.
//
// test/dataplane is built for it (dataplane.Start a Node, Node.AdoptPods for
// pods created before the node, Node.ProveMux, dataplane.WriteProofs; see
// test/traffic/demo_test.go). What the demo offers: d.cp (Client(), KubeconfigPath(), Binary("kube-proxy")),
// the sample (muxNamespace/muxName, channels with their pod IPs and
// wantMuxPort, nodeName/nodeIP, ingressIP), and d.OnStop to register the
// teardown of whatever it starts (run before the agent and control plane stop).
//
// Caveat: the control plane's components get SIGKILL when the OS thread that
// started them exits (PR_SET_PDEATHSIG, see test/controlplane/reexec_linux.go).
// A goroutine that enters a network namespace with runtime.LockOSThread and then
// ends without UnlockOSThread makes Go end its thread: never do that here (keep
// such work in child processes, or unlock after switching back).
func proveTraffic(ctx context.Context, d *demo, w io.Writer) error {
	fmt.Fprintln(w, "Traffic through the mux (real kube-proxy in a network namespace playing the node):")
	node, err := dataplane.Start(ctx, dataplane.Config{Kubeconfig: d.cp.KubeconfigPath(), KubeProxy: d.cp.Binary("kube-proxy"), LogDir: d.dir})
	if errors.Is(err, dataplane.ErrUnsupported) {
		fmt.Fprintf(w, "  skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("start the data plane: %w", err)
	}
	d.OnStop(func() { _ = node.Close() })
	// The sample pods get addresses inside the node's namespaces and echo servers
	// that answer with their name and port.
	if _, err := node.AdoptPods(ctx, channelNamespace); err != nil {
		return fmt.Errorf("adopt the sample pods: %w", err)
	}
	proofs, err := node.ProveMux(ctx, muxNamespace, muxName, "", 60*time.Second)
	if err != nil {
		return fmt.Errorf("prove the mux: %w", err)
	}
	var table strings.Builder
	if err := dataplane.WriteProofs(&table, proofs); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(table.String(), "\n"), "\n") {
		fmt.Fprintln(w, "  "+line)
	}
	for _, p := range proofs {
		if p.Err != nil {
			return fmt.Errorf("%d/%s via %s: %w", p.Port.Port, p.Port.Protocol, p.Via, p.Err)
		}
	}
	return nil
}
