package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// stubExecutor records the writes of each Run and answers with err (failing at
// stage failed when err is set).
type stubExecutor struct {
	runs   [][]apply.Write
	err    error
	failed apply.Stage
}

func (s *stubExecutor) Run(_ context.Context, writes []apply.Write) (apply.Result, error) {
	s.runs = append(s.runs, writes)
	res := apply.Result{Writes: map[apply.Kind]int{}, Failed: -1}
	if s.err != nil {
		res.Failed = s.failed
	}
	return res, s.err
}

func newTestController(t *testing.T, exec executor, services ...*corev1.Service) (*controller, *record.FakeRecorder) {
	t.Helper()
	var l snapshot.Lists
	for _, s := range services {
		l.Services = append(l.Services, *s)
	}
	reader, err := snapshot.FromLists(testKeys, testDefaultNS, l)
	require.NoError(t, err)
	rec := record.NewFakeRecorder(100)
	m := newMetrics()
	log := slog.New(slog.DiscardHandler)
	return &controller{
		log: log, reader: reader, queue: newQueue(), exec: exec, metrics: m, now: time.Now,
		events: newEventPoster(rec, log, m),
		opts:   plan.Options{Keys: testKeys, DefaultMuxNamespace: testDefaultNS},
	}, rec
}

func TestSyncPlansChannelsOfAMissingMuxAsUnattached(t *testing.T) {
	notAMux := plainService(testDefaultNS, "gone")
	notAMux.Spec.Type = corev1.ServiceTypeLoadBalancer
	for _, tt := range []struct {
		name     string
		services []*corev1.Service
	}{
		{"when the mux Service does not exist", nil},
		{"when the Service lacks the multiplexer annotation", []*corev1.Service{notAMux}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exec := &stubExecutor{}
			services := append(tt.services, channelService("app", "web", "svc-mux.nowake.ai/gone"))
			c, rec := newTestController(t, exec, services...)
			require.NoError(t, c.sync(t.Context(), testDefaultNS+"/gone"))
			require.Len(t, exec.runs, 1)
			require.NotEmpty(t, exec.runs[0], "the channel's condition is written")
			for _, w := range exec.runs[0] {
				assert.Equal(t, "app", w.Namespace)
				assert.Equal(t, "web", w.Name)
			}
			require.Len(t, rec.Events, 1)
			assert.Contains(t, <-rec.Events, "Warning MuxNotFound")
		})
	}
}

func TestSyncLeavesAChannelOfAnExistingMuxToTheMuxPass(t *testing.T) {
	exec := &stubExecutor{}
	c, rec := newTestController(t, exec, muxService(testDefaultNS, "mux", nil), channelService("app", "web", "svc-mux.nowake.ai/mux"))
	require.NoError(t, c.sync(t.Context(), "channel:app/web"))
	assert.Empty(t, exec.runs)
	assert.Empty(t, rec.Events)
}

func TestSyncOfADeletedServiceIsNotAnError(t *testing.T) {
	exec := &stubExecutor{}
	c, _ := newTestController(t, exec)
	assert.NoError(t, c.sync(t.Context(), "channel:app/gone"))
	assert.NoError(t, c.sync(t.Context(), "edge/gone"))
	assert.Empty(t, exec.runs)
}

func TestProcessNextRetriesFailedPassesWithBackoff(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "web", fmt.Errorf("the object has been modified"))
	tests := []struct {
		name        string
		err         error
		wantRetries int
		wantResult  string
	}{
		{"a conflict requeues the key", fmt.Errorf("patch services app/web: %w", conflict), 1, resultConflict},
		{"any other error requeues the key", fmt.Errorf("patch services app/web: timeout"), 1, resultError},
		{"success forgets the key", nil, 0, resultSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := &stubExecutor{err: tt.err}
			c, _ := newTestController(t, exec, channelService("app", "web", "svc-mux.nowake.ai/gone"))
			defer c.queue.ShutDown()
			c.queue.Add(testDefaultNS + "/gone")
			require.True(t, c.processNext(t.Context()))
			assert.Equal(t, tt.wantRetries, c.queue.NumRequeues(testDefaultNS+"/gone"))
			assert.Equal(t, 1.0, counterValue(t, c.metrics.passes.WithLabelValues(passMux, tt.wantResult)))
		})
	}
}

func TestRunStopsWorkersWhenTheContextEnds(t *testing.T) {
	c, _ := newTestController(t, &stubExecutor{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.run(ctx, 3); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("workers did not stop")
	}
	assert.True(t, c.queue.ShuttingDown())
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func TestAPassThatFailsPartWayPostsWhatItDid(t *testing.T) {
	tests := []struct {
		name   string
		failed apply.Stage
		want   []string
	}{
		{"failing at the endpoints stage still tells of the mux ports it changed", apply.StageEndpoints,
			[]string{"Normal MuxAnnotationsUpdated", "Normal MuxPortsChanged"}},
		{"failing at the state stage tells of nothing it did", apply.StageState, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: testDefaultNS, Name: "mux", UID: "mux-uid",
					Annotations: map[string]string{testKeys.Multiplexer: "true"}},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
					Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
			}
			ch := channelService("app", "web", "svc-mux.nowake.ai/mux")
			ch.UID = "web-uid"
			exec := &stubExecutor{err: fmt.Errorf("boom"), failed: tt.failed}
			c, rec := newTestController(t, exec, mux, ch)
			defer c.queue.ShutDown()
			require.Error(t, c.sync(t.Context(), testDefaultNS+"/mux"))
			var got []string
			for len(rec.Events) > 0 {
				e := <-rec.Events
				fields := strings.Fields(e)
				got = append(got, fields[0]+" "+fields[1])
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
