package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// demoTB lets the demo reuse the control plane harness's object helpers
// (CreateNode, CreatePod, SetPodStatus, SetLoadBalancerIngress), which take a
// testing.TB, outside `go test`. testing.TB cannot be implemented outside the
// testing package (it has an unexported method), so the interface is embedded
// (nil) and every method the helpers may call is overridden; calling one that
// is not would panic on the nil interface, which is loud enough for a demo.
//
// Fatal ends the current step: it panics with a stepFailure that step turns
// back into an error. Cleanups are not run: everything the helpers create
// lives in the demo's control plane, which goes away as a whole.
type demoTB struct {
	testing.TB
	ctx context.Context
}

type stepFailure struct{ err error }

func (t *demoTB) Helper()                  {}
func (t *demoTB) Name() string             { return "demo" }
func (t *demoTB) Context() context.Context { return t.ctx }
func (t *demoTB) Cleanup(func())           {}
func (t *demoTB) Failed() bool             { return false }
func (t *demoTB) Skipped() bool            { return false }
func (t *demoTB) Log(args ...any)          { fmt.Fprintln(os.Stderr, args...) }
func (t *demoTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (t *demoTB) Error(args ...any)                 { t.Fatal(args...) }
func (t *demoTB) Errorf(format string, args ...any) { t.Fatalf(format, args...) }
func (t *demoTB) Fail()                             { t.Fatal("failed") }
func (t *demoTB) FailNow()                          { t.Fatal("failed") }
func (t *demoTB) Fatal(args ...any)                 { panic(stepFailure{fmt.Errorf("%s", fmt.Sprint(args...))}) }
func (t *demoTB) Fatalf(format string, args ...any) { panic(stepFailure{fmt.Errorf(format, args...)}) }
func (t *demoTB) Skip(args ...any)                  { t.Fatal(args...) }
func (t *demoTB) Skipf(format string, args ...any)  { t.Fatalf(format, args...) }
func (t *demoTB) SkipNow()                          { t.Fatal("skipped") }

// step runs fn with a demoTB and returns the failure a helper reported.
func step(ctx context.Context, fn func(t testing.TB)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(stepFailure)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	fn(&demoTB{ctx: ctx})
	return nil
}
