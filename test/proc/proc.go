// Package proc runs the real-cluster harnesses' child processes (etcd's
// helpers, kube-controller-manager, kube-proxy in a network namespace): each
// in its own process group, so Stop ends everything it spawned, and on Linux
// killed by the kernel if the test process dies (parent-death signal), so
// nothing outlives a crashed or timed-out test. Unix only (process groups).
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Process is a child started by Start.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// Start runs path with args in a process group of its own, appending stdout
// and stderr to logPath.
func Start(name, path, logPath string, args ...string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer log.Close() // the child has its own copy
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = groupAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id (and its group's).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// killWait bounds the wait for the kernel to reap a SIGKILLed group.
const killWait = 5 * time.Second

// Stop sends SIGTERM to the process group and waits up to timeout for the
// process to exit; then it sends SIGKILL. Stopping on SIGTERM, or having
// exited already, is nil; needing SIGKILL is an error even when the kill
// worked, so a component that ignores SIGTERM shows in the test's result.
func (p *Process) Stop(timeout time.Duration) error {
	if done, _ := p.Exited(); done {
		return nil
	}
	_ = signalGroup(p.Pid(), sigterm)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	_ = signalGroup(p.Pid(), sigkill)
	select {
	case <-p.done:
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.Name, timeout)
	case <-time.After(killWait):
		return errors.New(p.Name + " did not die after SIGKILL")
	}
}

// Tail is the last n lines of a log file under a header naming it, for error
// messages ("" when the file cannot be read).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + filepath.Base(path) + " (last lines) ---\n" + strings.Join(lines, "\n")
}
