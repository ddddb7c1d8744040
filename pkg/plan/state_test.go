package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// SPEC §4: the state ConfigMap.

// stateWorld is api (http auto) and dns (dns:53/UDP static) on a mux with a range.
func stateWorld(cm *corev1.ConfigMap) Snapshot {
	return Snapshot{
		Mux:            mux(muxAnn(testKeys.PortRange, rng)),
		Channels:       channels(auto(channel("app/api", "http:8080"), "http:auto"), channel("app/dns", "dns:53/UDP")),
		StateConfigMap: cm,
	}
}

func TestStateDocument(t *testing.T) {
	current := golden(t, "older-allocations.migrated.json")
	for _, tc := range []struct {
		name    string
		cm      *corev1.ConfigMap
		encoded string
		write   bool
		create  bool
	}{
		{
			name:    "an older allocations-only document is migrated to portClaims on the next pass",
			cm:      stateCM(golden(t, "older-allocations.json")),
			encoded: current, write: true,
		},
		{
			name:    "a document that already matches, byte for byte as the Python controller wrote it, is not rewritten (takeover)",
			cm:      stateCM(current),
			encoded: current,
		},
		{
			name:    "a document with the same content in another layout and key order is not rewritten (compared semantically)",
			cm:      stateCM(golden(t, "compact-current.json")),
			encoded: current,
		},
		{
			name: "a current document without its mux is rewritten with it",
			cm: stateCM(`{"portClaims": [{"channelPort": 8080, "muxPort": 20000, "namespace": "app", "port": 20000, "portName": "http", "protocol": "TCP", "service": "api", "source": "auto"},` +
				` {"channelPort": 53, "muxPort": 53, "namespace": "app", "port": 53, "portName": "dns", "protocol": "UDP", "service": "dns", "source": "static"}], "schemaVersion": 1}`),
			encoded: current, write: true,
		},
		{
			name:    "a missing state ConfigMap is created on the first pass",
			cm:      nil,
			encoded: current, write: true, create: true,
		},
		{
			name:    "an empty allocations.json is empty state and is written",
			cm:      stateCM(""),
			encoded: current, write: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, stateWorld(tc.cm))
			assert.Equal(t, []string{muxPort(53, "UDP", "app/dns", "dns"), muxPort(20000, "TCP", "app/api", "http")}, portList(p))
			assert.True(t, p.State.Readable)
			assert.Empty(t, p.State.Problem)
			assert.Equal(t, tc.encoded, p.State.Document.Encode())
			assert.Equal(t, tc.write, p.State.Write, "write")
			assert.Equal(t, tc.create, p.State.Create, "create")
		})
	}

	t.Run("an older document whose content is current is still rewritten in the current format", func(t *testing.T) {
		older := `{"allocations": [{"channelPort": 8080, "namespace": "app", "port": 20000, "portName": "http", "protocol": "TCP", "service": "api"}],` +
			` "mux": {"name": "mux", "namespace": "svc-mux"}, "schemaVersion": 1}`
		p := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.PortRange, rng)),
			Channels: channels(auto(channel("app/api", "http:8080"), "http:auto")), StateConfigMap: stateCM(older)})
		assert.True(t, p.State.Write)
		assert.Equal(t, []string{"TCP:app:api:http=20000/auto"}, claimsOf(p))
		assert.Contains(t, p.State.Document.Encode(), `"portClaims": [`)
	})

	t.Run("a valid mux with no channel creates an empty state document", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux()})
		assert.True(t, p.State.Create)
		assert.True(t, p.State.Write)
		assert.Empty(t, p.State.Document.Claims)
		assert.Equal(t, golden(t, "empty-state.json"), p.State.Document.Encode())
		assert.False(t, strings.HasSuffix(p.State.Document.Encode(), "\n"), "no trailing newline")
	})

	t.Run("an empty state document that is current is not rewritten", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), StateConfigMap: stateCM(golden(t, "empty-state.json"))})
		assert.False(t, p.State.Create)
		assert.False(t, p.State.Write)
	})
}

func TestStateConfigMapIdentity(t *testing.T) {
	long := strings.Repeat("m", 60)
	sum := sha256.Sum256([]byte(long))
	for _, tc := range []struct {
		name string
		mux  *corev1.Service
		want string
	}{
		{"the default name is <mux>-port-allocations", mux(), "mux-port-allocations"},
		{"the allocation-configmap annotation overrides the name", mux(muxAnn(testKeys.AllocationConfigMap, "custom-state")), "custom-state"},
		{"a name longer than 63 characters is the first 54 characters of the mux, a dash and 8 hex of its SHA-256",
			mux(func(s *corev1.Service) { s.Name = long }), long[:54] + "-" + hex.EncodeToString(sum[:])[:8]},
		{"a name of exactly 63 characters is kept", mux(func(s *corev1.Service) { s.Name = strings.Repeat("m", 46) }),
			strings.Repeat("m", 46) + "-port-allocations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, StateConfigMapName(tc.mux, testKeys))
			p := compute(t, Snapshot{Mux: tc.mux})
			assert.Equal(t, tc.want, p.State.Name)
			assert.LessOrEqual(t, len(p.State.Name), 63)
			assert.Equal(t, map[string]string{"app.kubernetes.io/name": "svc-lb-mux", "app.kubernetes.io/component": "mux-state"}, p.State.Labels)
			assert.Equal(t, map[string]string{"svc-mux.nowake.ai/mux": "svc-mux/" + tc.mux.Name}, p.State.Annotations)
		})
	}
}

func TestStateIsNotWrittenWhenUnchanged(t *testing.T) {
	first := stateWorld(nil)
	p1 := compute(t, first)
	require.True(t, p1.State.Create)
	second := applied(first, p1)
	require.Equal(t, api.StateKey, "allocations.json")
	p2 := compute(t, second)
	assert.False(t, p2.State.Create)
	assert.False(t, p2.State.Write)
	assert.Equal(t, p1.State.Document.Encode(), p2.State.Document.Encode())
}
