package apply

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

func TestChannelWrites(t *testing.T) {
	accepted := func(t *testing.T) plan.Snapshot { return converged(t, apiSnapshot()) }
	tests := []struct {
		name     string
		snap     func(t *testing.T) plan.Snapshot
		channel  string
		metadata map[string]any // nil: no patch of the object itself
		status   map[string]any // nil: no status patch (which carries the annotation when both change)
	}{
		{"a refused channel loses a stale ports annotation and ingress with null, in one status write", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 8080)},
				withAnnotation(testKeys.Ports, "http:8080->8080"), withIngress(muxIP)))
			return s
		}, "app/web", nil,
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{testKeys.Ports: nil}}, "status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions": []any{map[string]any{
					"type": testKeys.AcceptedCondition, "status": "False", "observedGeneration": float64(1),
					"lastTransitionTime": "2026-11-23T12:00:00Z", "reason": api.ReasonMuxPortConflict,
					"message": "channel app/web: 8080/TCP is already claimed by app/api:" + muxPortName("app/api", "http"),
				}},
			}}},
		{"a ports annotation edited by hand is put back", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Channels[0].Annotations[testKeys.Ports] = "http:8080->1"
			return s
		}, "app/api",
			map[string]any{"metadata": map[string]any{"annotations": map[string]any{testKeys.Ports: "http:8080->8080"}}}, nil},
		{"a new mux address is copied to the channel's ingress alone", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Mux.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}, {Hostname: "lb.example.com"}}
			return s
		}, "app/api", nil,
			map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": []any{
				map[string]any{"ip": "198.51.100.7", "ipMode": "Proxy"}, map[string]any{"hostname": "lb.example.com"}}}}}},
		{"a mux that lost its address clears the channel's ingress with null", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Mux.Status.LoadBalancer.Ingress = nil
			return s
		}, "app/api", nil,
			map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": nil}}}},
		{"an empty live ingress list is the same as none", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Mux.Status.LoadBalancer.Ingress = nil
			s.Channels[0].Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{}
			return s
		}, "app/api", nil, nil},
		{"a condition with another observed generation is rewritten, keeping its transition time", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Channels[0].Generation = 2
			return s
		}, "app/api", nil,
			map[string]any{"status": map[string]any{"conditions": []any{map[string]any{
				"type": testKeys.AcceptedCondition, "status": "True", "observedGeneration": float64(2),
				"lastTransitionTime": "2026-11-23T12:00:00Z", "reason": "Accepted",
				"message": "channel app/api is served by mux svc-mux/mux: http:8080->8080",
			}}}}},
		{"a condition stored at second precision matches a planned time with nanoseconds", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Channels[0].Status.Conditions[0].LastTransitionTime = metav1.NewTime(testNow.Add(300_000_000))
			return s
		}, "app/api", nil, nil},
		{"another controller's condition does not count as ours", func(t *testing.T) plan.Snapshot {
			s := accepted(t)
			s.Channels[0].Status.Conditions = []metav1.Condition{{Type: "example.com/Ready", Status: metav1.ConditionTrue, Reason: "Fine"}}
			return s
		}, "app/api", nil,
			map[string]any{"status": map[string]any{"conditions": []any{map[string]any{
				"type": testKeys.AcceptedCondition, "status": "True", "observedGeneration": float64(1),
				"lastTransitionTime": "2026-11-23T12:00:00Z", "reason": "Accepted",
				"message": "channel app/api is served by mux svc-mux/mux: http:8080->8080",
			}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.snap(t)
			var meta, status []Write
			for _, w := range only(diff(t, compute(t, s), s), KindChannel) {
				if w.Namespace+"/"+w.Name != tt.channel {
					continue
				}
				if w.Subresource == "status" {
					assert.Equal(t, StageChannelStatus, w.Stage, "status goes after the annotation it describes")
					assert.Equal(t, types.StrategicMergePatchType, w.PatchType)
					status = append(status, w)
				} else {
					assert.Equal(t, StageChannels, w.Stage)
					assert.Equal(t, types.MergePatchType, w.PatchType)
					meta = append(meta, w)
				}
			}
			check := func(kind string, ws []Write, want map[string]any) {
				if want == nil {
					assert.Empty(t, shapes(ws), "no %s patch", kind)
					return
				}
				require.Len(t, ws, 1, "one %s patch", kind)
				assert.Equal(t, want, body(t, ws[0]), "%s patch", kind)
			}
			check("metadata", meta, tt.metadata)
			check("status", status, tt.status)
		})
	}
}

func TestAnOutcomeForAChannelMissingFromTheSnapshotWritesNothing(t *testing.T) {
	s := apiSnapshot()
	p := compute(t, s)
	s.Channels = nil // the channel was deleted while the pass ran
	assert.Empty(t, shapes(only(diff(t, p, s), KindChannel)))
}

// stripOps is the JSON patch that removes the finalizer at index i, pinned by a test op.
func stripOps(i int) []any {
	path := fmt.Sprintf("/metadata/finalizers/%d", i)
	return []any{
		map[string]any{"op": "test", "path": path, "value": testKeys.Finalizer},
		map[string]any{"op": "remove", "path": path},
	}
}

func jsonPatch(t *testing.T, w Write) []any {
	t.Helper()
	var ops []any
	require.NoError(t, json.Unmarshal(w.Patch, &ops))
	return ops
}

func TestFinalizersAreStrippedByAPinnedJSONPatch(t *testing.T) {
	f := testKeys.Finalizer
	tests := []struct {
		name            string
		mux, channel    []string
		muxOps, chanOps []any
	}{
		{"the Python finalizer goes and other finalizers stay", []string{"example.com/keep", f}, []string{f, "example.com/other"},
			stripOps(1), stripOps(0)},
		{"the last finalizer goes", []string{f}, []string{f}, stripOps(0), stripOps(0)},
		{"a foreign finalizer alone is never touched", []string{"example.com/keep"}, []string{"example.com/other"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := converged(t, apiSnapshot())
			s.Mux.Finalizers = tt.mux
			s.Channels[0].Finalizers = tt.channel
			ws := diff(t, compute(t, s), s)
			if tt.muxOps == nil {
				assert.Empty(t, shapes(ws))
				return
			}
			require.Equal(t, []shape{
				{StageChannels, KindMux, VerbPatch, "services", "svc-mux", "mux", "", types.JSONPatchType},
				{StageChannels, KindChannel, VerbPatch, "services", "app", "api", "", types.JSONPatchType},
			}, shapes(ws))
			for _, w := range ws {
				assert.Equal(t, []string{"metadata.finalizers"}, w.Fields)
			}
			assert.Equal(t, tt.muxOps, jsonPatch(t, ws[0]))
			assert.Equal(t, tt.chanOps, jsonPatch(t, ws[1]))
		})
	}
}

func TestAFinalizerStripIsItsOwnWriteBesideTheChannelsPatches(t *testing.T) {
	s := apiSnapshot()
	s.Channels[0].Finalizers = []string{testKeys.Finalizer}
	ws := only(diff(t, compute(t, s), s), KindChannel)
	require.Len(t, ws, 2)
	assert.Equal(t, stripOps(0), jsonPatch(t, ws[0]))
	assert.Equal(t, "status", ws[1].Subresource)
	assert.Equal(t, map[string]any{"annotations": map[string]any{testKeys.Ports: "http:8080->8080"}},
		body(t, ws[1])["metadata"], "the status patch carries the annotation and no precondition")
}

func TestAFrozenMuxOnlyLosesItsFinalizers(t *testing.T) {
	f := testKeys.Finalizer
	tests := []struct {
		name   string
		freeze func(*plan.Snapshot)
	}{
		{"an invalid max-ports", func(s *plan.Snapshot) { s.Mux.Annotations[testKeys.MaxPorts] = "0" }},
		{"a mux with a selector", func(s *plan.Snapshot) { s.Mux.Spec.Selector = map[string]string{"app": "x"} }},
		{"a mux that is not a LoadBalancer", func(s *plan.Snapshot) { s.Mux.Spec.Type = corev1.ServiceTypeClusterIP }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" writes nothing but the finalizer strips", func(t *testing.T) {
			// Everything about this mux is out of date: ports, annotations, endpoints,
			// state, channel annotation and status. None of it is written.
			s := apiSnapshot()
			s.Mux.Finalizers = []string{f, "example.com/keep"}
			s.Channels[0].Finalizers = []string{f}
			s.Channels[0].Annotations[testKeys.Ports] = "http:8080->1"
			tt.freeze(&s)
			p := compute(t, s)
			require.True(t, p.Frozen)
			ws := diff(t, p, s)
			assert.Equal(t, []shape{
				{StageChannels, KindMux, VerbPatch, "services", "svc-mux", "mux", "", types.JSONPatchType},
				{StageChannels, KindChannel, VerbPatch, "services", "app", "api", "", types.JSONPatchType},
			}, shapes(ws))
			assert.Equal(t, stripOps(0), jsonPatch(t, ws[0]))
			assert.Equal(t, stripOps(0), jsonPatch(t, ws[1]))
			for _, w := range ws {
				assert.Equal(t, []string{"metadata.finalizers"}, w.Fields)
			}
		})
	}

	t.Run("a frozen mux without finalizers writes nothing at all", func(t *testing.T) {
		s := apiSnapshot()
		s.Mux.Annotations[testKeys.MaxPorts] = "-1"
		assert.Empty(t, shapes(diff(t, compute(t, s), s)))
	})

	t.Run("a finalizer strip for an object gone from the snapshot is skipped", func(t *testing.T) {
		s := apiSnapshot()
		s.Mux.Annotations[testKeys.MaxPorts] = "x"
		s.Channels[0].Finalizers = []string{f}
		p := compute(t, s)
		s.Channels = nil
		assert.Empty(t, shapes(diff(t, p, s)))
	})
}
