package plan

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// SPEC §2: the port model. Each row is one situation and the exact mux ports,
// channel ports annotations and refusals it must produce.

const rng = "20000-20099"

type portRow struct {
	name     string
	mux      *corev1.Service
	channels []*corev1.Service
	// ports is the mux spec.ports as portList renders it.
	ports []string
	// annotations maps every channel to its ports annotation ("-" when absent).
	annotations map[string]string
	// refused maps a refused channel to its reason and exact message.
	refused map[string][2]string
}

func runPortRows(t *testing.T, rows []portRow) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: tc.mux, Channels: tc.channels})
			require.False(t, p.Frozen)
			assert.Equal(t, tc.ports, portList(p))
			for ref, want := range tc.annotations {
				assert.Equal(t, want, annotation(outcome(t, p, ref)), "ports annotation of %s", ref)
			}
			for _, o := range p.Channels {
				ref := o.Channel.String()
				refusal, refused := tc.refused[ref]
				if !refused {
					assert.True(t, o.Accepted, "%s should be accepted: %s %s", ref, o.Reason, o.Message)
					assert.Equal(t, api.ConditionReasonAccepted, o.Reason)
					assert.Equal(t, metav1.ConditionTrue, o.Condition.Status)
					assert.Empty(t, reasons(p, ref), "no event about an accepted channel")
					continue
				}
				assert.False(t, o.Serving(), "%s should serve nothing", ref)
				assert.Equal(t, refusal[0], o.Reason)
				assert.Equal(t, refusal[1], o.Message)
				assert.Equal(t, metav1.ConditionFalse, o.Condition.Status)
				assert.Equal(t, refusal[0], o.Condition.Reason)
				assert.Equal(t, refusal[1], o.Condition.Message)
				assert.Equal(t, []string{refusal[0]}, reasons(p, ref))
				assert.Equal(t, refusal[1], message(t, p, ref, refusal[0]))
				assert.Nil(t, o.Ingress)
			}
		})
	}
}

func TestPortModel(t *testing.T) {
	runPortRows(t, []portRow{
		{
			name:        "a port not listed in external-ports is published on its own number",
			mux:         mux(),
			channels:    channels(channel("app/api", "http:8080", "grpc:9090")),
			ports:       []string{muxPort(8080, "TCP", "app/api", "http"), muxPort(9090, "TCP", "app/api", "grpc")},
			annotations: map[string]string{"app/api": "http:8080->8080, grpc:9090->9090"},
		},
		{
			name:        "an explicit mapping publishes the named port on the given number",
			mux:         mux(),
			channels:    channels(withAnn(channel("app/web", "http:80", "admin:81"), testKeys.ExternalPorts, "http:30080")),
			ports:       []string{muxPort(81, "TCP", "app/web", "admin"), muxPort(30080, "TCP", "app/web", "http")},
			annotations: map[string]string{"app/web": "http:80->30080, admin:81->81"},
		},
		{
			name: "auto takes the first free port of the range in the order the ranges are listed",
			mux:  mux(muxAnn(testKeys.PortRange, "30000-30001, 20000")),
			channels: channels(
				withAnn(channel("app/a", "http:80"), testKeys.ExternalPorts, "http:auto"),
				withAnn(channel("app/b", "http:80"), testKeys.ExternalPorts, "http:auto"),
				withAnn(channel("app/c", "http:80"), testKeys.ExternalPorts, "http:auto"),
			),
			ports: []string{
				muxPort(20000, "TCP", "app/c", "http"),
				muxPort(30000, "TCP", "app/a", "http"),
				muxPort(30001, "TCP", "app/b", "http"),
			},
			annotations: map[string]string{"app/a": "http:80->30000", "app/b": "http:80->30001", "app/c": "http:80->20000"},
		},
		{
			name: "external-ports items are trimmed, empty ones skipped, auto is case-insensitive and a repeated name takes the last value",
			mux:  mux(muxAnn(testKeys.PortRange, rng)),
			channels: channels(withAnn(channel("app/api", "http:8080", "grpc:9090"),
				testKeys.ExternalPorts, " http:AUTO ,, grpc:1 , grpc:31000 ,")),
			ports:       []string{muxPort(20000, "TCP", "app/api", "http"), muxPort(31000, "TCP", "app/api", "grpc")},
			annotations: map[string]string{"app/api": "http:8080->20000, grpc:9090->31000"},
		},
		{
			name: "the same number on TCP and UDP belongs to two channels",
			mux:  mux(),
			channels: channels(
				channel("app/dns-udp", "dns:53/UDP"),
				channel("app/dns-tcp", "dns:53"),
			),
			ports:       []string{muxPort(53, "TCP", "app/dns-tcp", "dns"), muxPort(53, "UDP", "app/dns-udp", "dns")},
			annotations: map[string]string{"app/dns-udp": "dns:53->53", "app/dns-tcp": "dns:53->53"},
		},
		{
			name: "auto allocates per protocol: TCP and UDP both get the first port of the range",
			mux:  mux(muxAnn(testKeys.PortRange, "20000")),
			channels: channels(
				withAnn(channel("app/a", "web:80"), testKeys.ExternalPorts, "web:auto"),
				withAnn(channel("app/b", "dns:53/UDP"), testKeys.ExternalPorts, "dns:auto"),
			),
			ports:       []string{muxPort(20000, "TCP", "app/a", "web"), muxPort(20000, "UDP", "app/b", "dns")},
			annotations: map[string]string{"app/a": "web:80->20000", "app/b": "dns:53->20000"},
		},
		{
			name:        "with no accepted port the mux keeps the placeholder port",
			mux:         mux(muxPorts(sp("app", "gone", "http", 80, corev1.ProtocolTCP))),
			channels:    nil,
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{},
		},
		{
			name:        "a channel whose port has no name is refused with InvalidPort naming the field",
			mux:         mux(),
			channels:    channels(channel("app/anon", "-:80")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/anon": "-"},
			refused: map[string][2]string{"app/anon": {api.ReasonInvalidPort,
				"channel app/anon: every port needs a name; missing at spec.ports[0]; add spec.ports[].name"}},
		},
		{
			name:        "a channel that declares no ports is refused with InvalidPort",
			mux:         mux(),
			channels:    channels(channel("app/empty")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/empty": "-"},
			refused:     map[string][2]string{"app/empty": {api.ReasonInvalidPort, "channel app/empty declares no ports"}},
		},
		{
			name:        "external-ports naming an unknown port is refused with InvalidPortMapping naming it",
			mux:         mux(),
			channels:    channels(withAnn(channel("app/api", "http:8080"), testKeys.ExternalPorts, "http:30080,nope:1,zzz:auto")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/api": "-"},
			refused: map[string][2]string{"app/api": {api.ReasonInvalidPortMapping,
				"channel app/api: annotation svc-mux.nowake.ai/external-ports references unknown port name(s): nope, zzz; use names from spec.ports"}},
		},
		{
			name:        "malformed external-ports items and bad numbers are refused with InvalidPortMapping naming every item",
			mux:         mux(),
			channels:    channels(withAnn(channel("app/api", "http:8080", "grpc:9090"), testKeys.ExternalPorts, "http:abc, grpc:70000, oops, grpc:0, :80")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/api": "-"},
			refused: map[string][2]string{"app/api": {api.ReasonInvalidPortMapping,
				`channel app/api: annotation svc-mux.nowake.ai/external-ports: invalid items "http:abc", "grpc:70000", "oops", "grpc:0", ":80": expected name:port (1-65535) or name:auto`}},
		},
		{
			name:        "two ports of one channel on the same public port conflict with each other",
			mux:         mux(),
			channels:    channels(withAnn(channel("app/dup", "a:8080", "b:9090"), testKeys.ExternalPorts, "b:8080")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/dup": "-"},
			refused: map[string][2]string{"app/dup": {api.ReasonMuxPortConflict,
				"channel app/dup: 8080/TCP is already claimed by " + owner("app/dup", "a")}},
		},
		{
			name: "a channel with one conflicting port is refused whole: its free port is not attached either",
			mux:  mux(),
			channels: channels(
				channel("app/a", "http:80"),
				channel("app/b", "http:80", "grpc:9090"),
			),
			ports:       []string{muxPort(80, "TCP", "app/a", "http")},
			annotations: map[string]string{"app/a": "http:80->80", "app/b": "-"},
			refused: map[string][2]string{"app/b": {api.ReasonMuxPortConflict,
				"channel app/b: 80/TCP is already claimed by " + owner("app/a", "http")}},
		},
		{
			name: "every conflict of a channel is named in one message",
			mux:  mux(),
			channels: channels(
				channel("app/a", "http:80", "https:443"),
				channel("app/b", "web:80", "tls:443"),
			),
			ports:       []string{muxPort(80, "TCP", "app/a", "http"), muxPort(443, "TCP", "app/a", "https")},
			annotations: map[string]string{"app/a": "http:80->80, https:443->443", "app/b": "-"},
			refused: map[string][2]string{"app/b": {api.ReasonMuxPortConflict,
				"channel app/b: 80/TCP is already claimed by " + owner("app/a", "http") +
					"; 443/TCP is already claimed by " + owner("app/a", "https")}},
		},
		{
			name: "without any owner, namespace/name order decides: an auto port taken earlier in the pass is owned",
			mux:  mux(muxAnn(testKeys.PortRange, rng)),
			channels: channels(
				withAnn(channel("app/b", "http:80"), testKeys.ExternalPorts, "http:20000"),
				withAnn(channel("app/a", "http:80"), testKeys.ExternalPorts, "http:auto"),
			),
			ports:       []string{muxPort(20000, "TCP", "app/a", "http")},
			annotations: map[string]string{"app/a": "http:80->20000", "app/b": "-"},
			refused: map[string][2]string{"app/b": {api.ReasonMuxPortConflict,
				"channel app/b: 20000/TCP is already claimed by " + owner("app/a", "http")}},
		},
		{
			name:        "auto without a mux port range is refused with InvalidPortMapping",
			mux:         mux(),
			channels:    channels(withAnn(channel("app/api", "http:8080"), testKeys.ExternalPorts, "http:auto")),
			ports:       []string{"101/TCP=placeholder"},
			annotations: map[string]string{"app/api": "-"},
			refused: map[string][2]string{"app/api": {api.ReasonInvalidPortMapping,
				"channel app/api: svc-mux.nowake.ai/external-ports http:auto: automatic allocation requires a mux port range; set svc-mux.nowake.ai/port-range on mux svc-mux/mux"}},
		},
	})
}

func TestMuxPortsCarryOnlyNamePortAndProtocol(t *testing.T) {
	c := channel("app/api", "http:8080")
	c.Spec.Ports[0].NodePort = 31234
	c.Spec.Ports[0].AppProtocol = ptr("http")
	p := compute(t, Snapshot{Mux: mux(), Channels: channels(c)})
	assert.Equal(t, []corev1.ServicePort{{Name: hash7("app", "api", "http"), Port: 8080, Protocol: corev1.ProtocolTCP}}, p.Ports,
		"no targetPort, nodePort or appProtocol on mux ports")
}

func TestMuxPortsDefaultTheProtocolToTCP(t *testing.T) {
	c := channel("app/api", "http:8080")
	c.Spec.Ports[0].Protocol = ""
	p := compute(t, Snapshot{Mux: mux(), Channels: channels(c)})
	assert.Equal(t, []string{muxPort(8080, "TCP", "app/api", "http")}, portList(p))
	assert.Equal(t, []string{"TCP:app:api:http=8080/static"}, claimsOf(p))
}

// Renaming the service or the port is a new identity: a new mux port name, and the
// old identity's claim is pruned.
func TestRenameIsANewIdentity(t *testing.T) {
	old := []state.Claim{claim("app/api", "http", "TCP", 8080, 20000, "auto")}
	liveMux := mux(muxAnn(testKeys.PortRange, rng), muxPorts(sp("app", "api", "http", 20000, corev1.ProtocolTCP)))
	for _, tc := range []struct {
		name    string
		channel *corev1.Service
		ports   []string
		claims  []string
	}{
		{
			name:    "renaming the port gives it a new mux port name and prunes the old claim",
			channel: withPorts(withAnn(channel("app/api", "web:8080"), testKeys.ExternalPorts, "web:auto"), "http:8080->20000"),
			ports:   []string{muxPort(20000, "TCP", "app/api", "web")},
			claims:  []string{"TCP:app:api:web=20000/auto"},
		},
		{
			name:    "renaming the service gives its port a new mux port name and prunes the old claim",
			channel: withAnn(channel("app/api-v2", "http:8080"), testKeys.ExternalPorts, "http:auto"),
			ports:   []string{muxPort(20000, "TCP", "app/api-v2", "http")},
			claims:  []string{"TCP:app:api-v2:http=20000/auto"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, Snapshot{Mux: liveMux, Channels: channels(tc.channel), StateConfigMap: stateOf(old...)})
			assert.Equal(t, tc.ports, portList(p))
			assert.NotEqual(t, hash7("app", "api", "http"), p.Ports[0].Name)
			assert.Equal(t, tc.claims, claimsOf(p))
			assert.True(t, p.State.Write)
		})
	}
}

// collidingA and collidingB are two identities whose SHA-256 share the first 7 hex
// characters (found once by brute force over p0..p20000 on two services; the test
// below proves it stays true).
const (
	collidingHash = "f893131"
	collidingA    = "p5386"  // app/a/p5386
	collidingB    = "p14051" // app/b/p14051
)

func TestCollidingPairReallyCollides(t *testing.T) {
	require.Equal(t, collidingHash, hash7("app", "a", collidingA))
	require.Equal(t, collidingHash, hash7("app", "b", collidingB))
	require.Equal(t, collidingHash, ports.MuxPortName("app", "a", collidingA), "the planner's name is SPEC §2's")
}

// The pair above is what this birthday search finds (≈ 35k SHA-256, a few ms): 28 bits
// of name collide after ~2^14 names per side. It searches with the product's own
// name (ports.MuxPortName), so the collision the planner tests rely on is one the
// planner really meets.
func TestACollisionIsFoundByBruteForce(t *testing.T) {
	seen := make(map[string]int, 20000)
	for i := 0; i < 20000; i++ {
		seen[ports.MuxPortName("app", "a", fmt.Sprintf("p%d", i))] = i
	}
	for j := 0; j < 1<<20; j++ {
		h := ports.MuxPortName("app", "b", fmt.Sprintf("p%d", j))
		if i, ok := seen[h]; ok {
			assert.Equal(t, collidingHash, h)
			assert.Equal(t, collidingA, fmt.Sprintf("p%d", i))
			assert.Equal(t, collidingB, fmt.Sprintf("p%d", j))
			return
		}
	}
	t.Fatal("no collision found")
}

func TestMuxPortNameCollision(t *testing.T) {
	a := func() *corev1.Service { return channel("app/a", collidingA+":1001") }
	b := func() *corev1.Service { return channel("app/b", collidingB+":1002") }
	collision := func(loser, loserPort, winnerKey string) string {
		return "channel " + loser + ": mux port name " + collidingHash + " of " + loser + ":" + loserPort + " collides with " + winnerKey
	}
	for _, tc := range []struct {
		name    string
		snap    Snapshot
		ports   []string
		winner  string
		loser   string
		message string
	}{
		{
			name:    "of two newcomers the later in namespace/name order is refused with MuxPortConflict",
			snap:    Snapshot{Mux: mux(), Channels: channels(b(), a())},
			ports:   []string{"1001/TCP=" + collidingHash},
			winner:  "app/a",
			loser:   "app/b",
			message: collision("app/b", collidingB, "TCP:app:a:"+collidingA),
		},
		{
			name: "the persisted owner keeps its name and the newcomer that sorts first is refused",
			snap: Snapshot{Mux: mux(), Channels: channels(a(), b()),
				StateConfigMap: stateOf(claim("app/b", collidingB, "TCP", 1002, 1002, "static"))},
			ports:   []string{"1002/TCP=" + collidingHash},
			winner:  "app/b",
			loser:   "app/a",
			message: collision("app/a", collidingA, "TCP:app:b:"+collidingB),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compute(t, tc.snap)
			assert.Equal(t, tc.ports, portList(p))
			assert.True(t, outcome(t, p, tc.winner).Accepted)
			lost := outcome(t, p, tc.loser)
			assert.False(t, lost.Serving())
			assert.Equal(t, api.ReasonMuxPortConflict, lost.Reason)
			assert.Equal(t, tc.message, lost.Message)
			assert.Equal(t, tc.message, message(t, p, tc.loser, api.ReasonMuxPortConflict))
		})
	}

	t.Run("two persisted owners with one name never both reach the mux: the later by precedence is refused", func(t *testing.T) {
		p := compute(t, Snapshot{Mux: mux(), Channels: channels(a(), b()), StateConfigMap: stateOf(
			claim("app/a", collidingA, "TCP", 1001, 1001, "static"),
			claim("app/b", collidingB, "TCP", 1002, 1002, "static"),
		)})
		assert.Equal(t, []string{"1001/TCP=" + collidingHash}, portList(p))
		lost := outcome(t, p, "app/b")
		assert.Equal(t, api.ReasonMuxPortConflict, lost.Reason)
		assert.False(t, lost.Serving())
	})
}
