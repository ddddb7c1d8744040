// Package bench measures how fast the real agent converges on the real control
// plane (SPEC §7, §9) against the API server's own write floor, how many writes
// it makes against the minimum, what the agent process costs, and that an idle
// cluster costs no writes.
//
// The production sizes are slow (many minutes) and timing-sensitive, so they
// only run with SVCMUX_BENCH=1 (`make bench-e2e`), which writes the report in
// test/bench/results. Without it, one small case of each kind runs (part of
// `make test`), asserting the exact write counts.
package bench

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// EnvBench turns the benchmark on; EnvIdle sets the idle window (a Go
// duration, default 60s); EnvLogDir keeps each scenario's agent log there, at
// debug level.
const (
	EnvBench  = "SVCMUX_BENCH"
	EnvIdle   = "SVCMUX_BENCH_IDLE"
	EnvLogDir = "SVCMUX_BENCH_LOGDIR"
)

func TestMain(m *testing.M) { controlplane.Main(m) }
