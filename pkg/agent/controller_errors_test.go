package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

var errCache = errors.New("cache unavailable")

// unreadable is a Service cache whose reads of some keys fail; the informer's
// own store never fails, so only this shows what a pass does with such an error.
type unreadable struct {
	cache.Indexer
	keys map[string]bool
}

func (u unreadable) GetByKey(key string) (any, bool, error) {
	if u.keys[key] {
		return nil, false, errCache
	}
	return u.Indexer.GetByKey(key)
}

// servicesOnly is a reader over services alone, indexed as the informer is unless
// indexed is false (then every index lookup fails), with reads of broken keys failing.
func servicesOnly(t *testing.T, indexed bool, services []*corev1.Service, broken ...string) *snapshot.Reader {
	t.Helper()
	indexers := cache.Indexers{}
	if indexed {
		indexers = snapshot.ServiceIndexers(testKeys, testDefaultNS)
	}
	store := cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexers)
	for _, s := range services {
		require.NoError(t, store.Add(s))
	}
	u := unreadable{Indexer: store, keys: map[string]bool{}}
	for _, k := range broken {
		u.keys[k] = true
	}
	return snapshot.NewReader(testKeys, snapshot.Sources{Services: u})
}

func TestAPassWhoseCacheReadFailsIsRetriedAndCountedAsASnapshotError(t *testing.T) {
	mux := muxService(testDefaultNS, "mux", nil)
	web := channelService("app", "web", "svc-mux.nowake.ai/mux")
	lost := channelService("app", "lost", "svc-mux.nowake.ai/gone")
	tests := []struct {
		name    string
		key     string
		indexed bool
		broken  []string
		want    string
	}{
		{"a mux whose Service cannot be read", testDefaultNS + "/mux", true, []string{testDefaultNS + "/mux"}, "cache unavailable"},
		{"a mux whose channels cannot be listed", testDefaultNS + "/mux", false, nil,
			"list channels of mux svc-mux/mux: Index with name svcmux.nowake.ai/mux does not exist"},
		{"a missing mux whose channels cannot be listed", testDefaultNS + "/gone", false, nil,
			"list channels of mux svc-mux/gone: Index with name svcmux.nowake.ai/mux does not exist"},
		{"a channel whose Service cannot be read", "channel:app/web", true, []string{"app/web"}, "cache unavailable"},
		{"a channel whose mux cannot be read", "channel:app/web", true, []string{testDefaultNS + "/mux"}, "cache unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := &stubExecutor{}
			c, rec := newTestController(t, exec)
			c.reader = servicesOnly(t, tt.indexed, []*corev1.Service{mux, web, lost}, tt.broken...)
			err := c.sync(t.Context(), tt.key)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, 1.0, counterValue(t, c.metrics.errors.WithLabelValues("snapshot")))
			assert.Empty(t, exec.runs, "nothing is written from a partial read")
			assert.Empty(t, rec.Events)
		})
	}
}

func TestAChannelNoMuxCoversIsPlannedByItsOwnPass(t *testing.T) {
	tests := []struct {
		name      string
		svc       *corev1.Service
		execErr   error
		wantErr   string
		wantEvent string
	}{
		{"a class that does not parse", channelService("app", "odd", "svc-mux.nowake.ai/a.b.c"), nil, "",
			"Warning InvalidLoadBalancerClass"},
		{"a class naming a mux that does not exist", channelService("app", "odd", "svc-mux.nowake.ai/gone"), nil, "",
			"Warning MuxNotFound"},
		{"a write that fails is the pass's error, and nothing is told",
			channelService("app", "odd", "svc-mux.nowake.ai/gone"), errors.New("patch services app/odd: timeout"),
			"reconcile channel app/odd: patch services app/odd: timeout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := &stubExecutor{err: tt.execErr, failed: apply.StageChannels}
			c, rec := newTestController(t, exec, tt.svc)
			err := c.sync(t.Context(), "channel:app/odd")
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
			}
			require.Len(t, exec.runs, 1)
			var targets []string
			for _, w := range exec.runs[0] {
				targets = append(targets, w.Namespace+"/"+w.Name)
			}
			assert.Equal(t, []string{"app/odd"}, unique(targets), "only the channel itself is written")
			var got []string
			for len(rec.Events) > 0 {
				f := strings.Fields(<-rec.Events)
				got = append(got, f[0]+" "+f[1])
			}
			if tt.wantEvent == "" {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, []string{tt.wantEvent}, got)
			}
		})
	}
}

func unique(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func TestAWorkerThatIsStoppingStartsNoPass(t *testing.T) {
	exec := &stubExecutor{}
	c, _ := newTestController(t, exec, channelService("app", "web", "svc-mux.nowake.ai/gone"))
	defer c.queue.ShutDown()
	c.queue.Add(testDefaultNS + "/gone")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.False(t, c.processNext(ctx))
	assert.Empty(t, exec.runs)
	assert.Equal(t, 0, c.queue.Len(), "the key is done, not requeued: the next leader queues everything again")
}

func TestAMalformedWorkItemIsDroppedWithoutAPass(t *testing.T) {
	exec := &stubExecutor{}
	c, _ := newTestController(t, exec)
	assert.NoError(t, c.sync(t.Context(), "no-slash"))
	assert.Empty(t, exec.runs)
}
