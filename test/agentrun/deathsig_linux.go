package agentrun

import "syscall"

// setDeathSignal kills the agent if the test process dies first.
func setDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
