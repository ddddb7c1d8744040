package plan

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

func cached(c *Cache) Options {
	o := testOpts
	o.Cache = c
	return o
}

func TestAPlanComputedWithTheCacheEqualsOneComputedWithout(t *testing.T) {
	worlds := []struct {
		name  string
		world Snapshot
	}{
		{"the golden scenario", goldenWorld()},
		{"the rich world of every kind of channel", richWorld()},
		{"a new mux of 300 channels", benchWorld(300, false)},
		{"a steady mux of 300 channels", benchWorld(300, true)},
	}
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			want := compute(t, w.world)
			c := NewCache()
			assert.Equal(t, want, compute(t, w.world, cached(c)), "first pass: every channel misses")
			assert.Equal(t, want, compute(t, w.world, cached(c)), "second pass: every channel hits")
			assert.Equal(t, len(w.world.Channels)+2*len(want.Slices), c.Len(), "a projection per channel, a name and the built slices per slice group")
		})
	}
}

func TestAChangedChannelMissesTheCache(t *testing.T) {
	base := func() Snapshot {
		return Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20099")), Channels: channels(
			auto(channel("app/api", "http:8080", "grpc:9090"), "grpc:auto"),
			channel("app/web", "http:80"),
		)}
	}
	edits := []struct {
		name string
		edit func(api *corev1.Service)
	}{
		{"a port renamed", func(s *corev1.Service) { s.Spec.Ports[0].Name = "web" }},
		{"a port number changed", func(s *corev1.Service) { s.Spec.Ports[0].Port = 8081 }},
		{"a protocol changed", func(s *corev1.Service) { s.Spec.Ports[1].Protocol = corev1.ProtocolUDP }},
		{"a port added", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "admin", Port: 9000, Protocol: corev1.ProtocolTCP})
		}},
		{"a port left unnamed", func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }},
		{"external-ports changed", func(s *corev1.Service) { s.Annotations[testKeys.ExternalPorts] = "grpc:30000" }},
		{"external-ports made invalid", func(s *corev1.Service) { s.Annotations[testKeys.ExternalPorts] = "grpc:nope" }},
		{"external-ports removed", func(s *corev1.Service) { delete(s.Annotations, testKeys.ExternalPorts) }},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			c := NewCache()
			compute(t, base(), cached(c))
			edited := base()
			e.edit(edited.Channels[0])
			assert.Equal(t, compute(t, edited), compute(t, edited, cached(c)))
		})
	}
	t.Run("other annotation keys", func(t *testing.T) {
		c := NewCache()
		compute(t, base(), cached(c))
		other := testOpts
		other.Keys = api.NewKeys("other.example.com")
		other.Cache = c
		s := base()
		s.Mux.Annotations[other.Keys.Multiplexer] = "true"
		s.Mux.Annotations[other.Keys.PortRange] = "20000-20099"
		uncached := other
		uncached.Cache = nil
		assert.Equal(t, compute(t, s, uncached), compute(t, s, other))
	})
}

// The cache remembers a channel's ignored fields and external-dns wishes for as
// long as its resourceVersion stands; an edit the API server accepted has a new one.
func TestAChannelEditedBesideItsPortsIsReadAgain(t *testing.T) {
	base := func(version string) Snapshot {
		s := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20099")), Channels: channels(
			auto(channel("app/api", "http:8080", "grpc:9090"), "grpc:auto"),
			channel("app/web", "http:80"),
		)}
		for _, ch := range s.Channels {
			ch.ResourceVersion = version
		}
		s.Channels[0].Annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internal"
		return s
	}
	message := func(p Plan) any { return p.Channels[0].Message }
	muxAnnotations := func(p Plan) any { return p.Annotations }
	edits := []struct {
		name  string
		edit  func(*corev1.Service)
		shows func(Plan) any // the part of the plan the edit changes
	}{
		{"a provider annotation added", func(s *corev1.Service) {
			s.Annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] = "true"
		}, message},
		{"a provider annotation removed", func(s *corev1.Service) {
			delete(s.Annotations, "service.beta.kubernetes.io/aws-load-balancer-scheme")
		}, message},
		{"source ranges set", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }, message},
		{"externalTrafficPolicy made Local", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, message},
		{"an external-dns hostname asked for", func(s *corev1.Service) {
			s.Annotations[testKeys.ExternalDNSHostname] = "api.example.com"
		}, muxAnnotations},
		{"cloudflare proxying turned off", func(s *corev1.Service) {
			s.Annotations[api.ExternalDNSCloudflareProxied] = " False "
		}, muxAnnotations},
	}
	for _, e := range edits {
		for _, v := range []struct{ name, before, after string }{
			{"with a new resourceVersion", "41", "42"},
			{"with no resourceVersion", "", ""},
		} {
			t.Run(e.name+" "+v.name, func(t *testing.T) {
				c := NewCache()
				before := compute(t, base(v.before), cached(c))
				edited := base(v.after)
				e.edit(edited.Channels[0])
				want := compute(t, edited)
				require.NotEqual(t, e.shows(before), e.shows(want), "the edit changes the plan")
				assert.Equal(t, want, compute(t, edited, cached(c)))
			})
		}
	}
}

func TestTheCacheForgetsChannelsNoPassUses(t *testing.T) {
	c := NewCache()
	gone := benchWorld(100, false)
	compute(t, gone, cached(c))
	require.Equal(t, 100+2*100, c.Len(), "100 channels, 100 slice groups named and built")
	// Another mux's channels keep being planned; the first mux's channels were deleted.
	other := Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-39999"))}
	for i := 0; i < 600; i++ {
		other.Channels = append(other.Channels, channel(fmt.Sprintf("other/svc-%d", i), "http:80"))
	}
	for range 20 {
		Compute(other, cached(c))
	}
	assert.Equal(t, 600, c.Len(), "only the channels still planned are remembered (the other mux has no slices)")
}

func TestPassesOverSeveralMuxesShareOneCacheSafely(t *testing.T) {
	worlds := []Snapshot{benchWorld(200, false), benchWorld(200, true), richWorld(), goldenWorld()}
	want := make([]Plan, len(worlds))
	for i, w := range worlds {
		want[i] = Compute(w, testOpts)
	}
	c := NewCache()
	got := make([]Plan, len(worlds))
	var wg sync.WaitGroup
	for i, w := range worlds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got[i] = Compute(w, cached(c))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, want, got)
}

func TestSliceNamesAreRememberedPerMuxAndGroup(t *testing.T) {
	c := NewCache()
	s := benchWorld(20, false)
	compute(t, s, cached(c))
	other := deepCopySnapshot(s)
	other.Mux.Name = "other"
	other.ChannelSlices[0].Endpoints[0].Addresses = []string{"10.9.9.9"} // same group key, other endpoints
	other.ChannelSlices[1].Ports[0].Port = ptr(int32(8443))              // another group key
	assert.Equal(t, compute(t, other), compute(t, other, cached(c)))
}
