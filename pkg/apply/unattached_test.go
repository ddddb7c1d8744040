package apply

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// formerlyAccepted is a channel as a previous pass left it: ports annotation,
// the mux's ingress, our True condition, and another controller's condition.
func formerlyAccepted(opts ...svcOpt) *corev1.Service {
	base := []svcOpt{
		withAnnotation(testKeys.Ports, "http:8080->8080"),
		withIngress(muxIP),
		withCondition(metav1.Condition{Type: "example.com/Ready", Status: metav1.ConditionTrue, Reason: "Fine",
			LastTransitionTime: metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}),
		withCondition(metav1.Condition{Type: testKeys.AcceptedCondition, Status: metav1.ConditionTrue, Reason: "Accepted",
			Message: "channel app/api is served by mux svc-mux/mux: http:8080->8080", ObservedGeneration: 1,
			LastTransitionTime: metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}),
	}
	return newChannel("app/api", []corev1.ServicePort{tcp("http", 8080)}, append(base, opts...)...)
}

func TestDiffUnattached(t *testing.T) {
	// carrying is a status patch that removes the ports annotation too: one write.
	carrying := func(status map[string]any) map[string]any {
		status["metadata"] = map[string]any{"annotations": map[string]any{testKeys.Ports: nil}}
		return status
	}
	falseCondition := func(reason, message string) map[string]any {
		return map[string]any{"type": testKeys.AcceptedCondition, "status": "False", "observedGeneration": float64(1),
			"lastTransitionTime": "2026-11-23T12:00:00Z", "reason": reason, "message": message}
	}
	tests := []struct {
		name     string
		svc      *corev1.Service
		muxFound bool
		metadata map[string]any // nil: no patch of the object itself
		status   map[string]any // nil: no status patch (which carries the annotation when both change)
	}{
		{"a channel naming a mux that does not exist loses its annotation and ingress and says MuxNotFound",
			formerlyAccepted(withClass("svc-mux.nowake.ai/gone")), false,
			nil,
			carrying(map[string]any{"status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions": []any{falseCondition(api.ReasonMuxNotFound,
					`channel app/api names mux svc-mux/gone, which does not exist or lacks svc-mux.nowake.ai/multiplexer: "true"; create the mux or fix spec.loadBalancerClass`)},
			}})},
		{"a new channel naming a missing mux only gets the False condition",
			newChannel("app/api", []corev1.ServicePort{tcp("http", 8080)}, withClass("svc-mux.nowake.ai/gone.team-a")), false,
			nil,
			map[string]any{"status": map[string]any{"conditions": []any{falseCondition(api.ReasonMuxNotFound,
				`channel app/api names mux team-a/gone, which does not exist or lacks svc-mux.nowake.ai/multiplexer: "true"; create the mux or fix spec.loadBalancerClass`)}}}},
		{"a channel whose class does not parse loses its annotation and ingress and says InvalidLoadBalancerClass",
			formerlyAccepted(withClass("svc-mux.nowake.ai/a.b.c")), false,
			nil,
			carrying(map[string]any{"status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions": []any{falseCondition(api.ReasonInvalidLoadBalancerClass,
					`channel app/api: loadBalancerClass "svc-mux.nowake.ai/a.b.c" has 3 dot-separated parts; expected svc-mux.nowake.ai/<mux-name>[.<mux-namespace>]`)},
			}})},
		{"a Service detached to another controller's class loses our annotation, ingress and condition",
			formerlyAccepted(withClass("example.com/lb")), false,
			nil,
			carrying(map[string]any{"status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions":   []any{map[string]any{"$patch": "delete", "type": testKeys.AcceptedCondition}},
			}})},
		{"a Service that became a ClusterIP loses our leftovers the same way",
			formerlyAccepted(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }), true,
			nil,
			carrying(map[string]any{"status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions":   []any{map[string]any{"$patch": "delete", "type": testKeys.AcceptedCondition}},
			}})},
		{"a detached Service with only our condition left loses the condition and the ingress",
			newChannel("app/api", nil, withClass("example.com/lb"), withIngress(muxIP),
				withCondition(metav1.Condition{Type: testKeys.AcceptedCondition, Status: metav1.ConditionFalse, Reason: "MuxNotFound"})), false,
			nil,
			map[string]any{"status": map[string]any{
				"loadBalancer": map[string]any{"ingress": nil},
				"conditions":   []any{map[string]any{"$patch": "delete", "type": testKeys.AcceptedCondition}},
			}}},
		{"a Service of another controller without our leftovers keeps its own ingress: no write",
			newChannel("app/api", nil, withClass("example.com/lb"), withIngress("192.0.2.1"),
				withCondition(metav1.Condition{Type: "example.com/Ready", Status: metav1.ConditionTrue})), false,
			nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.svc.DeepCopy()
			o, _ := plan.Unattached(tt.svc, testOpts, tt.muxFound)
			ws := DiffUnattached(o, tt.svc, testKeys)
			assert.Equal(t, before, tt.svc, "DiffUnattached does not change the Service")
			var want []shape
			if tt.metadata != nil {
				want = append(want, shape{StageChannels, KindChannel, VerbPatch, "services", "app", "api", "", types.MergePatchType})
			}
			if tt.status != nil {
				want = append(want, shape{StageChannelStatus, KindChannel, VerbPatch, "services", "app", "api", "status", types.StrategicMergePatchType})
			}
			if want == nil {
				want = []shape{}
			}
			if !assert.Equal(t, want, shapes(ws)) {
				return
			}
			i := 0
			if tt.metadata != nil {
				assert.Equal(t, []string{"metadata.annotations[" + testKeys.Ports + "]"}, ws[i].Fields)
				assert.Equal(t, tt.metadata, body(t, ws[i]))
				i++
			}
			if tt.status != nil {
				assert.Equal(t, tt.status, body(t, ws[i]))
			}
		})
	}
}

func TestDiffUnattachedLeavesAFinalizerToThePassThatOwnsTheChannel(t *testing.T) {
	svc := formerlyAccepted(withClass("example.com/lb"), withFinalizers(testKeys.Finalizer))
	o, _ := plan.Unattached(svc, testOpts, false)
	for _, w := range DiffUnattached(o, svc, testKeys) {
		assert.NotContains(t, w.Fields, "metadata.finalizers")
	}
}

func TestTheConditionComparisonIgnoresSubSecondTimeAndComparesTheRest(t *testing.T) {
	live := metav1.Condition{Type: testKeys.AcceptedCondition, Status: metav1.ConditionFalse, Reason: api.ReasonMuxNotFound,
		Message: "gone", ObservedGeneration: 3, LastTransitionTime: testNow}
	svc := newChannel("app/api", nil, withCondition(live))
	tests := []struct {
		name  string
		edit  func(*metav1.Condition)
		write bool
	}{
		{"the same condition", func(*metav1.Condition) {}, false},
		{"a planned time with nanoseconds in the same second", func(c *metav1.Condition) {
			c.LastTransitionTime = metav1.NewTime(testNow.Add(999 * time.Millisecond))
		}, false},
		{"a transition one second later", func(c *metav1.Condition) { c.LastTransitionTime = metav1.NewTime(testNow.Add(time.Second)) }, true},
		{"another status", func(c *metav1.Condition) { c.Status = metav1.ConditionTrue }, true},
		{"another reason", func(c *metav1.Condition) { c.Reason = api.ReasonInvalidLoadBalancerClass }, true},
		{"another message", func(c *metav1.Condition) { c.Message = "still gone" }, true},
		{"another observed generation", func(c *metav1.Condition) { c.ObservedGeneration = 4 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := live
			tt.edit(&want)
			ws := DiffUnattached(plan.ChannelOutcome{Condition: &want}, svc, testKeys)
			if !tt.write {
				assert.Empty(t, shapes(ws))
				return
			}
			assert.Equal(t, []shape{{StageChannelStatus, KindChannel, VerbPatch, "services", "app", "api", "status", types.StrategicMergePatchType}}, shapes(ws))
			assert.Equal(t, []string{"status.conditions"}, ws[0].Fields)
			assert.Equal(t, map[string]any{"status": map[string]any{"conditions": []any{jsonValue(t, want)}}}, body(t, ws[0]))
		})
	}
}
