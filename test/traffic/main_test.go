// Package traffic proves the data plane: packets sent to a mux (its cluster
// IP, the node's NodePort, its load-balancer IP) reach the right backend pod
// on the right port, through the real kube-proxy running in a network
// namespace that plays the node (test/dataplane), with the real agent and
// the real endpointslice controller in between. Needs root (CI runs as
// root); skipped otherwise. Build the binaries first: `make testenv`.
//
// SVCMUX_KUBE_PROXY_MODE=iptables runs the single-mode tests in iptables
// mode (default nftables); TestChannelsReachTheirBackends runs both.
package traffic

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

func TestMain(m *testing.M) { controlplane.Main(m) }
