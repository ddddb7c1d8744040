package bench

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nowakeai/svcmux/test/controlplane"
)

func TestTheReportListsEachControlPlaneComponentWithTheFlagsItRunsWith(t *testing.T) {
	got := controlplane.Get(t).CommandLines()
	require.ElementsMatch(t, []string{"etcd", "kube-apiserver", "kube-controller-manager"}, slices.Collect(maps.Keys(got)))
	assert.Contains(t, strings.Split(got["kube-controller-manager"], "\n"), "--kube-api-qps=1000", "one flag a line, as it was given")
	for name, flags := range got {
		assert.Contains(t, flags, "<run>", "%s: the run directory is shown as <run>", name)
	}
	section := componentFlags(got)
	assert.Contains(t, section, "<details><summary>kube-apiserver</summary>")
	assert.Equal(t, "- control plane: its command lines could not be read\n\n", componentFlags(nil))
}
