package version

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStringNamesVersionCommitAndGo(t *testing.T) {
	Version, Commit = "v1.2.3", "abc1234"
	t.Cleanup(func() { Version, Commit = "dev", "none" })
	assert.Equal(t, "svcmux v1.2.3 (commit abc1234, "+runtime.Version()+")", String())
}
