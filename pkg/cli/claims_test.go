package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// fxClaim is one claim in allocations.json form.
func fxClaim(ns, svc, portName, proto string, channelPort, muxPort int, source string) string {
	return fmt.Sprintf(`{"channelPort": %d, "muxPort": %d, "namespace": %q, "port": %d, "portName": %q, "protocol": %q, "service": %q, "source": %q}`,
		channelPort, muxPort, ns, muxPort, portName, proto, svc, source)
}

// fxDoc is an allocations.json document for mux ns/name holding claims.
func fxDoc(ns, mux string, claims ...string) string {
	return `{"allocations": [], "mux": {"name": "` + mux + `", "namespace": "` + ns + `"}, "portClaims": [` + strings.Join(claims, ", ") + `], "schemaVersion": 1}`
}

func claimsCluster(doc string) []runtime.Object {
	mux := fxMux("svc-mux", "mux", map[string]string{"port-range": "20000-20009"},
		fxMuxPort("app", "api", "http", 8080, corev1.ProtocolTCP, 0),
		fxMuxPort("app", "far", "p", 30000, corev1.ProtocolTCP, 0),
		fxMuxPort("app", "mis", "p", 20003, corev1.ProtocolTCP, 0),
		fxMuxPort("app", "new", "p", 9000, corev1.ProtocolTCP, 0))
	return []runtime.Object{mux,
		fxWithPorts(fxChannel("app", "api", "mux.svc-mux", nil, fxTCP("http", 8080)), "http:8080->8080"),
		fxWithPorts(fxChannel("app", "far", "mux.svc-mux", map[string]string{"external-ports": "p:auto"}, fxTCP("p", 80)), "p:80->30000"),
		fxWithPorts(fxChannel("app", "mis", "mux.svc-mux", map[string]string{"external-ports": "p:auto"}, fxTCP("p", 81)), "p:81->20002"),
		fxChannel("app", "new", "mux.svc-mux", nil, fxTCP("p", 9000)),
		fxState("svc-mux", "mux", doc)}
}

func TestClaimsFlagsEachProblemKind(t *testing.T) {
	doc := fxDoc("svc-mux", "mux",
		fxClaim("app", "api", "http", "TCP", 8080, 8080, "static"),
		fxClaim("app", "far", "p", "TCP", 80, 30000, "auto"),
		fxClaim("app", "gone", "p", "TCP", 80, 20001, "auto"),
		fxClaim("app", "mis", "p", "TCP", 81, 20002, "auto"))
	r := runPlugin(t, claimsCluster(doc), "claims", "-o", "wide")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	want := strings.Join([]string{
		"MUX           PORT        CHANNEL    PORT NAME   SOURCE   STATUS         DETAIL",
		"svc-mux/mux   8080/TCP    app/api    http        static   ok",
		"svc-mux/mux   30000/TCP   app/far    p           auto     out-of-range   auto port 30000 is outside the mux port range 20000-20009",
		"svc-mux/mux   20001/TCP   app/gone   p           auto     stale          channel app/gone is gone or no longer attached to this mux",
		"svc-mux/mux   20002/TCP   app/mis    p           auto     mismatch       live mux port is 20003/TCP",
		"svc-mux/mux   9000/TCP    app/new    p           -        unclaimed      live mux port " + fxHash("app", "new", "p") + " has no claim (it is app/new:p's; the agent records it on its next pass)",
	}, "\n") + "\n"
	assert.Equal(t, want, r.Out)
}

func TestClaimsReportsAStateDocumentForAnotherMuxAsForeign(t *testing.T) {
	doc := fxDoc("svc-mux", "other", fxClaim("app", "api", "http", "TCP", 8080, 8080, "static"))
	r := runPlugin(t, claimsCluster(doc), "claims", "-o", "json")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, `"status": "foreign"`)
	assert.Contains(t, r.Out, `"detail": "mux state ConfigMap svc-mux/mux-port-allocations contains state for mux svc-mux/other; expected svc-mux/mux. Use one state ConfigMap per mux."`)
}

func TestClaimsReportsDuplicateClaimsForOnePort(t *testing.T) {
	doc := fxDoc("svc-mux", "mux",
		fxClaim("app", "api", "http", "TCP", 8080, 8080, "static"),
		fxClaim("app", "mis", "p", "TCP", 81, 8080, "auto"))
	r := runPlugin(t, claimsCluster(doc), "claims", "-o", "json")
	if r.Code == ExitFound && strings.Contains(r.Out, `"status": "invalid"`) {
		// The state decoder itself refuses an ambiguous owner: then the row says so.
		assert.Contains(t, r.Out, "run kubectl svcmux repair svc-mux/mux")
		return
	}
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Equal(t, 2, strings.Count(r.Out, `"status": "duplicate"`), r.Out)
	assert.Contains(t, r.Out, `"detail": "8080/TCP is claimed 2 times"`)
}

func TestClaimsReportsUnreadableStateAsInvalid(t *testing.T) {
	r := runPlugin(t, claimsCluster("{not json"), "claims")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, "invalid")
}

func TestClaimsExitCodes(t *testing.T) {
	clean := []runtime.Object{
		fxMux("svc-mux", "mux", nil, fxMuxPort("app", "api", "http", 8080, corev1.ProtocolTCP, 0)),
		fxWithPorts(fxChannel("app", "api", "mux.svc-mux", nil, fxTCP("http", 8080)), "http:8080->8080"),
		fxState("svc-mux", "mux", fxDoc("svc-mux", "mux", fxClaim("app", "api", "http", "TCP", 8080, 8080, "static"))),
	}
	stale := fxDoc("svc-mux", "mux", fxClaim("app", "gone", "p", "TCP", 80, 20001, "auto"))
	tests := []struct {
		name string
		objs []runtime.Object
		args []string
		code int
	}{
		{"every claim ok exits 0", clean, []string{"claims"}, ExitClean},
		{"every claim ok exits 0 in json", clean, []string{"claims", "-o", "json"}, ExitClean},
		{"a stale claim exits 1", claimsCluster(stale), []string{"claims"}, ExitFound},
		{"a stale claim exits 1 in json", claimsCluster(stale), []string{"claims", "-o", "json"}, ExitFound},
		{"an unknown mux cannot be checked", clean, []string{"claims", "nope"}, ExitCannotRun},
		{"an unknown output format is refused", clean, []string{"claims", "-o", "dot"}, ExitCannotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.code, runPlugin(t, tt.objs, tt.args...).Code)
		})
	}
}
