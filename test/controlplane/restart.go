package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// apiServerGrace is how long RestartAPIServer lets kube-apiserver shut down on
// SIGTERM before it kills it. Its graceful shutdown waits for open watches (every
// client has some) up to its own long timeout; clients see the same either way:
// their connections and watches break.
const apiServerGrace = 3 * time.Second

// RestartAPIServer stops kube-apiserver (SIGTERM, SIGKILL after a few seconds) and
// starts it again on the same port, certificates, flags and etcd, whose data is
// kept: clients see their connections and watches break, then the same cluster
// come back. It returns once /healthz answers again, with how long the API server
// was away. Not safe to call concurrently with Stop.
func (cp *ControlPlane) RestartAPIServer() (time.Duration, error) {
	cp.stopMu.Lock()
	defer cp.stopMu.Unlock()
	if cp.env == nil {
		return 0, fmt.Errorf("restart kube-apiserver: the control plane is stopped")
	}
	began := time.Now()
	pid, err := cp.apiServerPid()
	if err != nil {
		return 0, err
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	awaitExit(pid, apiServerGrace)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	api := cp.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil { // reaps it and resets envtest's state
		return 0, fmt.Errorf("stop kube-apiserver: %w", err)
	}
	undo, err := rearmWrappers(cp.runDir, cp.binDir)
	if err != nil {
		return 0, err
	}
	defer undo()
	// The first start's log file was closed once the child had its copy.
	logPath := filepath.Join(cp.LogDir(), "kube-apiserver.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	api.Out, api.Err = logFile, logFile
	if err := api.Start(); err != nil {
		return 0, fmt.Errorf("start kube-apiserver again: %w\n%s", err, tail(logPath, 40))
	}
	return time.Since(began), nil
}

// awaitExit polls (every 20 ms) until process pid is gone or grace has passed.
// A poll: nothing tells this process when another one exits.
func awaitExit(pid int, grace time.Duration) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(grace)
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// apiServerPid finds this control plane's kube-apiserver by its certificate
// directory on the command line.
func (cp *ControlPlane) apiServerPid() (int, error) {
	want := "--cert-dir=" + filepath.Join(cp.runDir, "apiserver")
	for _, c := range cp.components() {
		if c.name == "kube-apiserver" && slices.Contains(c.args, want) {
			return c.pid, nil
		}
	}
	return 0, fmt.Errorf("restart kube-apiserver: no process with %s", want)
}
