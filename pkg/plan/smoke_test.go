package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestPlanSmoke(t *testing.T) {
	m := mux(muxAnn(testKeys.PortRange, "20000-20099"), muxIngress("203.0.113.7"))
	a := channel("app/api", "http:8080", "grpc:9090")
	b := withAnn(channel("app/web", "http:80"), testKeys.ExternalPorts, "http:30080")
	c := withAnn(channel("app/auto", "http:80"), testKeys.ExternalPorts, "http:auto")
	p := compute(t, Snapshot{Mux: m, Channels: []*corev1.Service{c, b, a},
		ChannelSlices: []*discoveryv1.EndpointSlice{slice("app/api", "api-x", "http", 80, "10.0.0.1", "10.0.0.2!")}})
	require.False(t, p.Frozen)
	t.Log(portList(p))
	for _, o := range p.Channels {
		t.Log(o.Channel, annotation(o), o.Reason, o.Message)
	}
	t.Log(p.Annotations[testKeys.Topology])
	t.Log(p.Annotations[testKeys.Summary])
	t.Log(p.State.Encoded)
	for _, e := range p.Events {
		t.Log(e)
	}
	for _, s := range p.Slices {
		t.Logf("%s %+v", s.Name, s.Endpoints)
	}
	assert.Len(t, p.Ports, 4)
}
