//go:build unix && !linux

package proc

import "syscall"

// Outside Linux there is no parent-death signal: only Stop ends the child.
func setDeathSignal(*syscall.SysProcAttr) {}
