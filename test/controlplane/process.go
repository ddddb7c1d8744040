package controlplane

import (
	"time"

	"github.com/nowakeai/svcmux/test/proc"
)

// process is a component child (kube-controller-manager) started by
// test/proc: in its own process group, so stop signals everything it
// spawned, and on Linux killed if the test process dies, so nothing outlives
// a crashed or timed-out test. etcd and kube-apiserver are started by envtest
// through the death-signal wrappers instead (reexec_linux.go).
type process struct{ *proc.Process }

// startProcess runs path with args, appending stdout and stderr to logPath.
func startProcess(name, path, logPath string, args ...string) (*process, error) {
	p, err := proc.Start(name, path, logPath, args...)
	if err != nil {
		return nil, err
	}
	return &process{p}, nil
}

// exited reports whether the process has exited, and how.
func (p *process) exited() (bool, error) { return p.Exited() }

// stop sends SIGTERM to the process group, then SIGKILL after timeout (an
// error: the component ignored SIGTERM), and waits for it to be reaped.
func (p *process) stop(timeout time.Duration) error { return p.Stop(timeout) }

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string { return proc.Tail(path, n) }
