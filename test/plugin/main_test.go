// Package plugin tests the kubectl plugin (cmd/kubectl-svcmux) end to end: the
// real binary, run out of process against a real control plane and the real
// agent, judged only by its stdout, stderr and exit code against SPEC §8.
package plugin

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

func TestMain(m *testing.M) { controlplane.Main(m) }
