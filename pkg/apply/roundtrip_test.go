package apply

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nowakeai/svcmux/pkg/plan"
)

// read builds the snapshot of the test mux from what the (fake) API server holds,
// the way the agent's snapshot package would.
func read(t *testing.T, c kubernetes.Interface) plan.Snapshot {
	t.Helper()
	ctx := context.Background()
	mux, err := c.CoreV1().Services("svc-mux").Get(ctx, "mux", metav1.GetOptions{})
	require.NoError(t, err)
	s := plan.Snapshot{Mux: mux}
	svcs, err := c.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	names := map[string]bool{}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if ref, ok, _ := plan.ChannelMux(svc, testKeys, "svc-mux"); ok && ref.String() == "svc-mux/mux" {
			s.Channels = append(s.Channels, svc)
			names[svc.Namespace+"/"+svc.Name] = true
		}
	}
	slices, err := c.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for i := range slices.Items {
		sl := &slices.Items[i]
		switch svc := sl.Labels[discoveryv1.LabelServiceName]; {
		case sl.Namespace == "svc-mux" && svc == "mux":
			s.MuxSlices = append(s.MuxSlices, sl)
		case names[sl.Namespace+"/"+svc]:
			s.ChannelSlices = append(s.ChannelSlices, sl)
		}
	}
	if ep, err := c.CoreV1().Endpoints("svc-mux").Get(ctx, "mux", metav1.GetOptions{}); err == nil {
		s.MuxEndpoints = ep
	} else {
		require.True(t, apierrors.IsNotFound(err))
	}
	if cm, err := c.CoreV1().ConfigMaps("svc-mux").Get(ctx, "mux-port-allocations", metav1.GetOptions{}); err == nil {
		s.StateConfigMap = cm
	} else {
		require.True(t, apierrors.IsNotFound(err))
	}
	return s
}

func objects(s plan.Snapshot) []runtime.Object {
	out := []runtime.Object{s.Mux}
	for _, c := range s.Channels {
		out = append(out, c)
	}
	for _, x := range s.ChannelSlices {
		out = append(out, x)
	}
	for _, x := range s.MuxSlices {
		out = append(out, x)
	}
	if s.MuxEndpoints != nil {
		out = append(out, s.MuxEndpoints)
	}
	if s.StateConfigMap != nil {
		out = append(out, s.StateConfigMap)
	}
	return out
}

func TestWritesAppliedThroughTheAPIConvergeInOnePass(t *testing.T) {
	foreign := metav1.Condition{Type: "example.com/Ready", Status: metav1.ConditionTrue, Reason: "Fine",
		LastTransitionTime: metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := apiSnapshot()
	s.Mux.Finalizers = []string{testKeys.Finalizer, "example.com/keep"}
	s.Mux.Annotations[testKeys.AggregatedExternalDNS] = "external-dns.alpha.kubernetes.io/hostname"
	s.Mux.Annotations["external-dns.alpha.kubernetes.io/hostname"] = "stale.example.com"
	s.Channels[0].Finalizers = []string{testKeys.Finalizer}
	s.Channels[0].Status.Conditions = []metav1.Condition{foreign}
	s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 8080)},
		withAnnotation(testKeys.Ports, "http:8080->8080"), withIngress(muxIP)))
	s.MuxEndpoints = pythonEndpoints()
	// web's stale annotation alone would make it the recovered owner of 8080; the
	// persisted claim says api owns it.
	s.StateConfigMap = stateCM(stateDoc(staticClaim("app/api", "http", 8080), staticClaim("app/gone", "http", 9090)))
	stale := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-0000dead-0",
		Labels: map[string]string{discoveryv1.LabelServiceName: "mux", discoveryv1.LabelManagedBy: "svcmux.nowake.ai"}},
		AddressType: discoveryv1.AddressTypeIPv4}
	s.MuxSlices = append(s.MuxSlices, stale)

	c := fake.NewClientset(objects(s)...)
	ctx := context.Background()
	first := read(t, c)
	ws := diff(t, compute(t, first), first)
	require.NotEmpty(t, ws)
	res, err := (&Executor{Client: c, Workers: 8}).Run(ctx, ws)
	require.NoError(t, err)
	assert.Equal(t, len(ws), res.Total())

	settled := read(t, c)
	assert.Empty(t, shapes(diff(t, compute(t, settled), settled)), "the pass after a successful one writes nothing")

	t.Run("the mux keeps foreign finalizers and loses the stale agent-owned hostname", func(t *testing.T) {
		assert.Equal(t, []string{"example.com/keep"}, settled.Mux.Finalizers)
		assert.NotContains(t, settled.Mux.Annotations, "external-dns.alpha.kubernetes.io/hostname")
		assert.NotContains(t, settled.Mux.Annotations, testKeys.AggregatedExternalDNS)
		assert.Equal(t, "true", settled.Mux.Annotations[testKeys.Multiplexer])
	})
	t.Run("the accepted channel keeps another controller's condition beside ours", func(t *testing.T) {
		api := settled.Channels[0]
		require.Equal(t, "api", api.Name)
		types := map[string]metav1.ConditionStatus{}
		for _, c := range api.Status.Conditions {
			types[c.Type] = c.Status
		}
		assert.Equal(t, map[string]metav1.ConditionStatus{foreign.Type: metav1.ConditionTrue, testKeys.AcceptedCondition: metav1.ConditionTrue}, types)
		assert.Empty(t, api.Finalizers)
		assert.Equal(t, "http:8080->8080", api.Annotations[testKeys.Ports])
	})
	t.Run("the refused channel has no ports annotation and no ingress", func(t *testing.T) {
		web := settled.Channels[1]
		require.Equal(t, "web", web.Name)
		assert.NotContains(t, web.Annotations, testKeys.Ports)
		assert.Empty(t, web.Status.LoadBalancer.Ingress)
		require.Len(t, web.Status.Conditions, 1)
		assert.Equal(t, metav1.ConditionFalse, web.Status.Conditions[0].Status)
	})
	t.Run("the Python Endpoints and the stale slice are gone, our slice is there", func(t *testing.T) {
		assert.Nil(t, settled.MuxEndpoints)
		require.Len(t, settled.MuxSlices, 1)
		assert.NotEqual(t, stale.Name, settled.MuxSlices[0].Name)
		require.NotNil(t, settled.StateConfigMap)
		assert.Equal(t, stateDoc(staticClaim("app/api", "http", 8080)), settled.StateConfigMap.Data["allocations.json"], "the stale claim is pruned")
	})
}

func TestADetachedChannelLosesOnlyOurConditionThroughTheAPI(t *testing.T) {
	svc := formerlyAccepted(withClass("example.com/lb"))
	c := fake.NewClientset(svc)
	o, _ := plan.Unattached(svc, testOpts, false)
	_, err := (&Executor{Client: c, Workers: 2}).Run(context.Background(), DiffUnattached(o, svc, testKeys))
	require.NoError(t, err)

	got, err := c.CoreV1().Services("app").Get(context.Background(), "api", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, got.Annotations, testKeys.Ports)
	assert.Empty(t, got.Status.LoadBalancer.Ingress)
	require.Len(t, got.Status.Conditions, 1, "the strategic merge deleted ours by type and kept the other")
	assert.Equal(t, "example.com/Ready", got.Status.Conditions[0].Type)

	o, _ = plan.Unattached(got, testOpts, false)
	assert.Empty(t, shapes(DiffUnattached(o, got, testKeys)), "nothing left to clean")
}
