// Package faults puts the real agent through the faults a real cluster delivers
// (issue 17, SPEC §3, §7, §9) on the shared e2e world, each watched by one
// continuous observer (observer_test.go) that fails the fault when a published
// port moves, an owner flips or a port has two owners, and each compared with the
// end state a clean run reaches. `make test` runs a small case of each fault;
// `make faults` (SVCMUX_FAULTS=1) runs the sizes and writes the report
// test/bench/results/<date>-<commit>-faults.md.
package faults

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// EnvFaults selects the full sizes ("1"); otherwise each fault runs small.
const EnvFaults = "SVCMUX_FAULTS"

// The API server audits every write (metadata only): the paused-leader proof and
// the write counts read it.
func TestMain(m *testing.M) { controlplane.MainWith(m, controlplane.Options{AuditPolicy: auditPolicy}) }
