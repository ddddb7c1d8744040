// Package agentrun runs the real agent binary (cmd/agent) against a test control
// plane, out of process, exactly as an operator would run it with --kubeconfig:
// end-to-end tests, benchmarks and the demo start, stop and restart it, and read
// its Prometheus metrics to count the writes it made.
package agentrun

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nowakeai/svcmux/test/gobin"
	"github.com/nowakeai/svcmux/test/proc"
)

// Binary builds cmd/agent once per process and returns its path.
func Binary() (string, error) { return gobin.Build("./cmd/agent") }

// Agent is one running agent process.
type Agent struct {
	MetricsAddr string
	HealthAddr  string
	LogPath     string
	cmd         *exec.Cmd
	done        chan struct{}
	stopOnce    sync.Once
}

// Start runs the agent with --kubeconfig, leader election off unless args turn
// it on, metrics and probes on free loopback ports, and waits until /readyz
// answers 200 (caches synced). The agent is stopped when the test ends.
func Start(t testing.TB, kubeconfig string, args ...string) *Agent {
	t.Helper()
	a, err := StartProcess(kubeconfig, filepath.Join(t.TempDir(), "agent.log"), args...)
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	t.Cleanup(a.Stop)
	if err := a.WaitReady(60 * time.Second); err != nil {
		t.Fatalf("agent not ready: %v\n%s", err, a.LogTail(40))
	}
	return a
}

// StartProcess starts the agent without waiting; callers outside tests (the demo)
// use it directly and must call Stop.
func StartProcess(kubeconfig, logPath string, args ...string) (*Agent, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	a := &Agent{MetricsAddr: freeAddr(), HealthAddr: freeAddr(), LogPath: logPath, done: make(chan struct{})}
	full := []string{"--kubeconfig=" + kubeconfig, "--leader-elect=false",
		"--metrics-bind-address=" + a.MetricsAddr, "--health-probe-bind-address=" + a.HealthAddr,
		"--log-level=debug"}
	full = append(full, args...) // later flags win
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	a.cmd = exec.Command(bin, full...)
	a.cmd.Stdout, a.cmd.Stderr = logFile, logFile
	a.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setDeathSignal(a.cmd.SysProcAttr) // never outlive the test process
	if err := a.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		_ = a.cmd.Wait()
		logFile.Close()
		close(a.done)
	}()
	return a, nil
}

// freeAddr picks a free loopback port. The tiny window before the agent binds it
// is acceptable in tests.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitReady polls /readyz until it answers 200.
func (a *Agent) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return fmt.Errorf("agent exited: %s", a.cmd.ProcessState)
		default:
		}
		if resp, err := http.Get("http://" + a.HealthAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("/readyz not 200 within %v", timeout)
}

// Stop sends SIGTERM and waits (then kills after 15 s). Safe to call twice.
func (a *Agent) Stop() {
	a.stopOnce.Do(func() {
		if a.cmd.Process == nil {
			return
		}
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(15 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.done
		}
	})
}

// Kill stops the agent at once (a crash), without releasing its lease.
func (a *Agent) Kill() {
	a.stopOnce.Do(func() {
		_ = a.cmd.Process.Kill()
		<-a.done
	})
}

// Pid is the agent's process id: the benchmark reads its peak RSS and CPU time
// from /proc/<pid>.
func (a *Agent) Pid() int { return a.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (a *Agent) Exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// Metric sums every sample of a metric family whose labels contain all of match
// ("kind=mux"), from /metrics. A missing family is 0.
func (a *Agent) Metric(name string, match ...string) (float64, error) {
	resp, err := http.Get("http://" + a.MetricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		ok := true
		for _, m := range match {
			kv := strings.SplitN(m, "=", 2)
			if len(kv) == 2 && !strings.Contains(line, kv[0]+`="`+kv[1]+`"`) {
				ok = false
			}
		}
		if ok {
			total += v
		}
	}
	return total, sc.Err()
}

// Writes is svcmux_writes_total summed over kinds (optionally "kind=channel").
func (a *Agent) Writes(t testing.TB, match ...string) int {
	t.Helper()
	v, err := a.Metric("svcmux_writes_total", match...)
	if err != nil {
		t.Fatalf("read agent metrics: %v", err)
	}
	return int(v)
}

// LogTail returns the last n lines of the agent's log.
func (a *Agent) LogTail(n int) string { return proc.Tail(a.LogPath, n) }
