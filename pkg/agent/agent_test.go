package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nowakeai/svcmux/pkg/api"
)

// The glue tests below run the whole agent against a fake clientset: informers,
// queue, passes and events. The behaviour on a real control plane is test/e2e's.

// testLogger is where the agents under test log; point it at os.Stdout to debug.
var testLogger = slog.New(slog.DiscardHandler)

func testConfig() Config {
	c := DefaultConfig()
	c.DefaultMuxNamespace = testDefaultNS
	c.LeaderElect = false
	c.MetricsBindAddress, c.HealthProbeBindAddress = "0", "0"
	c.Complete(func(string) string { return "" }, func(string) ([]byte, error) { return nil, assert.AnError })
	return c
}

// startAgent runs the agent until the test ends and returns a channel closed when it stopped.
func startAgent(t *testing.T, cfg Config, client *fake.Clientset) (stop func() error) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, client, testLogger, newIdentity(), newLeaseGuard(time.Now, cfg.RenewDeadline))
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("agent did not stop")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func writes(client *fake.Clientset) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range client.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
		default:
			out = append(out, a)
		}
	}
	return out
}

func eventsOf(t *testing.T, client *fake.Clientset, namespace string) []corev1.Event {
	t.Helper()
	list, err := client.CoreV1().Events(namespace).List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	return list.Items
}

func TestAgentReportsAChannelWhoseMuxDoesNotExistOnce(t *testing.T) {
	client := fake.NewClientset(channelService("app", "web", "svc-mux.nowake.ai/gone"))
	cfg, addr := withMetrics(testConfig())
	stop := startAgent(t, cfg, client)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		events := eventsOf(t, client, "app")
		if assert.Len(c, events, 1) {
			assert.Equal(c, api.ReasonMuxNotFound, events[0].Reason)
			assert.Equal(c, corev1.EventTypeWarning, events[0].Type)
			assert.Equal(c, EventComponent, events[0].Source.Component)
		}
	}, 10*time.Second, 50*time.Millisecond)

	// Touch the channel: a new pass (of the mux its class names, which finds no mux)
	// states the same warning, which is not re-posted.
	before := passesOf(t, addr, testDefaultNS, "gone")
	svc, err := client.CoreV1().Services("app").Get(t.Context(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	svc.Labels = map[string]string{"touched": "yes"}
	svc.ResourceVersion = "2"
	_, err = client.CoreV1().Services("app").Update(t.Context(), svc, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return passesOf(t, addr, testDefaultNS, "gone") > before }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	assert.Len(t, eventsOf(t, client, "app"), 1)
}

func TestAgentInDryRunWritesNothingAndPostsNoEvent(t *testing.T) {
	client := fake.NewClientset(
		muxService(testDefaultNS, "mux", nil),
		channelService("app", "web", "svc-mux.nowake.ai/mux"),
		channelService("app", "lost", "svc-mux.nowake.ai/gone"),
	)
	cfg, addr := withMetrics(testConfig())
	cfg.DryRun = true
	stop := startAgent(t, cfg, client)
	// Both muxes planned (the agent looked), then nothing may have been written.
	require.Eventually(t, func() bool {
		return passesOf(t, addr, testDefaultNS, "mux") > 0 && passesOf(t, addr, testDefaultNS, "gone") > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
	assert.Empty(t, writes(client))
	assert.Empty(t, eventsOf(t, client, ""))
}

func TestAgentReconcilesAMuxAndItsChannel(t *testing.T) {
	client := fake.NewClientset(
		muxService(testDefaultNS, "mux", nil),
		channelService("app", "web", "svc-mux.nowake.ai/mux"),
	)
	cfg, addr := withMetrics(testConfig())
	startAgent(t, cfg, client)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		mux, err := client.CoreV1().Services(testDefaultNS).Get(t.Context(), "mux", metav1.GetOptions{})
		require.NoError(c, err)
		if assert.Len(c, mux.Spec.Ports, 1) {
			assert.Equal(c, int32(8080), mux.Spec.Ports[0].Port)
		}
		assert.Equal(c, `["app/web"]`, mux.Annotations[testKeys.Channels])
		_, err = client.CoreV1().ConfigMaps(testDefaultNS).Get(t.Context(), "mux-port-allocations", metav1.GetOptions{})
		assert.NoError(c, err)
		web, err := client.CoreV1().Services("app").Get(t.Context(), "web", metav1.GetOptions{})
		require.NoError(c, err)
		assert.Equal(c, "http:8080->8080", web.Annotations[testKeys.Ports])
	}, 10*time.Second, 50*time.Millisecond)

	// Converged: the echoes of its own writes wake the agent, and it writes nothing
	// more. A marker edit of the mux is a change the agent must plan (its pass
	// counter moves: the agent looked) that needs no write; the first absorbs the
	// echoes still in flight, the second must find nothing to do.
	marked := func(n int) int {
		before := passesOf(t, addr, testDefaultNS, "mux")
		_, err := client.CoreV1().Services(testDefaultNS).Patch(t.Context(), "mux", types.MergePatchType,
			// The fake clientset keeps resourceVersions as written: move it on, as the API server would.
			[]byte(fmt.Sprintf(`{"metadata":{"resourceVersion":"%d","annotations":{"example.com/marker":"%d"}}}`, 1000+n, n)), metav1.PatchOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return passesOf(t, addr, testDefaultNS, "mux") > before }, 10*time.Second, 10*time.Millisecond)
		return len(writes(client))
	}
	first := marked(1)
	assert.Equal(t, first+1, marked(2), "an idle cluster gets no writes: only the test's own marker patch")
}

// withMetrics serves the agent's /metrics on a loopback address nothing listens
// on now, and returns it: the tests read the pass counters there.
func withMetrics(cfg Config) (Config, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = ln.Close() }()
	cfg.MetricsBindAddress = ln.Addr().String()
	return cfg, cfg.MetricsBindAddress
}

// passesOf reads svcmux_mux_passes_total of mux ns/name from the agent at addr (0 before its first pass).
func passesOf(t *testing.T, addr, namespace, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0 // not serving yet
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	prefix := fmt.Sprintf(`svcmux_mux_passes_total{mux=%q,namespace=%q} `, name, namespace)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

func TestAgentWithLeaderElectionTakesAndReleasesTheLease(t *testing.T) {
	client := fake.NewClientset()
	cfg := testConfig()
	cfg.LeaderElect = true
	cfg.LeaderElectionNamespace = "ops"
	cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 2*time.Second, time.Second, 100*time.Millisecond
	stop := startAgent(t, cfg, client)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		lease, err := client.CoordinationV1().Leases("ops").Get(t.Context(), "svcmux-agent", metav1.GetOptions{})
		if assert.NoError(c, err) && assert.NotNil(c, lease.Spec.HolderIdentity) {
			assert.NotEmpty(c, *lease.Spec.HolderIdentity)
		}
	}, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, stop())
	lease, err := client.CoordinationV1().Leases("ops").Get(t.Context(), "svcmux-agent", metav1.GetOptions{})
	require.NoError(t, err)
	// ReleaseOnCancel: the next replica need not wait for the lease to expire.
	if lease.Spec.HolderIdentity != nil {
		assert.Empty(t, *lease.Spec.HolderIdentity)
	}
}
