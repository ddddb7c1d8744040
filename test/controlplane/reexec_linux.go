package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Components must not outlive the test process. Stop handles the normal
// path, but `go test -timeout` panics, Ctrl-C and SIGKILL end the test binary
// without running it, and the components sit in their own process groups
// (Setpgid, so Stop can kill whole groups), where the terminal's SIGINT does
// not reach them either. Linux can deliver a signal to a child when its
// parent dies (PR_SET_PDEATHSIG), which survives execve.
//
// For kube-controller-manager, which we start ourselves, SysProcAttr.Pdeathsig
// does it. etcd and kube-apiserver are started by envtest, which takes only a
// binary path. So envtest is given symlinks to the test binary itself, named
// after the components; the init below runs first in such a child, arms
// PR_SET_PDEATHSIG and execs the real component with the same arguments and
// pid (so envtest's health checks and process-group signals still apply).
// Any test binary importing this package has the init; it does nothing unless
// envWrap is set and argv[0] lies in the wrapper directory it names.
//
// Caveat: the signal fires when the parent *thread* exits. Go only ends
// threads whose goroutine exits while locked with runtime.LockOSThread; don't
// start the control plane from such a goroutine.
const envWrap = "SVCMUX_CONTROLPLANE_WRAP" // "<parent pid>\n<wrapper dir>\n<real bin dir>"

func init() {
	v, ok := os.LookupEnv(envWrap)
	if !ok {
		return
	}
	parts := strings.SplitN(v, "\n", 3)
	if len(parts) != 3 || filepath.Dir(os.Args[0]) != parts[1] {
		return
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "controlplane wrapper: prctl:", errno)
		os.Exit(126)
	}
	// The parent may have died before prctl: then we are orphaned already.
	if strconv.Itoa(os.Getppid()) != parts[0] {
		os.Exit(1)
	}
	real := filepath.Join(parts[2], filepath.Base(os.Args[0]))
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envWrap+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), env)
	fmt.Fprintln(os.Stderr, "controlplane wrapper: exec", real+":", err)
	os.Exit(127)
}

// deathSignalWrappers returns, per component name, the path envtest should
// run: a symlink to this test binary in runDir/wrap. undo must be called once
// the components have started (it unsets envWrap, which children inherit).
func deathSignalWrappers(runDir, binDir string, names ...string) (map[string]string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	wrapDir := filepath.Join(runDir, "wrap")
	if err := os.MkdirAll(wrapDir, 0o755); err != nil {
		return nil, nil, err
	}
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = filepath.Join(wrapDir, n)
		if err := os.Symlink(self, paths[n]); err != nil {
			return nil, nil, err
		}
	}
	value := strconv.Itoa(os.Getpid()) + "\n" + wrapDir + "\n" + binDir
	if err := os.Setenv(envWrap, value); err != nil {
		return nil, nil, err
	}
	return paths, func() { _ = os.Unsetenv(envWrap) }, nil
}
