package plan

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// SPEC §6: the mux endpoints.

func opts(mode EndpointsMode) Options {
	o := testOpts
	o.EndpointsMode = mode
	return o
}

var muxOwner = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "mux", UID: "mux-uid", Controller: ptr(true)}}

func cond(ready, serving, terminating bool) discoveryv1.EndpointConditions {
	return discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}
}

// endpointsSummary renders a mux slice as "port-name:port/proto [ip(r|n|t) ...]".
func endpointsOf(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, e := range s.Endpoints {
		state := "n"
		switch {
		case e.Conditions.Terminating != nil && *e.Conditions.Terminating:
			state = "t"
		case e.Conditions.Ready == nil || *e.Conditions.Ready:
			state = "r"
		}
		out = append(out, e.Addresses[0]+"("+state+")")
	}
	return out
}

func TestMuxEndpointSlices(t *testing.T) {
	t.Run("ready, not-ready and terminating endpoints flow into the mux slice with the backend port under the mux port name", func(t *testing.T) {
		c := channel("app/api", "http:80")
		c.Spec.Ports[0].TargetPort.IntVal = 8080
		s := slice("app/api", "api-abcde", "http", 8080, "10.0.0.1", "10.0.0.2!", "10.0.0.3~")
		s.Endpoints[0].NodeName = ptr("node-1")
		s.Endpoints[0].Zone = ptr("zone-a")
		s.Endpoints[0].Hostname = ptr("api-0")
		s.Ports[0].AppProtocol = ptr("http")
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(c), ChannelSlices: slices(s)})
		require.Len(t, p.Slices, 1)
		got := p.Slices[0]
		hash := hash7("app", "api", "http")
		assert.Equal(t, "svc-mux", got.Namespace)
		assert.Equal(t, map[string]string{
			"kubernetes.io/service-name":             "mux",
			"endpointslice.kubernetes.io/managed-by": "svcmux.nowake.ai",
			"app.kubernetes.io/managed-by":           "svc-lb-mux",
			"app.kubernetes.io/component":            "mux-endpoints",
		}, got.Labels)
		assert.Equal(t, map[string]string{
			"svc-mux.nowake.ai/managed":  "true",
			"svc-mux.nowake.ai/mux":      "svc-mux/mux",
			"svc-mux.nowake.ai/channels": `["app/api"]`,
		}, got.Annotations)
		assert.Equal(t, muxOwner, got.OwnerReferences)
		assert.Equal(t, discoveryv1.AddressTypeIPv4, got.AddressType)
		assert.Equal(t, []discoveryv1.EndpointPort{{Name: &hash, Port: ptr[int32](8080), Protocol: ptr(corev1.ProtocolTCP), AppProtocol: ptr("http")}}, got.Ports)
		assert.Equal(t, []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, Conditions: cond(true, true, false), Hostname: ptr("api-0"), NodeName: ptr("node-1"), Zone: ptr("zone-a"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.1"}},
			{Addresses: []string{"10.0.0.2"}, Conditions: cond(false, false, false),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.2"}},
			{Addresses: []string{"10.0.0.3"}, Conditions: cond(false, true, true),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.3"}},
		}, got.Endpoints)
		assert.Nil(t, p.Endpoints, "slices mode writes no Endpoints object")
		assert.Equal(t, 1, p.Stats.ReadyPods)
	})

	t.Run("a named targetPort resolving to different numbers per pod gives one mux slice per port number", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/api", "http:80")), ChannelSlices: slices(
			slice("app/api", "api-2", "http", 9090, "10.0.0.2"),
			slice("app/api", "api-1", "http", 8080, "10.0.0.1"),
		)})
		require.Len(t, p.Slices, 2)
		byPort := map[int32][]string{}
		names := map[string]bool{}
		for _, s := range p.Slices {
			require.Len(t, s.Ports, 1)
			assert.Equal(t, hash7("app", "api", "http"), *s.Ports[0].Name)
			byPort[*s.Ports[0].Port] = endpointsOf(s)
			names[s.Name] = true
		}
		assert.Equal(t, map[int32][]string{8080: {"10.0.0.1(r)"}, 9090: {"10.0.0.2(r)"}}, byPort)
		assert.Len(t, names, 2)
	})

	t.Run("more than 100 endpoints are split into slices of at most 100", func(t *testing.T) {
		var eps []string
		for i := 0; i < 250; i++ {
			eps = append(eps, fmt.Sprintf("10.1.%d.%d", i/250, i))
		}
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/api", "http:80")),
			ChannelSlices: slices(slice("app/api", "api-1", "http", 80, eps[:120]...), slice("app/api", "api-2", "http", 80, eps[120:]...))})
		require.Len(t, p.Slices, 3)
		seen := map[string]bool{}
		total := 0
		for _, s := range p.Slices {
			assert.LessOrEqual(t, len(s.Endpoints), 100)
			assert.False(t, seen[s.Name], "slice names are distinct")
			seen[s.Name] = true
			total += len(s.Endpoints)
		}
		assert.Equal(t, 250, total)
		assert.Equal(t, 250, p.Stats.ReadyPods)
	})

	t.Run("each channel port of a multi-port slice is mapped and ports nobody serves are left out", func(t *testing.T) {
		s := slice("app/api", "api-1", "http", 8080, "10.0.0.1")
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr("grpc"), Port: ptr[int32](9091), Protocol: ptr(corev1.ProtocolTCP)},
			discoveryv1.EndpointPort{Name: ptr("metrics"), Port: ptr[int32](9100)})
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/api", "http:80", "grpc:9090")), ChannelSlices: slices(s)})
		require.Len(t, p.Slices, 1)
		got := map[string]int32{}
		for _, port := range p.Slices[0].Ports {
			got[*port.Name] = *port.Port
		}
		assert.Equal(t, map[string]int32{hash7("app", "api", "http"): 8080, hash7("app", "api", "grpc"): 9091}, got)
	})

	t.Run("a refused channel's endpoints are not routed", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80"), channel("app/b", "http:80")),
			ChannelSlices: slices(slice("app/a", "a-1", "http", 80, "10.0.0.1"), slice("app/b", "b-1", "http", 80, "10.0.0.2"))})
		require.Len(t, p.Slices, 1)
		assert.Equal(t, []string{"10.0.0.1(r)"}, endpointsOf(p.Slices[0]))
		assert.Equal(t, `["app/a"]`, p.Slices[0].Annotations[testKeys.Channels])
	})

	t.Run("IPv4 and IPv6 backends go to slices of their own address family; FQDN slices are ignored", func(t *testing.T) {
		v6 := slice("app/a", "a-v6", "http", 80, "fd00::1")
		v6.AddressType = discoveryv1.AddressTypeIPv6
		fqdn := slice("app/a", "a-fqdn", "http", 80, "backend.example.com")
		fqdn.AddressType = discoveryv1.AddressTypeFQDN
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
			ChannelSlices: slices(slice("app/a", "a-v4", "http", 80, "10.0.0.1"), v6, fqdn)})
		got := map[discoveryv1.AddressType][]string{}
		for _, s := range p.Slices {
			got[s.AddressType] = append(got[s.AddressType], endpointsOf(s)...)
		}
		assert.Equal(t, map[discoveryv1.AddressType][]string{
			discoveryv1.AddressTypeIPv4: {"10.0.0.1(r)"},
			discoveryv1.AddressTypeIPv6: {"fd00::1(r)"},
		}, got)
	})

	t.Run("a slice of another service is not a channel's", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
			ChannelSlices: slices(slice("other/a", "a-1", "http", 80, "10.0.0.1"))})
		assert.Empty(t, p.Slices)
		assert.Equal(t, 0, p.Stats.ReadyPods)
	})
}

func TestLegacyEndpoints(t *testing.T) {
	world := func() Snapshot {
		return Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80"), channel("app/b", "dns:53"), channel("app/c", "web:81")),
			ChannelSlices: slices(
				slice("app/a", "a-1", "http", 8080, "10.0.0.1", "10.0.0.2!", "10.0.0.3~"),
				slice("app/b", "b-1", "dns", 5353, "10.0.1.1~"), // only terminating: no subset
			)}
	}
	wantLabels := map[string]string{"app.kubernetes.io/managed-by": "svc-lb-mux", "app.kubernetes.io/component": "mux-endpoints"}
	wantAnnotations := map[string]string{"svc-mux.nowake.ai/managed": "true", "svc-mux.nowake.ai/mux": "svc-mux/mux",
		"svc-mux.nowake.ai/channels": `["app/a", "app/b", "app/c"]`}
	wantSubsets := []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.1"}}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.2", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "app", Name: "pod-10.0.0.2"}}},
		Ports:             []corev1.EndpointPort{{Name: hash7("app", "a", "http"), Port: 8080, Protocol: corev1.ProtocolTCP}},
	}}

	t.Run("endpoints mode writes one Endpoints named like the mux: ready to addresses, not ready to notReadyAddresses, terminating and empty subsets left out", func(t *testing.T) {
		p := compute(t, world(), opts(EndpointsModeEndpoints))
		assert.Nil(t, p.Slices)
		require.NotNil(t, p.Endpoints)
		assert.Equal(t, "mux", p.Endpoints.Name)
		assert.Equal(t, "svc-mux", p.Endpoints.Namespace)
		assert.Equal(t, wantLabels, p.Endpoints.Labels)
		assert.Equal(t, wantAnnotations, p.Endpoints.Annotations)
		assert.Equal(t, muxOwner, p.Endpoints.OwnerReferences)
		assert.Equal(t, wantSubsets, p.Endpoints.Subsets)
		assert.False(t, p.DeleteLegacyEndpoints)
	})

	t.Run("an Endpoints object with no backend is kept with subsets: []", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux()}, opts(EndpointsModeEndpoints))
		require.NotNil(t, p.Endpoints)
		assert.NotNil(t, p.Endpoints.Subsets)
		assert.Empty(t, p.Endpoints.Subsets)
		assert.Equal(t, `[]`, p.Endpoints.Annotations[testKeys.Channels])
	})

	t.Run("both mode writes slices and an Endpoints labelled skip-mirror so it is not mirrored again", func(t *testing.T) {
		p := compute(t, world(), opts(EndpointsModeBoth))
		require.Len(t, p.Slices, 2, "slices also carry app/b's terminating endpoint")
		require.NotNil(t, p.Endpoints)
		assert.Equal(t, "true", p.Endpoints.Labels["endpointslice.kubernetes.io/skip-mirror"])
		assert.Equal(t, wantSubsets, p.Endpoints.Subsets)
		assert.False(t, p.DeleteLegacyEndpoints)
	})
}

func TestTakeoverOfThePythonEndpoints(t *testing.T) {
	python := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "svc-lb-mux", "app.kubernetes.io/component": "mux-endpoints"}}}
	users := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux"}}
	halfLabelled := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "svc-lb-mux"}}}
	for _, tc := range []struct {
		name   string
		live   *corev1.Endpoints
		mode   EndpointsMode
		delete bool
	}{
		{"in slices mode the Python controller's labelled Endpoints is deleted", python, EndpointsModeSlices, true},
		{"the default mode is slices", python, "", true},
		{"in endpoints mode it is kept and updated", python, EndpointsModeEndpoints, false},
		{"in both mode it is kept and updated", python, EndpointsModeBoth, false},
		{"a user's unlabelled Endpoints is never deleted", users, EndpointsModeSlices, false},
		{"an Endpoints carrying only one of the two labels is never deleted", halfLabelled, EndpointsModeSlices, false},
		{"nothing to delete when there is no Endpoints", nil, EndpointsModeSlices, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
				ChannelSlices: slices(slice("app/a", "a-1", "http", 80, "10.0.0.1")), MuxEndpoints: tc.live}, opts(tc.mode))
			assert.Equal(t, tc.delete, p.DeleteLegacyEndpoints)
		})
	}
}

func TestMuxEndpointsEvents(t *testing.T) {
	world := func(eps ...string) Snapshot {
		return Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
			ChannelSlices: slices(slice("app/a", "a-1", "http", 8080, eps...))}
	}
	endpointEvents := func(p Plan) []string {
		var out []string
		for _, e := range p.Events {
			if e.Reason == api.ReasonMuxEndpointsCreated || e.Reason == api.ReasonMuxEndpointsChanged {
				out = append(out, e.Reason+": "+e.Message)
			}
		}
		return out
	}
	for _, mode := range []EndpointsMode{EndpointsModeSlices, EndpointsModeEndpoints, EndpointsModeBoth} {
		t.Run(string(mode)+" mode", func(t *testing.T) {
			first := world("10.0.0.1", "10.0.0.2!")
			p1 := compute(t, first, opts(mode))
			assert.Equal(t, []string{"MuxEndpointsCreated: Mux endpoints created: 1 ready, 1 not ready"}, endpointEvents(p1), "first write")

			idle := applied(first, p1)
			p2 := compute(t, idle, opts(mode))
			assert.Empty(t, endpointEvents(p2), "nothing when live equals desired")

			moved := deepCopySnapshot(idle)
			moved.ChannelSlices = slices(slice("app/a", "a-1", "http", 8080, "10.0.0.3", "10.0.0.2!"))
			p3 := compute(t, moved, opts(mode))
			assert.Equal(t, []string{"MuxEndpointsChanged: Added 1 endpoint(s): 10.0.0.3:8080/TCP; Removed 1 endpoint(s): 10.0.0.1:8080/TCP"}, endpointEvents(p3))

			readiness := deepCopySnapshot(idle)
			readiness.ChannelSlices = slices(slice("app/a", "a-1", "http", 8080, "10.0.0.1", "10.0.0.2"))
			p4 := compute(t, readiness, opts(mode))
			assert.Equal(t, []string{"MuxEndpointsChanged: Added 1 endpoint(s): 10.0.0.2:8080/TCP"}, endpointEvents(p4))

			notReady := deepCopySnapshot(idle)
			notReady.ChannelSlices = slices(slice("app/a", "a-1", "http", 8080, "10.0.0.1", "10.0.0.2~"))
			p5 := compute(t, notReady, opts(mode))
			// Slices keep a terminating endpoint (not ready); the Endpoints object drops it.
			counts := "1 ready, 1 not ready"
			if mode == EndpointsModeEndpoints {
				counts = "1 ready, 0 not ready"
			}
			assert.Equal(t, []string{"MuxEndpointsChanged: Mux endpoints updated: " + counts}, endpointEvents(p5),
				"a change that adds or removes no ready endpoint still says so")
		})
	}

	t.Run("the cluster's own or mirrored slices for the mux are not svcmux's", func(t *testing.T) {
		foreign := slice("svc-mux/mux", "mux-mirror", "http", 80, "10.9.9.9")
		foreign.Labels[discoveryv1.LabelManagedBy] = "endpointslicemirroring-controller.k8s.io"
		s := world("10.0.0.1")
		s.MuxSlices = slices(foreign)
		assert.Equal(t, []string{"MuxEndpointsCreated: Mux endpoints created: 1 ready, 0 not ready"}, endpointEvents(compute(t, s)))
		assert.Empty(t, OwnedSlices(s.MuxSlices))
	})

	t.Run("a mux slice that is no longer wanted is a change", func(t *testing.T) {
		first := world("10.0.0.1")
		idle := applied(first, compute(t, first))
		idle.Channels[0].Annotations[testKeys.ExternalPorts] = "http:oops" // refused, never accepted: nothing served
		idle.Channels[0].Annotations[testKeys.Ports] = "x"                 // and no evidence to keep it
		idle.Mux.Spec.Ports = placeholderPorts()
		idle.StateConfigMap = nil
		p := compute(t, idle)
		assert.Empty(t, p.Slices)
		assert.Equal(t, []string{"MuxEndpointsChanged: Removed 1 endpoint(s): 10.0.0.1:8080/TCP"}, endpointEvents(p))
	})

	t.Run("a mux with no backend and no slices posts no endpoints event", func(t *testing.T) {
		for _, s := range []Snapshot{
			{Mux: mux()},
			{Mux: mux(), Channels: channels(channel("app/a", "http:80"))},
		} {
			p := compute(t, s)
			assert.Empty(t, p.Slices)
			assert.Empty(t, endpointEvents(p))
		}
	})
}

func TestSliceAndEndpointsDiffers(t *testing.T) {
	p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80")),
		ChannelSlices: slices(slice("app/a", "a-1", "http", 80, "10.0.0.1"))}, opts(EndpointsModeBoth))
	want := p.Slices[0]
	for _, tc := range []struct {
		name   string
		edit   func(s *discoveryv1.EndpointSlice)
		differ bool
	}{
		{"an identical slice does not differ", func(*discoveryv1.EndpointSlice) {}, false},
		{"extra labels, annotations and server fields do not count", func(s *discoveryv1.EndpointSlice) {
			s.Labels["extra"] = "x"
			s.Annotations["extra"] = "x"
			s.ResourceVersion = "42"
			s.Generation = 3
		}, false},
		{"a changed label differs", func(s *discoveryv1.EndpointSlice) { s.Labels[discoveryv1.LabelManagedBy] = "other" }, true},
		{"a changed annotation differs", func(s *discoveryv1.EndpointSlice) { s.Annotations[testKeys.Channels] = "[]" }, true},
		{"another owner differs", func(s *discoveryv1.EndpointSlice) { s.OwnerReferences = nil }, true},
		{"another address type differs", func(s *discoveryv1.EndpointSlice) { s.AddressType = discoveryv1.AddressTypeIPv6 }, true},
		{"another endpoint differs", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses[0] = "10.0.0.9" }, true},
		{"another port differs", func(s *discoveryv1.EndpointSlice) { s.Ports[0].Port = ptr[int32](81) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := want.DeepCopy()
			tc.edit(live)
			assert.Equal(t, tc.differ, SliceDiffers(want, live))
		})
	}

	wantEp := p.Endpoints
	for _, tc := range []struct {
		name   string
		edit   func(e *corev1.Endpoints)
		differ bool
	}{
		{"an identical Endpoints does not differ", func(*corev1.Endpoints) {}, false},
		{"extra metadata does not count", func(e *corev1.Endpoints) { e.Labels["x"] = "y"; e.ResourceVersion = "7" }, false},
		{"a missing skip-mirror label differs", func(e *corev1.Endpoints) { delete(e.Labels, api.LabelSkipMirror) }, true},
		{"changed subsets differ", func(e *corev1.Endpoints) { e.Subsets = nil }, true},
		{"a changed annotation differs", func(e *corev1.Endpoints) { e.Annotations[testKeys.Mux] = "x/y" }, true},
		{"another owner differs", func(e *corev1.Endpoints) { e.OwnerReferences = nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := wantEp.DeepCopy()
			tc.edit(live)
			assert.Equal(t, tc.differ, EndpointsDiffers(wantEp, live))
		})
	}

	t.Run("nil and empty subsets are the same", func(t *testing.T) {
		empty := compute(t, Snapshot{Mux: mux()}, opts(EndpointsModeEndpoints)).Endpoints
		live := empty.DeepCopy()
		live.Subsets = nil
		assert.False(t, EndpointsDiffers(empty, live))
	})
}

func TestEndpointsModeValid(t *testing.T) {
	for _, m := range []EndpointsMode{EndpointsModeSlices, EndpointsModeEndpoints, EndpointsModeBoth} {
		assert.True(t, m.Valid(), m)
	}
	assert.False(t, EndpointsMode("").Valid())
	assert.False(t, EndpointsMode("Slices").Valid())
}
