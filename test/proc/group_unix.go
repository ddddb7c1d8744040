//go:build unix

package proc

import "syscall"

const (
	sigterm = syscall.SIGTERM
	sigkill = syscall.SIGKILL
)

// groupAttr puts the child in a new process group (its pid is the group id)
// and, where the platform has one, sets the parent-death signal.
func groupAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(attr)
	return attr
}

// signalGroup signals every process of the group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
