package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// With --namespace-selector, the agent watches Namespaces once a mux uses a
// selector: the channel of a labelled namespace is served, and relabelling the
// namespace re-plans the mux, which refuses the channel.
func TestASelectorMuxFollowsNamespaceLabels(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"team": "a"}, ResourceVersion: "1"}},
		muxService(testDefaultNS, "mux", map[string]string{testKeys.AllowedNamespaceSelector: "team=a"}),
		channelService("app", "web", "svc-mux.nowake.ai/mux"),
	)
	cfg := testConfig()
	cfg.NamespaceSelector = true
	startAgent(t, cfg, client)
	condition := func(c *assert.CollectT) *metav1.Condition {
		web, err := client.CoreV1().Services("app").Get(t.Context(), "web", metav1.GetOptions{})
		require.NoError(c, err)
		for i := range web.Status.Conditions {
			if web.Status.Conditions[i].Type == testKeys.AcceptedCondition {
				return &web.Status.Conditions[i]
			}
		}
		return nil
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if cond := condition(c); assert.NotNil(c, cond) {
			assert.Equal(c, "Accepted", cond.Reason)
		}
	}, 10*time.Second, 20*time.Millisecond)

	_, err := client.CoreV1().Namespaces().Update(t.Context(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"team": "b"}, ResourceVersion: "2"}}, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if cond := condition(c); assert.NotNil(c, cond) {
			assert.Equal(c, "NamespaceNotAllowed", cond.Reason)
		}
	}, 10*time.Second, 20*time.Millisecond)
}

// Without --namespace-selector no Namespace is ever read: the selector mux is
// frozen with the message saying how to turn it on.
func TestWithoutNamespaceSelectorTheAgentReadsNoNamespace(t *testing.T) {
	client := fake.NewClientset(
		muxService(testDefaultNS, "mux", map[string]string{testKeys.AllowedNamespaceSelector: "team=a"}),
		channelService("app", "web", "svc-mux.nowake.ai/mux"),
	)
	cfg, addr := withMetrics(testConfig())
	startAgent(t, cfg, client)
	require.Eventually(t, func() bool { return passesOf(t, addr, testDefaultNS, "mux") > 0 }, 10*time.Second, 10*time.Millisecond)
	for _, a := range client.Actions() {
		assert.NotEqual(t, "namespaces", a.GetResource().Resource, "%s %s", a.GetVerb(), a.GetResource())
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		evs := eventsOf(t, client, testDefaultNS)
		if assert.Len(c, evs, 1) {
			assert.Equal(c, "InvalidAllowedNamespaces", evs[0].Reason)
		}
	}, 10*time.Second, 20*time.Millisecond)
}
