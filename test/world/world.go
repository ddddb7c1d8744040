// Package world is the one end-to-end test world of svcmux: a namespace of
// its own on the shared test control plane, an admin clientset, the contract's
// keys under the prefix in force, and the helpers every real-cluster test needs
// (muxes and channels, pods, playing the cloud, writers with a chosen field
// manager, waits that report what they last saw, the state ConfigMap, Events,
// the agent and the kubectl plugin run out of process).
//
// # Style: X fails the test, XE returns the error
//
// Every helper comes in two forms on *World:
//
//	svc, err := w.CreateMuxE("mux", nil) // returns the error; never touches a testing.TB
//	svc := w.CreateMux("mux", nil)       // same, and fails the test (t.Fatalf) on error
//
// The E form is the implementation; the plain form is a thin wrapper that calls
// t.Helper and t.Fatalf. A World made by New holds the test's TB and context; a
// World made by Open (the demo, a benchmark driver) has no TB: call only E
// forms on it (a plain form panics with a message saying so).
//
// Keys are spelled out here from the contract (SPEC §1, §5), never taken from
// the product's own key table, so a renamed key in pkg/api fails these tests.
// The mux port-name hash is likewise written here once (PortName) and pinned
// by hand-computed vectors.
//
//	func TestSomething(t *testing.T) {
//		w := world.New(t)
//		w.CreateMux("mux", nil)
//		w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
//		a := w.StartAgent()
//		w.WaitAccepted("api", "http:8080->8080")
//		w.AwaitPass(a, "mux") // before asserting that nothing else happened
//	}
package world

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// DefaultPrefix is the contract's default annotation prefix (SPEC §1).
const DefaultPrefix = "svc-mux.nowake.ai"

// DefaultTimeout bounds every wait for the agent or the cluster to converge.
// Generous: two cores are shared by the control plane, the agent and the test.
const DefaultTimeout = 30 * time.Second

// World is one test's share of the control plane.
type World struct {
	CP        *controlplane.ControlPlane
	Client    kubernetes.Interface
	Namespace string
	// Prefix is the annotation prefix the agent and plugin are run with and
	// every key is built from; change it before creating objects.
	Prefix string
	// Timeout bounds every Wait* helper.
	Timeout time.Duration

	t   testing.TB // nil for a World made by Open
	ctx context.Context
}

// New gives the test its own namespace (deleted, with its contents, when the
// test ends) on the package's control plane (controlplane.Main must run from
// TestMain).
func New(t testing.TB) *World {
	t.Helper()
	cp := controlplane.Get(t)
	return &World{CP: cp, Client: cp.Client(), Namespace: cp.Namespace(t),
		Prefix: DefaultPrefix, Timeout: DefaultTimeout, t: t, ctx: t.Context()}
}

// Open is a World on an existing namespace, outside tests (no TB: use only the
// E forms). The caller owns the namespace and cancels ctx.
func Open(ctx context.Context, cp *controlplane.ControlPlane, namespace string) *World {
	return &World{CP: cp, Client: cp.Client(), Namespace: namespace,
		Prefix: DefaultPrefix, Timeout: DefaultTimeout, ctx: ctx}
}

// Context is the test's context (cancelled when the test ends).
func (w *World) Context() context.Context { return w.ctx }

// T is the test the World belongs to (nil for a World made by Open).
func (w *World) T() testing.TB { return w.t }

// Key is "<prefix>/<name>", e.g. Key("ports").
func (w *World) Key(name string) string { return w.Prefix + "/" + name }

// Class is the loadBalancerClass naming mux in the World's namespace.
func (w *World) Class(mux string) string { return w.ClassIn(mux, w.Namespace) }

// ClassIn is the loadBalancerClass naming mux in namespace ("" omits the
// namespace: the agent's default mux namespace is then used).
func (w *World) ClassIn(mux, namespace string) string {
	if namespace == "" {
		return w.Key(mux)
	}
	return w.Key(mux + "." + namespace)
}

// Ref is "namespace/name" in the World's namespace.
func (w *World) Ref(name string) string { return w.Namespace + "/" + name }

// must is the body of every plain (non-E) helper: fail the test on err.
func (w *World) must(err error) {
	if err == nil {
		return
	}
	if w.t == nil {
		panic(fmt.Sprintf("world: %v (a World from Open has no testing.TB: use the E form)", err))
	}
	w.t.Helper()
	w.t.Fatal(err)
}

// tb is the test, for the few helpers that exist only in the plain form
// (they register cleanups).
func (w *World) tb() testing.TB {
	if w.t == nil {
		panic("world: this helper needs a testing.TB; a World from Open has none")
	}
	return w.t
}

// Poll calls cond until it returns true, at most timeout (w.Timeout when 0)
// and never past the World's context. On timeout the error carries the state
// cond last described, e.g. "mux ports [...], want [...]"; an error from cond
// is kept as that state and polling goes on (the API may be briefly busy).
func (w *World) Poll(timeout time.Duration, cond func() (ok bool, state string, err error)) error {
	if timeout == 0 {
		timeout = w.Timeout
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, state, err := cond()
		if err != nil {
			state = err.Error()
		} else if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not met within %v; last observed: %s", timeout, state)
		}
		select {
		case <-w.ctx.Done():
			return fmt.Errorf("context ended while waiting (%v); last observed: %s", w.ctx.Err(), state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
