// Package gobin builds this module's commands (./cmd/agent,
// ./cmd/kubectl-svcmux) once per test process, into a temporary directory
// named after the process, so the out-of-process harnesses (test/agentrun,
// test/pluginrun) run the real binaries exactly as an operator would.
package gobin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const dirPrefix = "svcmux-bin-"

var (
	mu     sync.Mutex
	builds = map[string]*build{}
	dir    string // this process's build directory, made on first use
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Build runs `go build` on pkg (a path from the module root, "./cmd/agent")
// the first time it is asked for in this process and returns the binary's
// path; later calls return the same path (or the same error).
func Build(pkg string) (string, error) {
	mu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &build{}
		builds[pkg] = b
	}
	mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	return b.path, b.err
}

func goBuild(pkg string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	d, err := buildDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(d, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// buildDir is made once per process; directories left by processes that have
// ended (their pid is in the name) are removed first, so runs do not pile up
// 40 MB binaries in $TMPDIR.
func buildDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		return dir, nil
	}
	removeStale()
	d, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	dir = d
	return dir, nil
}

func removeStale() {
	for _, prefix := range []string{dirPrefix, oldAgentPrefix} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
		removeEnded(dirs, prefix)
	}
}

// oldAgentPrefix is where test/agentrun built the agent before this package.
const oldAgentPrefix = "svcmux-agent-bin-"

func removeEnded(dirs []string, prefix string) {
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

// RepoRoot is the directory holding the module's go.mod, found upward from
// this source file (test/tools has a go.mod of its own: skipped).
func RepoRoot() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil &&
			!strings.Contains(dir, string(filepath.Separator)+"test"+string(filepath.Separator)+"tools") {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("gobin: no go.mod above %s", file)
		}
	}
}
