package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// SPEC §3: automatic allocation and the life of claims.

func TestAutoAllocation(t *testing.T) {
	t.Run("a persisted claim inside the range is kept even when lower ports are free", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)),
			Channels:       channels(auto(channel("app/api", "http:8080"), "http:auto")),
			StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20050, "auto"))})
		assert.Equal(t, []string{muxPort(20050, "TCP", "app/api", "http")}, portList(p))
		assert.False(t, p.State.Write)
	})

	t.Run("a persisted claim outside a shrunk range is reallocated into the range", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20009"), muxPorts(sp("app", "api", "http", 20050, "TCP"))),
			Channels:       channels(withPorts(auto(channel("app/api", "http:8080"), "http:auto"), "http:8080->20050")),
			StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20050, "auto"))})
		assert.Equal(t, []string{muxPort(20000, "TCP", "app/api", "http")}, portList(p))
		assert.Equal(t, []string{"TCP:app:api:http=20000/auto"}, claimsOf(p))
		assert.Equal(t, "http:8080->20000", annotation(outcome(t, p, "app/api")))
		assert.True(t, p.State.Write)
		assert.Equal(t, "Added 1 port(s): 20000/TCP; Removed 1 port(s): 20050/TCP", message(t, p, "svc-mux/mux", api.ReasonMuxPortsChanged))
	})

	t.Run("a static claim that becomes auto keeps its port when it is inside the range", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)),
			Channels:       channels(auto(channel("app/api", "http:20010"), "http:auto")),
			StateConfigMap: stateOf(claim("app/api", "http", "TCP", 20010, 20010, "static"))})
		assert.Equal(t, []string{muxPort(20010, "TCP", "app/api", "http")}, portList(p))
		assert.Equal(t, []string{"TCP:app:api:http=20010/auto"}, claimsOf(p))
	})

	t.Run("exhausting the range refuses the channel with InvalidPortMapping", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20001")), Channels: channels(
			auto(channel("app/a", "http:80"), "http:auto"),
			auto(channel("app/b", "http:80"), "http:auto"),
			auto(channel("app/c", "http:80"), "http:auto"),
		)})
		assert.Equal(t, []string{muxPort(20000, "TCP", "app/a", "http"), muxPort(20001, "TCP", "app/b", "http")}, portList(p))
		o := outcome(t, p, "app/c")
		assert.False(t, o.Serving())
		assert.Equal(t, api.ReasonInvalidPortMapping, o.Reason)
		assert.Contains(t, o.Message, "no available TCP port in mux port range 20000-20001")
		assert.Equal(t, "channel app/c: no available TCP port in mux port range 20000-20001; widen svc-mux.nowake.ai/port-range on mux svc-mux/mux", o.Message)
	})

	t.Run("a channel that does not fit whole leaves its tentative port to the next channel", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20002")), Channels: channels(
			auto(channel("app/a", "http:80"), "http:auto"),
			auto(channel("app/b", "http:80"), "http:auto"),
			auto(channel("app/c", "http:80", "grpc:90"), "http:auto,grpc:auto"),
			auto(channel("app/d", "http:80"), "http:auto"),
		)})
		assert.Equal(t, []string{
			muxPort(20000, "TCP", "app/a", "http"), muxPort(20001, "TCP", "app/b", "http"), muxPort(20002, "TCP", "app/d", "http"),
		}, portList(p))
		assert.Equal(t, api.ReasonInvalidPortMapping, outcome(t, p, "app/c").Reason)
	})

	t.Run("auto never hands out a port the same channel asks for explicitly", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-20001")), Channels: channels(
			auto(channel("app/a", "http:80", "admin:81"), "http:auto,admin:20000"),
		)})
		assert.Equal(t, []string{muxPort(20000, "TCP", "app/a", "admin"), muxPort(20001, "TCP", "app/a", "http")}, portList(p))
	})

	t.Run("an invalid range keeps owners' ports, refuses new auto ports and does not write the state", func(t *testing.T) {
		p := compute(t, Snapshot{
			Mux: mux(muxAnn(testKeys.PortRange, "20010-20000"), muxPorts(sp("app", "api", "http", 20005, "TCP"))),
			Channels: channels(
				auto(channel("app/api", "http:8080"), "http:auto"),
				auto(channel("app/new", "http:80"), "http:auto"),
				channel("app/static", "tcp:7000"),
			),
			StateConfigMap: stateOf(claim("app/api", "http", "TCP", 8080, 20005, "auto")),
		})
		rangeErr := `invalid item "20010-20000" (start is greater than end): expected N or A-B with ports 1-65535`
		assert.Equal(t, "mux svc-mux/mux: annotation svc-mux.nowake.ai/port-range: "+rangeErr+"; owners keep their ports, no new automatic port is given",
			message(t, p, "svc-mux/mux", api.ReasonInvalidPortRange))
		assert.Equal(t, []string{muxPort(7000, "TCP", "app/static", "tcp"), muxPort(20005, "TCP", "app/api", "http")}, portList(p))
		assert.True(t, outcome(t, p, "app/api").Accepted)
		assert.True(t, outcome(t, p, "app/static").Accepted)
		n := outcome(t, p, "app/new")
		assert.False(t, n.Serving())
		assert.Equal(t, api.ReasonInvalidPortRange, n.Reason)
		assert.Equal(t, "channel app/new: no automatic port is given while mux svc-mux/mux has an invalid svc-mux.nowake.ai/port-range: "+rangeErr, n.Message)
		assert.True(t, p.State.Readable)
		assert.False(t, p.State.Write, "the state is not written while the range is invalid")
		assert.False(t, p.State.Create)
		assert.Equal(t, "mux svc-mux/mux has an invalid svc-mux.nowake.ai/port-range; state is not written until it is fixed", p.State.Problem)
	})

	t.Run("allocation is linear in the range size", func(t *testing.T) {
		var cs []*corev1.Service
		for i := 0; i < 2000; i++ {
			cs = append(cs, auto(channel(fmt.Sprintf("app/c%04d", i), "http:80"), "http:auto"))
		}
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, "20000-21999")), Channels: cs})
		assert.Len(t, p.Ports, 2000)
		assert.Equal(t, "20000/TCP", fmt.Sprintf("%d/%s", p.Ports[0].Port, p.Ports[0].Protocol))
		assert.Equal(t, int32(21999), p.Ports[1999].Port)
	})
}

// Claims live while their channel is attached and its port exists.
func TestClaimsArePruned(t *testing.T) {
	p := compute(t, Snapshot{
		Mux:      mux(muxAnn(testKeys.PortRange, rng)),
		Channels: channels(auto(channel("app/api", "http:8080"), "http:auto")),
		StateConfigMap: stateOf(
			claim("app/api", "http", "TCP", 8080, 20000, "auto"),
			claim("app/api", "grpc", "TCP", 9090, 9090, "static"), // port removed from the channel
			claim("app/gone", "http", "TCP", 80, 20001, "auto"),   // channel deleted or detached
			claim("app/api", "http", "UDP", 8080, 20000, "auto"),  // protocol changed
		),
	})
	assert.Equal(t, []string{"TCP:app:api:http=20000/auto"}, claimsOf(p))
	assert.True(t, p.State.Write)
	assert.False(t, p.State.Create)
	assert.True(t, strings.Contains(p.State.Document.Encode(), `"service": "api"`))
	assert.NotContains(t, p.State.Document.Encode(), `"service": "gone"`)
}
