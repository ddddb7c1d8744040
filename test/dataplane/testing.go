package dataplane

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// EnvLogDir, when set, is where NewNode keeps kube-proxy's logs (otherwise
// in the test's temporary directory, removed when it ends).
const EnvLogDir = "SVCMUX_DATAPLANE_LOGDIR"

// NewNode starts a node (see Start) for one test against cp, closed when the
// test ends; when the test failed, kube-proxy's log tail is logged. mode ""
// means $SVCMUX_KUBE_PROXY_MODE, else nftables. Outside Linux the test is
// skipped. On Linux a missing prerequisite (root, ip, nft, iptables) skips it,
// except under CI=true, where it fails the test: CI must run the data plane.
func NewNode(t testing.TB, cp *controlplane.ControlPlane, mode Mode) *Node {
	t.Helper()
	if mode == "" {
		mode = Mode(os.Getenv(EnvMode))
	}
	if mode == "" {
		mode = ModeNFTables
	}
	if err := Preflight(mode); err != nil {
		if mustRun(err, os.Getenv("CI") == "true") {
			t.Fatal(err)
		}
		t.Skipf("data-plane test skipped: %v", err)
	}
	logDir := os.Getenv(EnvLogDir)
	if logDir == "" {
		logDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n, err := Start(ctx, Config{
		Kubeconfig: cp.KubeconfigPath(),
		KubeProxy:  cp.Binary("kube-proxy"),
		Mode:       mode,
		LogDir:     logDir,
	})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node %s (%s mode):\n%s", n.Name, n.Mode, n.Tail(40))
		}
		if err := n.Close(); err != nil {
			t.Errorf("close node %s: %v", n.Name, err)
		}
	})
	return n
}

// mustRun says whether a missing prerequisite (Preflight's error) fails the
// test rather than skipping it: under CI on Linux, where the data plane must
// run; never outside Linux, where it cannot.
func mustRun(preflight error, ci bool) bool {
	notLinux := errors.Is(preflight, ErrUnsupported) && !errors.Is(preflight, ErrNotRoot)
	return ci && !notLinux
}
