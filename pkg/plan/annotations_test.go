package plan

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// SPEC §5: what the agent writes on the mux and the channels.

const (
	hostnameKey   = "external-dns.alpha.kubernetes.io/hostname"
	cloudflareKey = "external-dns.alpha.kubernetes.io/cloudflare-proxied"
)

func TestChannelsAndSummary(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mux      *corev1.Service
		channels []*corev1.Service
		list     string
		summary  string
	}{
		{
			name:     "channels lists every attached channel, accepted or not, sorted, with comma and space",
			mux:      mux(muxIngress("203.0.113.7")),
			channels: channels(channel("c/d", "http:80"), channel("a/b", "http:80"), channel("a/a", "-:1")),
			list:     `["a/a", "a/b", "c/d"]`,
			summary:  "3 channel(s) | 1 port(s) | 0 pod(s) | DNS: 203.0.113.7",
		},
		{
			name:     "the summary says pending while the mux has no ingress",
			mux:      mux(),
			channels: channels(channel("a/b", "http:80", "grpc:90")),
			list:     `["a/b"]`,
			summary:  "1 channel(s) | 2 port(s) | 0 pod(s) | DNS: pending",
		},
		{
			name: "the summary shows the first ingress hostname when it has one",
			mux: mux(func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1", Hostname: "lb.example.com"}, {IP: "192.0.2.2"}}
			}),
			list:    `[]`,
			summary: "0 channel(s) | 0 port(s) | 0 pod(s) | DNS: lb.example.com",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: tc.channels})
			assert.Equal(t, tc.list, p.Annotations[testKeys.Channels])
			assert.Equal(t, tc.summary, p.Annotations[testKeys.Summary])
		})
	}
}

func TestTopologyWithoutIngress(t *testing.T) {
	p := compute(t, Snapshot{
		Mux: mux(),
		Channels: channels(
			withAnn(channel("app/b", "dns:53/UDP"), testKeys.ExternalDNSHostname, " x.example.com ,"),
			channel("app/a", "http:80"),
		),
		ChannelSlices: slices(slice("app/a", "a-1", "http", 80, "10.0.0.1", "10.0.0.2!", "10.0.0.3~")),
	})
	assert.Equal(t, "Channels:\n"+
		"  - app/a\n"+
		"    DNS: pending\n"+
		"    Ports: http:80->80\n"+
		"    Backend: 1 pod(s) ready\n"+
		"  - app/b\n"+
		"    DNS: x.example.com (custom)\n"+
		"    Ports: dns:53->53\n"+
		"    Backend: 0 pod(s) ready\n"+
		"\n"+
		"Summary: 2 channel(s), 2 port(s), 1 backend pod(s)", p.Annotations[testKeys.Topology])
}

func TestChannelPortsAnnotationFollowsSpecPortsOrder(t *testing.T) {
	p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)),
		Channels: channels(auto(channel("app/api", "http:8080", "grpc:9090", "admin:80"), "grpc:auto,http:auto"))})
	o := outcome(t, p, "app/api")
	assert.Equal(t, "http:8080->20000, grpc:9090->20001, admin:80->80", annotation(o))
	assert.Equal(t, "channel app/api is served by mux svc-mux/mux: http:8080->20000, grpc:9090->20001, admin:80->80", o.Message)
}

func TestChannelIngressIsTheMuxIngress(t *testing.T) {
	t.Run("an accepted channel gets a copy of the mux's status.loadBalancer", func(t *testing.T) {
		m := mux(func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7", Hostname: "lb.example.com",
				Ports: []corev1.PortStatus{{Port: 80, Protocol: "TCP"}}}}
		})
		p := compute(t, Snapshot{Mux: m, Channels: channels(channel("app/a", "http:80"))})
		in := outcome(t, p, "app/a").Ingress
		assert.Equal(t, []corev1.LoadBalancerIngress{{IP: "203.0.113.7", Hostname: "lb.example.com",
			IPMode: ptr(corev1.LoadBalancerIPModeProxy), Ports: []corev1.PortStatus{{Port: 80, Protocol: "TCP"}}}}, in,
			"the mux's addresses, in Proxy mode so kube-proxy does not serve the channel's own ports on them")
		in[0].Ports[0].Port = 1
		assert.Equal(t, int32(80), m.Status.LoadBalancer.Ingress[0].Ports[0].Port, "a copy, not the mux's own slice")
	})
	t.Run("a hostname-only ingress gets no ipMode", func(t *testing.T) {
		m := mux(func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}
		})
		p := compute(t, Snapshot{Mux: m, Channels: channels(channel("app/a", "http:80"))})
		assert.Equal(t, []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}, outcome(t, p, "app/a").Ingress)
	})
	t.Run("the channel's ingress is cleared when the mux has none", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(withIngress(channel("app/a", "http:80"), "198.51.100.1"))})
		assert.Nil(t, outcome(t, p, "app/a").Ingress)
	})
}

func TestExternalDNSAggregation(t *testing.T) {
	host := func(c *corev1.Service, v string) *corev1.Service { return withAnn(c, testKeys.ExternalDNSHostname, v) }
	proxied := func(c *corev1.Service, v string) *corev1.Service { return withAnn(c, cloudflareKey, v) }
	both := hostnameKey + "," + cloudflareKey
	for _, tc := range []struct {
		name      string
		mux       *corev1.Service
		channels  []*corev1.Service
		want      map[string]string // external-dns keys and the bookkeeping key; "" = not written
		remove    []string
		conflicts map[string]string // channel -> exact message
	}{
		{
			name: "hostnames are de-duplicated in namespace/name order and joined by commas",
			mux:  mux(),
			channels: channels(
				host(channel("app/b", "http:81"), "b.example.com,,c.example.com"),
				host(channel("app/a", "http:80"), " a.example.com, b.example.com "),
				channel("app/c", "http:82"),
			),
			want: map[string]string{hostnameKey: "a.example.com,b.example.com,c.example.com", cloudflareKey: "",
				testKeys.AggregatedExternalDNS: hostnameKey},
		},
		{
			name: "cloudflare-proxied values are trimmed, case-insensitive and ANDed: all true is true",
			mux:  mux(),
			channels: channels(
				proxied(host(channel("app/a", "http:80"), "a.example.com"), "True"),
				proxied(channel("app/b", "http:81"), " true "),
			),
			want: map[string]string{hostnameKey: "a.example.com", cloudflareKey: "true", testKeys.AggregatedExternalDNS: both},
		},
		{
			name: "one false makes the mux false",
			mux:  mux(),
			channels: channels(
				proxied(channel("app/a", "http:80"), "true"),
				proxied(channel("app/b", "http:81"), "FALSE"),
			),
			want: map[string]string{hostnameKey: "", cloudflareKey: "false", testKeys.AggregatedExternalDNS: cloudflareKey},
		},
		{
			name: "values other than true and false are ignored",
			mux:  mux(),
			channels: channels(
				proxied(channel("app/a", "http:80"), "yes"),
				proxied(channel("app/b", "http:81"), "true"),
				proxied(channel("app/c", "http:82"), ""),
			),
			want: map[string]string{hostnameKey: "", cloudflareKey: "true", testKeys.AggregatedExternalDNS: cloudflareKey},
		},
		{
			name:     "only invalid values write nothing",
			mux:      mux(),
			channels: channels(proxied(channel("app/a", "http:80"), "1")),
			want:     map[string]string{hostnameKey: "", cloudflareKey: "", testKeys.AggregatedExternalDNS: ""},
		},
		{
			name:     "a channel's own external-dns hostname annotation is ignored",
			mux:      mux(),
			channels: channels(withAnn(channel("app/a", "http:80"), hostnameKey, "ignored.example.com")),
			want:     map[string]string{hostnameKey: "", cloudflareKey: "", testKeys.AggregatedExternalDNS: ""},
		},
		{
			name: "rejected channels count too: every attached channel is aggregated",
			mux:  mux(),
			channels: channels(
				host(channel("app/a", "http:80"), "a.example.com"),
				host(channel("app/b", "http:80"), "b.example.com"),
			),
			want: map[string]string{hostnameKey: "a.example.com,b.example.com", cloudflareKey: "", testKeys.AggregatedExternalDNS: hostnameKey},
		},
		{
			name: "agent-owned keys whose aggregate is empty are removed, and the bookkeeping key with them",
			mux: mux(muxAnn(hostnameKey, "old.example.com"), muxAnn(cloudflareKey, "true"),
				muxAnn(testKeys.AggregatedExternalDNS, both)),
			channels: channels(channel("app/a", "http:80")),
			want:     map[string]string{hostnameKey: "", cloudflareKey: "", testKeys.AggregatedExternalDNS: ""},
			remove:   []string{hostnameKey, cloudflareKey, testKeys.AggregatedExternalDNS},
		},
		{
			name: "an owned key whose aggregate is empty is removed while the other stays owned",
			mux: mux(muxAnn(hostnameKey, "old.example.com"), muxAnn(cloudflareKey, "true"),
				muxAnn(testKeys.AggregatedExternalDNS, both)),
			channels: channels(host(channel("app/a", "http:80"), "new.example.com")),
			want:     map[string]string{hostnameKey: "new.example.com", cloudflareKey: "", testKeys.AggregatedExternalDNS: hostnameKey},
			remove:   []string{cloudflareKey},
		},
		{
			name: "a key on the mux not listed as aggregated is the user's: left alone, and each channel asking is warned",
			mux:  mux(muxAnn(hostnameKey, "user.example.com")),
			channels: channels(
				proxied(host(channel("app/a", "http:80"), "a.example.com"), "true"),
				host(channel("app/b", "http:81"), "b.example.com"),
				channel("app/c", "http:82"),
			),
			want: map[string]string{hostnameKey: "", cloudflareKey: "true", testKeys.AggregatedExternalDNS: cloudflareKey},
			conflicts: map[string]string{
				"app/a": "channel annotation svc-mux.nowake.ai/external-dns-hostname cannot be aggregated because mux svc-mux/mux already has a user-owned external-dns.alpha.kubernetes.io/hostname; remove it from the mux or from the channel",
				"app/b": "channel annotation svc-mux.nowake.ai/external-dns-hostname cannot be aggregated because mux svc-mux/mux already has a user-owned external-dns.alpha.kubernetes.io/hostname; remove it from the mux or from the channel",
			},
		},
		{
			name: "a user-owned cloudflare-proxied warns the channels that set it",
			mux:  mux(muxAnn(cloudflareKey, "false")),
			channels: channels(
				proxied(channel("app/a", "http:80"), "true"),
				host(channel("app/b", "http:81"), "b.example.com"),
			),
			want: map[string]string{hostnameKey: "b.example.com", cloudflareKey: "", testKeys.AggregatedExternalDNS: hostnameKey},
			conflicts: map[string]string{
				"app/a": "channel annotation external-dns.alpha.kubernetes.io/cloudflare-proxied cannot be aggregated because mux svc-mux/mux already has a user-owned external-dns.alpha.kubernetes.io/cloudflare-proxied; remove it from the mux or from the channel",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: tc.channels})
			for k, v := range tc.want {
				got, ok := p.Annotations[k]
				if v == "" {
					assert.False(t, ok, "%s must not be written, got %q", k, got)
				} else {
					assert.Equal(t, v, got, k)
				}
			}
			assert.ElementsMatch(t, tc.remove, p.RemoveAnnotations)
			for _, o := range p.Channels {
				ref := o.Channel.String()
				evs := events(p, ref, api.ReasonMuxExternalDNSAnnotationConflict)
				if msg, ok := tc.conflicts[ref]; ok {
					require.Len(t, evs, 1, ref)
					assert.Equal(t, msg, evs[0].Message)
					assert.Equal(t, api.EventWarning, evs[0].Type)
				} else {
					assert.Empty(t, evs, ref)
				}
			}
		})
	}
}

// Kubernetes rejects an object whose annotations exceed 256 KiB; the agent keeps its
// annotations together within 128 KiB by cutting the topology short.
func TestAnnotationsStayWithinTheSizeCap(t *testing.T) {
	manyChannels := func(n int, name func(i int) string) []*corev1.Service {
		out := make([]*corev1.Service, n)
		for i := range out {
			out[i] = channel(name(i), "http:"+fmt.Sprint(1000+i))
		}
		return out
	}
	total := func(m map[string]string) int {
		n := 0
		for k, v := range m {
			n += len(k) + len(v)
		}
		return n
	}
	more := regexp.MustCompile(`\n  … and (\d+) more channel\(s\)\n\nSummary: 5000 channel\(s\), 5000 port\(s\), 0 backend pod\(s\)$`)

	t.Run("a 5,000-channel mux lists the channels that fit and ends with … and N more channel(s)", func(t *testing.T) {
		m := mux(muxAnn("example.com/notes", strings.Repeat("n", 10_000)), muxIngress("203.0.113.7"))
		p := compute(t, Snapshot{Mux: m, Channels: manyChannels(5000, func(i int) string { return fmt.Sprintf("team/svc-%05d", i) })})
		result := resultingAnnotations(m.Annotations, p)
		assert.LessOrEqual(t, total(result), 128*1024, "annotations together within 128 KiB")
		assert.Greater(t, total(result), 120*1024, "the topology uses the room it has")
		topo := p.Annotations[testKeys.Topology]
		require.Regexp(t, more, topo)
		var rest int
		fmt.Sscan(more.FindStringSubmatch(topo)[1], &rest)
		shown := strings.Count(topo, "\n  - team/svc-")
		assert.Equal(t, 5000, shown+rest)
		assert.Greater(t, shown, 100)
		assert.True(t, strings.HasPrefix(topo, "Mux DNS: 203.0.113.7\n\nChannels:\n  - team/svc-00000\n"), "the first channels in order are shown")
		assert.Contains(t, topo, fmt.Sprintf("  - team/svc-%05d\n", shown-1))
		assert.NotContains(t, topo, fmt.Sprintf("  - team/svc-%05d\n", shown))
		assert.Equal(t, "5000 channel(s) | 5000 port(s) | 0 pod(s) | DNS: 203.0.113.7", p.Annotations[testKeys.Summary])
	})

	t.Run("a small mux lists every channel without an overflow line", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: manyChannels(50, func(i int) string { return fmt.Sprintf("team/svc-%05d", i) })})
		assert.NotContains(t, p.Annotations[testKeys.Topology], "more channel(s)")
		assert.Equal(t, 50, strings.Count(p.Annotations[testKeys.Topology], "\n  - team/svc-"))
	})

	t.Run("a 10,000-channel mux with long names still keeps its annotations within 128 KiB", func(t *testing.T) {
		m := mux()
		p := compute(t, Snapshot{Mux: m, Channels: manyChannels(10000, func(i int) string { return fmt.Sprintf("team-payments/service-%05d", i) })})
		assert.LessOrEqual(t, total(resultingAnnotations(m.Annotations, p)), 128*1024)
	})
}

func TestAcceptedCondition(t *testing.T) {
	t0 := metav1.Unix(1_700_000_000, 0)
	prior := func(status metav1.ConditionStatus, reason string) chanOpt {
		return func(c *corev1.Service) {
			c.Status.Conditions = []metav1.Condition{
				{Type: "example.com/Other", Status: metav1.ConditionTrue, Reason: "X", LastTransitionTime: t0},
				{Type: testKeys.AcceptedCondition, Status: status, Reason: reason, LastTransitionTime: t0},
			}
		}
	}
	for _, tc := range []struct {
		name    string
		prior   chanOpt
		ports   string // "http:80" accepted; "-:80" refused
		status  metav1.ConditionStatus
		reason  string
		message string
		ltt     metav1.Time
	}{
		{"a first acceptance is True/Accepted, stamped now", nil, "http:80", metav1.ConditionTrue, "Accepted",
			"channel app/a is served by mux svc-mux/mux: http:80->80", testNow},
		{"an unchanged True keeps its lastTransitionTime", prior(metav1.ConditionTrue, "Accepted"), "http:80", metav1.ConditionTrue, "Accepted",
			"channel app/a is served by mux svc-mux/mux: http:80->80", t0},
		{"False flipping to True moves lastTransitionTime to now", prior(metav1.ConditionFalse, api.ReasonInvalidPort), "http:80", metav1.ConditionTrue, "Accepted",
			"channel app/a is served by mux svc-mux/mux: http:80->80", testNow},
		{"True flipping to False moves lastTransitionTime to now", prior(metav1.ConditionTrue, "Accepted"), "-:80", metav1.ConditionFalse, api.ReasonInvalidPort,
			"channel app/a: every port needs a name; missing at spec.ports[0]; add spec.ports[].name", testNow},
		{"False staying False with another reason keeps lastTransitionTime", prior(metav1.ConditionFalse, api.ReasonMuxPortConflict), "-:80", metav1.ConditionFalse, api.ReasonInvalidPort,
			"channel app/a: every port needs a name; missing at spec.ports[0]; add spec.ports[].name", t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := channel("app/a", tc.ports)
			c.Generation = 7
			if tc.prior != nil {
				tc.prior(c)
			}
			p := compute(t, Snapshot{Mux: mux(), Channels: channels(c)})
			assert.Equal(t, &metav1.Condition{Type: "svc-mux.nowake.ai/Accepted", Status: tc.status, Reason: tc.reason,
				Message: tc.message, ObservedGeneration: 7, LastTransitionTime: tc.ltt}, outcome(t, p, "app/a").Condition)
		})
	}
}

type chanOpt func(*corev1.Service)

func TestPythonFinalizersAreStripped(t *testing.T) {
	fin := func(s *corev1.Service) *corev1.Service {
		s.Finalizers = append(s.Finalizers, "example.com/keep", testKeys.Finalizer)
		return s
	}
	m := mux()
	fin(m)
	p := compute(t, Snapshot{Mux: m, Channels: channels(fin(channel("app/b", "http:80")), channel("app/a", "http:81"), fin(channel("app/c", "-:82")))})
	assert.Equal(t, []ObjectRef{
		{Kind: "Service", Namespace: "svc-mux", Name: "mux", UID: "mux-uid"},
		{Kind: "Service", Namespace: "app", Name: "b", UID: "app/b"},
		{Kind: "Service", Namespace: "app", Name: "c", UID: "app/c"},
	}, p.StripFinalizers)

	clean := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:81"))})
	assert.Nil(t, clean.StripFinalizers)
}

func TestMuxChangeEvents(t *testing.T) {
	t.Run("MuxPortsChanged lists added and removed ports in port order", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:9090", "grpc:8080"))})
		assert.Equal(t, "Added 2 port(s): 8080/TCP, 9090/TCP; Removed 1 port(s): 101/TCP", message(t, p, "svc-mux/mux", api.ReasonMuxPortsChanged))
	})
	t.Run("MuxPortsChanged names at most 20 ports", func(t *testing.T) {
		var specs []string
		for i := 1; i <= 25; i++ {
			specs = append(specs, fmt.Sprintf("p%d:%d", i, i))
		}
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(channel("app/a", specs...))})
		var first []string
		for i := 1; i <= 20; i++ {
			first = append(first, fmt.Sprintf("%d/TCP", i))
		}
		assert.Equal(t, "Added 25 port(s): "+strings.Join(first, ", ")+", and 5 more; Removed 1 port(s): 101/TCP",
			message(t, p, "svc-mux/mux", api.ReasonMuxPortsChanged))
	})
	t.Run("going back to the placeholder is a change", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxPorts(sp("app", "a", "http", 80, "TCP")))})
		assert.Equal(t, "Added 1 port(s): 101/TCP; Removed 1 port(s): 80/TCP", message(t, p, "svc-mux/mux", api.ReasonMuxPortsChanged))
	})
	t.Run("unchanged ports, annotations and endpoints post nothing", func(t *testing.T) {
		first := goldenWorld()
		p1 := compute(t, first)
		p2 := compute(t, applied(first, p1))
		for _, e := range p2.Events {
			assert.Equal(t, api.EventWarning, e.Type, "no Normal event on an idle mux: %+v", e)
		}
		assert.Equal(t, []string{api.ReasonMuxPortConflict}, reasons(p2, "app/bad"))
		assert.Empty(t, reasons(p2, "svc-mux/mux"))
	})
	t.Run("ports whose NodePort the API server filled in are unchanged", func(t *testing.T) {
		first := Snapshot{Mux: mux(), Channels: channels(channel("app/a", "http:80"))}
		next := applied(first, compute(t, first))
		next.Mux.Spec.Ports[0].NodePort = 31000
		next.Mux.Spec.Ports[0].TargetPort.IntVal = 80
		p := compute(t, next)
		assert.Empty(t, events(p, "svc-mux/mux", api.ReasonMuxPortsChanged))
	})
	t.Run("a user's own mux annotations do not count as a change", func(t *testing.T) {
		first := Snapshot{Mux: mux(muxAnn("example.com/team", "edge")), Channels: channels(channel("app/a", "http:80"))}
		next := applied(first, compute(t, first))
		next.Mux.Annotations["example.com/team"] = "core"
		p := compute(t, next)
		assert.Empty(t, events(p, "svc-mux/mux", api.ReasonMuxAnnotationsUpdated))
	})
}
