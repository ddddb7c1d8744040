package controlplane

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// shared is the package-wide control plane Main starts; skipReason is set
// instead when the binaries are missing outside CI.
var (
	shared     *ControlPlane
	skipReason string
)

// Main is the body of a test package's TestMain: it starts one control plane
// for the whole package, runs the tests, stops it and exits.
//
//	func TestMain(m *testing.M) { controlplane.Main(m) }
//
// If the binaries have not been built, tests are skipped (Get calls t.Skip)
// unless CI=true, where that is a failure: CI must never pass by skipping.
func Main(m *testing.M) {
	os.Exit(run(m, Options{}))
}

// MainWith is Main with options for the package's control plane (see Options).
func MainWith(m *testing.M, opts Options) {
	os.Exit(run(m, opts))
}

func run(m *testing.M, opts Options) int {
	cp, err := StartWith(opts)
	switch {
	case errors.Is(err, ErrBinariesMissing) && os.Getenv("CI") != "true":
		skipReason = err.Error()
		fmt.Fprintln(os.Stderr, "controlplane: skipping:", skipReason)
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		return 1
	}
	shared = cp
	fmt.Fprintf(os.Stderr, "controlplane: started in %v (binaries %s)\n", cp.StartDuration.Round(time.Millisecond), cp.BinDir())
	// On SIGINT/SIGTERM stop the components before dying, so the run
	// directory is removed too (they would die anyway, see reexec_linux.go).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		_ = cp.Stop()
		fmt.Fprintln(os.Stderr, "controlplane: stopped on", s)
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(sig)
	stopping := time.Now()
	err = cp.Stop()
	fmt.Fprintf(os.Stderr, "controlplane: stopped in %v\n", time.Since(stopping).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Get returns the control plane Main started, or skips the test when the
// binaries are missing (outside CI).
func Get(t testing.TB) *ControlPlane {
	t.Helper()
	if shared == nil {
		if skipReason != "" {
			t.Skip(skipReason)
		}
		t.Fatal("controlplane.Get: no control plane; call controlplane.Main(m) from TestMain")
	}
	return shared
}
