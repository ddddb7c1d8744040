package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// probe is one GET of the agent's HTTP server; code 0 while it is not listening yet.
func probe(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, ""
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func TestReadyzTurnsOKOnlyOnceTheCachesHaveSynced(t *testing.T) {
	client := fake.NewClientset(muxService(testDefaultNS, "mux", nil))
	// The Services List waits for the test: until then no cache can sync.
	release := make(chan struct{})
	client.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-release
		return false, nil, nil
	})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	cfg := testConfig()
	cfg.HealthProbeBindAddress = freeAddr(t)
	stop := startAgent(t, cfg, client)
	defer func() { unblock(); _ = stop() }()

	require.Eventually(t, func() bool { code, _ := probe(cfg.HealthProbeBindAddress, "/readyz"); return code != 0 },
		10*time.Second, 10*time.Millisecond)
	code, body := probe(cfg.HealthProbeBindAddress, "/readyz")
	assert.Equal(t, []any{http.StatusServiceUnavailable, "informer caches not synced\n"}, []any{code, body})
	code, body = probe(cfg.HealthProbeBindAddress, "/healthz")
	assert.Equal(t, []any{http.StatusOK, "ok"}, []any{code, body}, "without leader election there is no lease to have lost")

	unblock()
	require.Eventually(t, func() bool { code, _ := probe(cfg.HealthProbeBindAddress, "/readyz"); return code == http.StatusOK },
		10*time.Second, 10*time.Millisecond)
	_, body = probe(cfg.HealthProbeBindAddress, "/readyz")
	assert.Equal(t, "ok", body)
}

func TestAnAddressAlreadyInUseStopsTheServersStartedBeforeIt(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	first := freeAddr(t)
	_, err = startHTTP(slog.New(slog.DiscardHandler), []endpoint{
		{addr: first, path: "/metrics", handler: http.NotFoundHandler()},
		{addr: taken.Addr().String(), path: "/healthz", handler: http.NotFoundHandler()},
	})
	require.Error(t, err)
	assert.Equal(t, "listen on "+taken.Addr().String()+": listen tcp "+taken.Addr().String()+": bind: address already in use", err.Error())
	// The first server was shut down: its listener closes once its Serve goroutine runs.
	require.Eventually(t, func() bool {
		ln, err := net.Listen("tcp", first)
		if err == nil {
			_ = ln.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
}

func TestWaitSyncedStoppedBeforeTheCachesSyncIsNoError(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ok, err := waitSynced(ctx, []cache.InformerSynced{func() bool { return false }})
	assert.False(t, ok)
	assert.NoError(t, err, "a shutdown during startup is not a failure")
}

func TestWithoutACoalesceWindowAKeyIsQueuedAtOnce(t *testing.T) {
	queue := newQueue()
	defer queue.ShutDown()
	coalescing(queue, 0)("edge/mux")
	assert.Equal(t, 1, queue.Len())
}

// quietLog is a text logger without times, for exact log assertions.
func quietLog(b *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

func TestEarlierEventsAreReadPageByPageAndAFailedReadIsOnlyAWarning(t *testing.T) {
	own := func(name, uid string) corev1.Event {
		return corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name},
			InvolvedObject: corev1.ObjectReference{UID: types.UID("uid-" + name)}, Source: corev1.EventSource{Component: EventComponent},
			Type: corev1.EventTypeWarning, Reason: "MuxNotFound", Message: uid}
	}
	pages := map[string]*corev1.EventList{
		"":   {ListMeta: metav1.ListMeta{Continue: "p2"}, Items: []corev1.Event{own("a", "first")}},
		"p2": {Items: []corev1.Event{own("b", "second")}},
	}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no RBAC for list"))
	tests := []struct {
		name    string
		reactor k8stesting.ReactionFunc
		want    string
	}{
		{"two pages are both remembered", func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, pages[a.(k8stesting.ListActionImpl).GetListOptions().Continue], nil
		}, "level=DEBUG msg=\"remembered earlier events\" count=2\n"},
		{"a Forbidden list is a warning and nothing is remembered", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, forbidden
		}, "level=WARN msg=\"could not read earlier events; standing warnings may be posted again\" error=\"events is forbidden: no RBAC for list\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("list", "events", tt.reactor)
			var logs bytes.Buffer
			log := quietLog(&logs)
			rememberEvents(t.Context(), false, client, newEventPoster(nil, log, nil), log)
			assert.Equal(t, tt.want, logs.String())
		})
	}
}
