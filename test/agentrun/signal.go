package agentrun

import "os"

// Signal sends sig to the agent process (fault tests pause a leader with SIGSTOP
// and resume it with SIGCONT).
func (a *Agent) Signal(sig os.Signal) error { return a.cmd.Process.Signal(sig) }
