package version

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A test binary carries build info without a module version or a VCS revision,
// as a plain `go build` outside a checkout does: String keeps the defaults.
func TestAPlainBuildWithoutVersionOrRevisionSaysDevAndNone(t *testing.T) {
	assert.Equal(t, "svcmux dev (commit none, "+runtime.Version()+")", String())
}
