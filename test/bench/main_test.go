// Package bench measures how fast the real agent converges on the real control
// plane (SPEC §7, §9) against the API server's own write floor, how many writes
// it makes against the minimum, and that an idle cluster costs no writes.
//
// It is slow (minutes) and timing-sensitive, so it only runs with
// SVCMUX_BENCH=1 (`make bench-e2e`); otherwise every test skips and no control
// plane is started, which keeps `make test` fast.
package bench

import (
	"os"
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

func TestMain(m *testing.M) {
	if os.Getenv(EnvBench) != "1" {
		os.Exit(m.Run())
	}
	controlplane.Main(m)
}
