//go:build linux

package proc

import "syscall"

// setDeathSignal: the kernel SIGKILLs the child when the thread that started
// it exits, so a crashed test leaves no process behind.
func setDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
