package plan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Golden scenarios: the expected files under testdata/ were written by hand from
// SPEC §4 and §5, not captured from the planner's output. Compare byte for byte; if
// one differs, the planner is wrong until a human re-reads the SPEC and says otherwise.

// golden reads a hand-written expected file from testdata, byte for byte.
func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

// goldenWorld is the scenario of testdata/golden-*.{txt,json}: an accepted channel
// with an auto port and two custom hostnames, a conflicting channel, a UDP channel
// and an explicit one, on a mux with an ingress IP.
func goldenWorld() Snapshot {
	dnsSlice := slice("app/dns", "dns-1", "dns", 53, "10.0.1.1")
	dnsSlice.Ports[0].Protocol = ptr(corev1.ProtocolUDP)
	return Snapshot{
		Mux: mux(muxAnn(testKeys.PortRange, rng), muxIngress("203.0.113.7")),
		Channels: channels(
			auto(channel("app/web", "http:80"), "http:30080"),
			withAnn(auto(channel("app/api", "http:8080", "grpc:9090"), "grpc:auto"), testKeys.ExternalDNSHostname, "a.example.com,b.example.com"),
			channel("app/dns", "dns:53/UDP"),
			channel("app/bad", "http:8080"),
		),
		ChannelSlices: slices(
			slice("app/api", "api-1", "http", 8080, "10.0.0.1", "10.0.0.2", "10.0.0.3!"),
			dnsSlice,
		),
	}
}

func TestGoldenScenario(t *testing.T) {
	p := compute(t, goldenWorld())

	assert.Equal(t, golden(t, "golden-topology.txt"), p.Annotations[testKeys.Topology], "topology (testdata/golden-topology.txt)")
	assert.Equal(t, golden(t, "golden-state.json"), p.State.Document.Encode(), "state document (testdata/golden-state.json)")
	assert.Equal(t, map[string]string{
		testKeys.Channels:              `["app/api", "app/bad", "app/dns", "app/web"]`,
		testKeys.Summary:               "4 channel(s) | 4 port(s) | 3 pod(s) | DNS: 203.0.113.7",
		testKeys.Topology:              golden(t, "golden-topology.txt"),
		hostnameKey:                    "a.example.com,b.example.com",
		testKeys.AggregatedExternalDNS: hostnameKey,
	}, p.Annotations)
	assert.Empty(t, p.RemoveAnnotations)
	assert.Equal(t, []string{
		muxPort(53, "UDP", "app/dns", "dns"),
		muxPort(8080, "TCP", "app/api", "http"),
		muxPort(20000, "TCP", "app/api", "grpc"),
		muxPort(30080, "TCP", "app/web", "http"),
	}, portList(p))
	assert.Equal(t, "http:8080->8080, grpc:9090->20000", annotation(outcome(t, p, "app/api")))
	assert.Equal(t, "-", annotation(outcome(t, p, "app/bad")))
	assert.Equal(t, "dns:53->53", annotation(outcome(t, p, "app/dns")))
	assert.Equal(t, "http:80->30080", annotation(outcome(t, p, "app/web")))
	assert.Equal(t, Stats{Channels: 4, Accepted: 3, Rejected: 1, Ports: 4, DeclaredPorts: 5, ReadyPods: 3}, p.Stats)

	mux := ObjectRef{Kind: "Service", Namespace: "svc-mux", Name: "mux", UID: "mux-uid"}
	bad := ObjectRef{Kind: "Service", Namespace: "app", Name: "bad", UID: "app/bad"}
	assert.Equal(t, []Event{
		{Object: bad, Type: api.EventWarning, Reason: api.ReasonMuxPortConflict,
			Message: "channel app/bad: 8080/TCP is already claimed by app/api:" + hash7("app", "api", "http")},
		{Object: mux, Type: api.EventNormal, Reason: api.ReasonMuxAnnotationsUpdated,
			Message: "Mux annotations updated: 4 channel(s) | 4 port(s) | 3 pod(s) | DNS: 203.0.113.7"},
		{Object: mux, Type: api.EventNormal, Reason: api.ReasonMuxEndpointsCreated,
			Message: "Mux endpoints created: 3 ready, 1 not ready"},
		{Object: mux, Type: api.EventNormal, Reason: api.ReasonMuxPortsChanged,
			Message: "Added 4 port(s): 53/UDP, 8080/TCP, 20000/TCP, 30080/TCP; Removed 1 port(s): 101/TCP"},
	}, p.Events)
}
