package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

func TestAStateDocumentIsIndexedOnceWhileThePassesGetTheSameDecodedDocument(t *testing.T) {
	claims := []state.Claim{
		{Namespace: "app", Service: "api", PortName: "grpc", Protocol: corev1.ProtocolTCP, MuxPort: 20000},
		{Namespace: "app", Service: "web", PortName: "http", Protocol: corev1.ProtocolTCP, MuxPort: 80},
	}
	c := NewCache()
	first := c.claimIndex("ns/mux", claims)
	assert.Same(t, first, c.claimIndex("ns/mux", claims), "the same document: the index is reused")
	assert.Equal(t, map[string]int32{"TCP:app:api:grpc": 0, "TCP:app:web:http": 1}, first.at)

	decodedAgain := append([]state.Claim(nil), claims...)
	again := c.claimIndex("ns/mux", decodedAgain)
	assert.NotSame(t, first, again, "another decoded document, equal or not, is indexed afresh")
	assert.True(t, again.indexes(decodedAgain))
	assert.NotSame(t, again, c.claimIndex("ns/other", decodedAgain), "each mux has its own")
	assert.NotSame(t, (*Cache)(nil).claimIndex("ns/mux", claims), (*Cache)(nil).claimIndex("ns/mux", claims), "no Cache: built every pass")
}

func TestTheIndexOfADocumentWithAKeyTwiceFindsItsFirstClaim(t *testing.T) {
	claims := []state.Claim{
		{Namespace: "app", Service: "api", PortName: "grpc", MuxPort: 20000},
		{Namespace: "app", Service: "api", PortName: "grpc", Protocol: corev1.ProtocolTCP, MuxPort: 20001},
	}
	assert.Equal(t, map[string]int32{"TCP:app:api:grpc": 0}, newClaimIndex(claims).at, "an unset protocol is TCP, as in the channel port's key")
}

func TestASteadyPassWithBothCachesPlansAsOneWithNeither(t *testing.T) {
	world := benchWorld(300, true)
	require.NotEmpty(t, world.StateConfigMap.Data)
	want := compute(t, world)
	o := benchOptions()
	for pass := 1; pass <= 3; pass++ {
		assert.Equal(t, want, compute(t, world, o), "pass %d", pass)
	}
	assert.Len(t, o.Cache.claims, 1, "one index, kept for the unchanged document")

	// A document of as many claims, one of them of a channel gone (so the others
	// are at other places), two swapped: it gets its own index, not the last one.
	doc, err := state.Decode(world.StateConfigMap.Data[api.StateKey])
	require.NoError(t, err)
	doc.Claims[0].MuxPort, doc.Claims[2].MuxPort = doc.Claims[2].MuxPort, doc.Claims[0].MuxPort
	doc.Claims[1].Service = "zz-gone"
	cm := world.StateConfigMap.DeepCopy()
	cm.Data[api.StateKey] = doc.Encode()
	world.StateConfigMap = cm
	swapped := compute(t, world)
	require.NotEqual(t, want.Ports, swapped.Ports, "the swapped claims move those ports")
	assert.Equal(t, swapped, compute(t, world, o))
}

func TestTheCacheForgetsTheIndexOfAMuxNoPassPlans(t *testing.T) {
	claims := []state.Claim{{Namespace: "app", Service: "api", PortName: "grpc", MuxPort: 20000}}
	c := NewCache()
	c.claimIndex("ns/gone", claims)
	for range 3 {
		c.uses = len(c.entries) + 1024
		c.sweep()
	}
	assert.Empty(t, c.claims)
}
