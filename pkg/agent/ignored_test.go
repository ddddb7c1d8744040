package agent

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// ChannelFieldIgnored stands behind every pass of the mux (the planner states it
// each time), yet the agent posts it once per distinct set of fields.
func TestChannelFieldIgnoredIsPostedOncePerDistinctSet(t *testing.T) {
	mux := muxService(testDefaultNS, "mux", nil)
	ch := channelService("app", "api", testKeys.ClassPrefix()+"mux")
	ch.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
	c, rec := newTestController(t, &stubExecutor{}, mux, ch)
	ignored := func() []string {
		var out []string
		for _, e := range drain(rec) {
			if strings.HasPrefix(e, "Warning ChannelFieldIgnored ") {
				out = append(out, e)
			}
		}
		return out
	}
	resync := func(svcs ...*corev1.Service) {
		t.Helper()
		var l snapshot.Lists
		for _, s := range svcs {
			l.Services = append(l.Services, *s)
		}
		r, err := snapshot.FromLists(testKeys, testDefaultNS, l)
		require.NoError(t, err)
		c.reader = r
		require.NoError(t, c.sync(t.Context(), testDefaultNS+"/mux"))
	}

	require.NoError(t, c.sync(t.Context(), testDefaultNS+"/mux"))
	assert.Equal(t, []string{"Warning ChannelFieldIgnored channel app/api: the shared load balancer of mux svc-mux/mux ignores " +
		"spec.loadBalancerSourceRanges (set it on the mux, where it applies to every channel, or give the workload its own load balancer)"}, ignored())
	require.NoError(t, c.sync(t.Context(), testDefaultNS+"/mux"))
	assert.Empty(t, ignored(), "a second pass over the same channel posts nothing")

	other := ch.DeepCopy()
	other.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24"}
	resync(mux, other)
	assert.Empty(t, ignored(), "other CIDRs in the same field are the same set")

	other.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	resync(mux, other)
	got := ignored()
	require.Len(t, got, 1, "a new set is told once")
	assert.Contains(t, got[0], "; spec.sessionAffinity: ClientIP (")
}
