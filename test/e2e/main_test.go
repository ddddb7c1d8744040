// Package e2e tests svcmux against a real control plane (etcd,
// kube-apiserver, kube-controller-manager), started once for the package.
// Build the binaries first: `make testenv` (`make e2e` does it).
package e2e

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

func TestMain(m *testing.M) { controlplane.Main(m) }
