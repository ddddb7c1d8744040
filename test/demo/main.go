// Command demo runs svcmux end to end on this machine, for `make demo`: the
// real control plane of the test harness (etcd, kube-apiserver,
// kube-controller-manager), the real agent binary, a sample mux with three
// channels (default, explicit and automatic port mapping) and ready pods; it
// plays the kubelet and the cloud, waits until the agent has converged, adds a
// newcomer asking for a port already owned (rejected, so the plugin has
// something to show), proves traffic through kube-proxy, writes a report — the
// real plugin's `kubectl svcmux topology -o wide`, the traffic table, the
// plugin commands to try next — and then keeps everything running until
// SIGTERM or SIGINT (`make demo-stop`).
//
// Everything lives in one state directory (-dir, test/.cache/demo by
// default): demo.pid, demo.log (this program's progress), report.txt,
// kubeconfig, agent.log, controlplane-logs/ (a link into the control plane's
// run directory), the marker files ready or failed, and tmp-*/, this run's
// own $TMPDIR, so a demo and a `make test` never share or remove each other's
// files.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// Files in the state directory. The Makefile reads the same names.
const (
	pidFile        = "demo.pid"
	reportFile     = "report.txt"
	readyFile      = "ready"
	failedFile     = "failed"
	kubeconfigFile = "kubeconfig"
	agentLogFile   = "agent.log"
	cpLogsLink     = "controlplane-logs"
	tmpPattern     = "tmp-"
)

func main() {
	dir := flag.String("dir", filepath.Join("test", ".cache", "demo"), "state directory (kubeconfig, pid file, logs, report)")
	plugin := flag.String("plugin", "", "the kubectl-svcmux binary the report runs (default <dir>/bin/kubectl-svcmux)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long the sample may take to converge")
	flag.Parse()
	if err := run(*dir, *plugin, *timeout); err != nil {
		logf("failed: %v", err)
		os.Exit(1)
	}
}

// demo is what the steps share; proveTraffic receives it too.
type demo struct {
	dir     string
	plugin  string // kubectl-svcmux, absolute
	cp      *controlplane.ControlPlane
	agent   *agentrun.Agent
	stops   []func() // run in reverse order on shutdown, before the agent and control plane stop
	timings []string // "control plane 14.2s", ... for the report's first line
}

// OnStop registers fn to run when the demo stops, before the agent and the
// control plane are stopped (for what proveTraffic starts).
func (d *demo) OnStop(fn func()) { d.stops = append(d.stops, fn) }

func (d *demo) path(name string) string { return filepath.Join(d.dir, name) }

func (d *demo) lap(what string, since time.Time) {
	d.timings = append(d.timings, fmt.Sprintf("%s %.1fs", what, time.Since(since).Seconds()))
}

func run(dir, plugin string, timeout time.Duration) (err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	if plugin == "" {
		plugin = filepath.Join(dir, "bin", "kubectl-svcmux")
	}
	if plugin, err = filepath.Abs(plugin); err != nil {
		return err
	}
	if _, err := os.Stat(plugin); err != nil {
		return fmt.Errorf("the plugin the report runs: %w (make demo builds it)", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d := &demo{dir: dir, plugin: plugin}
	if err := d.claimDir(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGHUP) // detached from the terminal that ran make

	defer func() {
		d.shutdown()
		if err != nil {
			_ = os.WriteFile(d.path(failedFile), []byte(err.Error()+"\n"), 0o644)
		}
	}()
	if err := d.start(ctx, timeout); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted before the demo was ready")
		}
		return err
	}
	if err := os.WriteFile(d.path(readyFile), nil, 0o644); err != nil {
		return err
	}
	logf("ready; running until SIGTERM or SIGINT (make demo-stop)")
	d.wait(ctx)
	return nil
}

// claimDir refuses to run beside a live demo, removes what a previous run left
// and writes our pid file.
func (d *demo) claimDir() error {
	if b, err := os.ReadFile(d.path(pidFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != os.Getpid() && isDemo(pid) {
			return fmt.Errorf("a demo is already running (pid %d); stop it with `make demo-stop`", pid)
		}
	}
	for _, f := range []string{readyFile, failedFile, reportFile, kubeconfigFile, cpLogsLink} {
		_ = os.Remove(d.path(f))
	}
	// tmp-* of a run that was killed; its components died with it (parent-death signal).
	stale, _ := filepath.Glob(d.path(tmpPattern + "*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	return os.WriteFile(d.path(pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// isDemo reports whether pid is alive and runs this program (a stale pid file
// may name a recycled pid).
func isDemo(pid int) bool {
	self, err1 := os.Executable()
	exe, err2 := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err1 != nil || err2 != nil {
		return syscall.Kill(pid, 0) == nil
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == filepath.Base(self)
}

func (d *demo) start(ctx context.Context, timeout time.Duration) error {
	// This run's own temporary directory: the control plane keeps its data,
	// certificates, logs and kubeconfig under $TMPDIR, and the agent binary is
	// built there.
	tmp, err := os.MkdirTemp(d.dir, tmpPattern)
	if err != nil {
		return err
	}
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		return err
	}

	began := time.Now()
	logf("starting the control plane (etcd, kube-apiserver, kube-controller-manager) in %s", tmp)
	d.cp, err = controlplane.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	d.lap("control plane", began)
	logf("control plane up in %.1fs (binaries %s)", time.Since(began).Seconds(), d.cp.BinDir())
	_ = os.Symlink(d.cp.LogDir(), d.path(cpLogsLink))
	kc, err := os.ReadFile(d.cp.KubeconfigPath())
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.path(kubeconfigFile), kc, 0o600); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	began = time.Now()
	logf("building and starting the agent (log: %s)", d.path(agentLogFile))
	d.agent, err = agentrun.StartProcess(d.path(kubeconfigFile), d.path(agentLogFile))
	if err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	if err := d.agent.WaitReady(2 * time.Minute); err != nil {
		return fmt.Errorf("agent not ready: %w\n%s", err, d.agent.LogTail(30))
	}
	d.lap("agent", began)
	logf("agent ready in %.1fs (metrics http://%s/metrics)", time.Since(began).Seconds(), d.agent.MetricsAddr)

	began = time.Now()
	logf("creating the sample: mux %s/%s, channels %s in namespace %s, ready pods, load balancer %s",
		muxNamespace, muxName, channelNames(), channelNamespace, ingressIP)
	if err := d.createSample(ctx); err != nil {
		return err
	}
	logf("waiting for the agent to converge")
	if err := d.waitConverged(ctx, timeout); err != nil {
		return fmt.Errorf("%w\nagent log (last lines):\n%s", err, d.agent.LogTail(30))
	}
	d.lap("converged", began)
	logf("converged in %.1fs", time.Since(began).Seconds())

	began = time.Now()
	logf("adding channel %s/%s, which asks for %s: the agent must reject it", channelNamespace, rejected.name, rejected.external)
	if err := d.addRejected(ctx, timeout); err != nil {
		return fmt.Errorf("%w\nagent log (last lines):\n%s", err, d.agent.LogTail(30))
	}
	d.lap("rejected", began)
	logf("rejected in %.1fs", time.Since(began).Seconds())

	var report bytes.Buffer
	if err := d.writeTopology(ctx, &report); err != nil {
		return err
	}
	if err := proveTraffic(ctx, d, &report); err != nil {
		return fmt.Errorf("proving traffic through the mux: %w", err)
	}
	if err := d.writeHints(ctx, &report); err != nil {
		return err
	}
	return os.WriteFile(d.path(reportFile), report.Bytes(), 0o644)
}

// wait returns on SIGTERM/SIGINT. An agent that exits on its own is reported
// and the control plane kept, for inspection.
func (d *demo) wait(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	reported := false
	for {
		select {
		case <-ctx.Done():
			logf("stopping")
			return
		case <-tick.C:
			if !reported && d.agent.Exited() {
				logf("the agent exited on its own; see %s (the control plane keeps running)", d.path(agentLogFile))
				reported = true
			}
		}
	}
}

// shutdown stops everything started, in reverse, and removes the run's files
// (logs and the report stay for a post-mortem).
func (d *demo) shutdown() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	if d.agent != nil {
		d.agent.Stop()
	}
	if d.cp != nil {
		if err := d.cp.Stop(); err != nil {
			logf("stopping the control plane: %v", err)
		}
	}
	if tmp := os.Getenv("TMPDIR"); strings.HasPrefix(tmp, d.path(tmpPattern)) {
		_ = os.RemoveAll(tmp)
	}
	for _, f := range []string{readyFile, kubeconfigFile, cpLogsLink, pidFile} {
		_ = os.Remove(d.path(f))
	}
	if d.cp != nil {
		logf("stopped")
	}
}

func channelNames() string {
	names := make([]string, len(channels))
	for i, c := range channels {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// logf writes a progress line to stderr (demo.log when run by make).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}

var errNotConverged = errors.New("the sample did not converge")
