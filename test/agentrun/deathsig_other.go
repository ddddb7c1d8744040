//go:build !linux

package agentrun

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
