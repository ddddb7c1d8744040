//go:build !linux

package controlplane

import (
	"path/filepath"
)

// Outside Linux there is no parent-death signal: components are run directly
// and only Stop ends them (see reexec_linux.go).
func deathSignalWrappers(_, binDir string, names ...string) (map[string]string, func(), error) {
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = filepath.Join(binDir, n)
	}
	return paths, func() {}, nil
}
