package controlplane

import (
	"os"
	"path/filepath"
	"strconv"
)

// rearmWrappers sets the environment the death-signal wrapper (reexec_linux.go)
// reads, as deathSignalWrappers did for the first start, so that envtest
// starting a component again through the same symlink execs the real binary.
func rearmWrappers(runDir, binDir string) (undo func(), err error) {
	value := strconv.Itoa(os.Getpid()) + "\n" + filepath.Join(runDir, "wrap") + "\n" + binDir
	if err := os.Setenv(envWrap, value); err != nil {
		return nil, err
	}
	return func() { _ = os.Unsetenv(envWrap) }, nil
}
