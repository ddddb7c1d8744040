//go:build linux

package dataplane

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// platformError is nil: Linux has network namespaces.
func platformError() error { return nil }

// do runs fn on an OS thread switched into the namespace, then switches the
// thread back. Sockets fn creates stay in the namespace for their lifetime,
// wherever they are used afterwards: this is how the test process listens
// inside pod namespaces and dials from client namespaces without spawning
// anything. If the thread cannot be switched back it stays locked, so the Go
// runtime ends it with the goroutine instead of reusing it.
func (n netns) do(fn func() error) error {
	target, err := os.Open(n.path())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", n, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	// A fresh goroutine: whatever happens to its thread never affects the
	// caller's goroutine.
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", n, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(fnErr, fmt.Errorf("setns back from %s: %w", n, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}
