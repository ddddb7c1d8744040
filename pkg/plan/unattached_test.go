package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Services no mux pass covers (SPEC §1 class format, §5 rejected and detached channels).

func withClass(svc *corev1.Service, class string) *corev1.Service {
	svc.Spec.LoadBalancerClass = &class
	return svc
}

// leftovers gives svc everything svcmux writes on a channel.
func leftovers(svc *corev1.Service) *corev1.Service {
	withPorts(svc, "http:80->80")
	withIngress(svc, "203.0.113.7")
	svc.Status.Conditions = []metav1.Condition{
		{Type: "example.com/Ready", Status: metav1.ConditionTrue, Reason: "Ok"},
		{Type: testKeys.AcceptedCondition, Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Unix(1000, 0)},
	}
	return svc
}

func TestUnattached(t *testing.T) {
	for _, tc := range []struct {
		name     string
		svc      *corev1.Service
		muxFound bool
		reason   string // "" = no condition, no event
		message  string
		ingress  []corev1.LoadBalancerIngress
	}{
		{
			name:    "a class with three dot-separated parts is InvalidLoadBalancerClass",
			svc:     leftovers(withClass(channel("app/api", "http:80"), "svc-mux.nowake.ai/mux.ns.extra")),
			reason:  api.ReasonInvalidLoadBalancerClass,
			message: `channel app/api: loadBalancerClass "svc-mux.nowake.ai/mux.ns.extra" has 3 dot-separated parts; expected svc-mux.nowake.ai/<mux-name>[.<mux-namespace>]`,
		},
		{
			name:    "a mux name that is not a DNS label is InvalidLoadBalancerClass",
			svc:     withClass(channel("app/api", "http:80"), "svc-mux.nowake.ai/My_Mux"),
			reason:  api.ReasonInvalidLoadBalancerClass,
			message: `channel app/api: loadBalancerClass "svc-mux.nowake.ai/My_Mux": mux name "My_Mux" is not a DNS label; expected svc-mux.nowake.ai/<mux-name>[.<mux-namespace>]`,
		},
		{
			name:    "an empty mux namespace is InvalidLoadBalancerClass",
			svc:     withClass(channel("app/api", "http:80"), "svc-mux.nowake.ai/mux."),
			reason:  api.ReasonInvalidLoadBalancerClass,
			message: `channel app/api: loadBalancerClass "svc-mux.nowake.ai/mux.": mux namespace "" is not a DNS label; expected svc-mux.nowake.ai/<mux-name>[.<mux-namespace>]`,
		},
		{
			name:    "a channel naming a mux that does not exist is MuxNotFound",
			svc:     leftovers(withClass(channel("app/api", "http:80"), "svc-mux.nowake.ai/edge.net")),
			reason:  api.ReasonMuxNotFound,
			message: `channel app/api names mux net/edge, which does not exist or lacks svc-mux.nowake.ai/multiplexer: "true"; create the mux or fix spec.loadBalancerClass`,
		},
		{
			name:    "a class without namespace names a mux in the default mux namespace",
			svc:     channel("app/api", "http:80"),
			reason:  api.ReasonMuxNotFound,
			message: `channel app/api names mux svc-mux/mux, which does not exist or lacks svc-mux.nowake.ai/multiplexer: "true"; create the mux or fix spec.loadBalancerClass`,
		},
		{
			name: "a former channel now of another controller's class loses svcmux's annotation, ingress and condition",
			svc:  leftovers(withClass(channel("app/api", "http:80"), "example.com/lb")),
		},
		{
			name: "a former channel that is no longer a LoadBalancer loses svcmux's annotation, ingress and condition",
			svc: leftovers(func() *corev1.Service {
				s := channel("app/api", "http:80")
				s.Spec.Type = corev1.ServiceTypeClusterIP
				return s
			}()),
		},
		{
			name: "a former channel without a class loses svcmux's leftovers",
			svc:  leftovers(func() *corev1.Service { s := channel("app/api", "http:80"); s.Spec.LoadBalancerClass = nil; return s }()),
		},
		{
			name:    "a Service that never was a channel keeps the ingress its own load balancer gave it",
			svc:     withIngress(withClass(channel("app/api", "http:80"), "example.com/lb"), "198.51.100.9"),
			ingress: []corev1.LoadBalancerIngress{{IP: "198.51.100.9"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.svc.DeepCopy()
			out, evs := Unattached(tc.svc, testOpts, tc.muxFound)
			assert.Equal(t, before, tc.svc, "Unattached mutated its input")
			assert.Equal(t, ObjectRef{Kind: "Service", Namespace: "app", Name: "api", UID: "app/api"}, out.Channel)
			assert.False(t, out.Serving())
			assert.Nil(t, out.PortsAnnotation, "no ports annotation")
			assert.Nil(t, out.Mappings)
			assert.Equal(t, tc.ingress, out.Ingress)
			if tc.reason == "" {
				assert.Nil(t, out.Condition, "the Accepted condition is removed")
				assert.Empty(t, evs)
				return
			}
			assert.Equal(t, tc.reason, out.Reason)
			assert.Equal(t, tc.message, out.Message)
			require.NotNil(t, out.Condition)
			ltt := testNow
			for _, c := range tc.svc.Status.Conditions {
				if c.Type == testKeys.AcceptedCondition && c.Status == metav1.ConditionFalse {
					ltt = c.LastTransitionTime
				}
			}
			assert.Equal(t, &metav1.Condition{Type: testKeys.AcceptedCondition, Status: metav1.ConditionFalse, Reason: tc.reason,
				Message: tc.message, ObservedGeneration: 1, LastTransitionTime: ltt}, out.Condition)
			assert.Equal(t, []Event{{Object: out.Channel, Type: api.EventWarning, Reason: tc.reason, Message: tc.message}}, evs)
		})
	}

	t.Run("an unchanged False condition keeps its lastTransitionTime", func(t *testing.T) {
		svc := channel("app/api", "http:80")
		svc.Status.Conditions = []metav1.Condition{{Type: testKeys.AcceptedCondition, Status: metav1.ConditionFalse,
			Reason: api.ReasonMuxNotFound, LastTransitionTime: metav1.Unix(1000, 0)}}
		out, _ := Unattached(svc, testOpts, false)
		assert.Equal(t, metav1.Unix(1000, 0), out.Condition.LastTransitionTime)
	})

	t.Run("a channel whose mux exists is that mux's business: nothing is planned here", func(t *testing.T) {
		out, evs := Unattached(channel("app/api", "http:80"), testOpts, true)
		assert.Nil(t, out.Condition)
		assert.Empty(t, evs)
	})
}

func TestChannelMux(t *testing.T) {
	for _, tc := range []struct {
		name      string
		svc       *corev1.Service
		ref       api.MuxRef
		isChannel bool
		err       bool
	}{
		{"a class with only the mux name uses the default mux namespace", channel("app/a", "http:80"), api.MuxRef{Namespace: "svc-mux", Name: "mux"}, true, false},
		{"a class with a namespace names that namespace", withClass(channel("app/a", "http:80"), "svc-mux.nowake.ai/edge.net"), api.MuxRef{Namespace: "net", Name: "edge"}, true, false},
		{"a bad class under the prefix is a channel with an error", withClass(channel("app/a", "http:80"), "svc-mux.nowake.ai/"), api.MuxRef{}, true, true},
		{"another controller's class is not a channel", withClass(channel("app/a", "http:80"), "example.com/mux"), api.MuxRef{}, false, false},
		{"a class that only resembles the prefix is not a channel", withClass(channel("app/a", "http:80"), "svc-mux.nowake.ai.evil/mux"), api.MuxRef{}, false, false},
		{"a Service that is not a LoadBalancer is not a channel", func() *corev1.Service {
			s := channel("app/a", "http:80")
			s.Spec.Type = corev1.ServiceTypeNodePort
			return s
		}(), api.MuxRef{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, ok, err := ChannelMux(tc.svc, testKeys, "svc-mux")
			assert.Equal(t, tc.ref, ref)
			assert.Equal(t, tc.isChannel, ok)
			assert.Equal(t, tc.err, err != nil, "%v", err)
		})
	}
}

func TestIsMuxAndLeftovers(t *testing.T) {
	assert.True(t, IsMux(mux(), testKeys))
	assert.False(t, IsMux(mux(muxAnn(testKeys.Multiplexer, "True")), testKeys), `only exactly "true" marks a mux`)
	assert.False(t, IsMux(mux(muxAnn(testKeys.Multiplexer, "yes")), testKeys))
	assert.False(t, IsMux(nil, testKeys))
	assert.False(t, IsMux(mux(), api.NewKeys("lb.example.com")), "the mux key follows the prefix")

	assert.False(t, HasLeftovers(channel("app/a", "http:80"), testKeys))
	assert.True(t, HasLeftovers(withPorts(channel("app/a", "http:80"), ""), testKeys), "an empty ports annotation is still ours")
	c := channel("app/a", "http:80")
	c.Status.Conditions = []metav1.Condition{{Type: testKeys.AcceptedCondition}}
	assert.True(t, HasLeftovers(c, testKeys))
	assert.False(t, HasLeftovers(withIngress(channel("app/a", "http:80"), "192.0.2.1"), testKeys), "an ingress alone is not proof it was ours")
}

func TestMuxProblemAndGKE(t *testing.T) {
	assert.Nil(t, MuxProblem(mux()))
	assert.False(t, IsGKE(mux()))
	assert.True(t, IsGKE(mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("networking.gke.io/l4-regional-internal") })))
	assert.False(t, IsGKE(mux(func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/networking.gke.io/") })))
	assert.True(t, IsGKE(mux(muxAnn("networking.gke.io/load-balancer-type", ""))), "the annotation's presence is enough")
}
