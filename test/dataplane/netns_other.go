//go:build !linux

package dataplane

import (
	"fmt"
	"runtime"
)

// platformError: network namespaces (and kube-proxy's rules in them) are
// Linux only, so a node never starts here and NewNode skips the test.
func platformError() error {
	return fmt.Errorf("%w: network namespaces are Linux only (this is %s)", ErrUnsupported, runtime.GOOS)
}

// do is never reached outside Linux (Preflight refuses first).
func (n netns) do(func() error) error { return platformError() }
