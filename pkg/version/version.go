// Package version reports the build's version and commit. The Makefile sets both
// with -ldflags "-X github.com/nowakeai/svcmux/pkg/version.Version=… -X ….Commit=…";
// a plain `go build` leaves the defaults, and String falls back to the module
// build info so `go install …@v1.2.3` still reports a version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by ldflags; they are variables only because -X can set nothing else.
var (
	Version = "dev"
	Commit  = "none"
)

// String is "svcmux <version> (commit <commit>, <go version>)".
func String() string {
	v, c := Version, Commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if c == "none" {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 7 {
					c = s.Value[:7]
				}
			}
		}
	}
	return fmt.Sprintf("svcmux %s (commit %s, %s)", v, c, runtime.Version())
}
