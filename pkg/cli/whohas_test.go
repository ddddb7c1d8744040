package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// whoHasCluster: two muxes; 53/UDP owned on each by a different channel (one
// persisted as static, one only recovered from the live mux), 53/TCP free.
func whoHasCluster() []runtime.Object {
	return []runtime.Object{
		fxMux("svc-mux", "mux", nil, fxMuxPort("app", "dns", "dns", 53, corev1.ProtocolUDP, 0)),
		fxMux("edge", "edge", nil, fxMuxPort("edge", "resolver", "udp", 53, corev1.ProtocolUDP, 0)),
		fxWithPorts(fxChannel("app", "dns", "mux.svc-mux", nil, fxUDP("dns", 53)), "dns:53->53"),
		fxWithPorts(fxChannel("edge", "resolver", "edge.edge", nil, fxUDP("udp", 53)), "udp:53->53"),
		fxState("svc-mux", "mux", fxDoc("svc-mux", "mux", fxClaim("app", "dns", "dns", "UDP", 53, 53, "static"))),
	}
}

func TestWhoHasFindsTheOwnerOnEveryMux(t *testing.T) {
	r := runPlugin(t, whoHasCluster(), "who-has", "53/udp")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, "MUX           PORT     CHANNEL         PORT NAME   SOURCE   CLAIM       MUX PORT NAME\n"+
		"edge/edge     53/UDP   edge/resolver   udp         static   recovered   "+fxHash("edge", "resolver", "udp")+"\n"+
		"svc-mux/mux   53/UDP   app/dns         dns         static   persisted   "+fxHash("app", "dns", "dns")+"\n", r.Out)
}

func TestWhoHasSaysWhenAPortIsFree(t *testing.T) {
	r := runPlugin(t, whoHasCluster(), "who-has", "53")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, "53/TCP is free on every mux in scope (2 mux(es)).\n", r.Out, "53/UDP owners do not hold 53/TCP")

	r = runPlugin(t, whoHasCluster(), "who-has", "53/UDP", "-n", "edge", "-o", "json")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.JSONEq(t, `{"apiVersion": "svcmux.nowake.ai/v1alpha1", "kind": "WhoHas", "port": 53, "protocol": "UDP",
		"owners": [{"mux": "edge/edge", "port": 53, "protocol": "UDP", "namespace": "edge", "service": "resolver", "portName": "udp", "source": "static", "persisted": false}],
		"free": []}`, r.Out, "-n narrows the muxes searched")
}

func TestWhoHasRefusesAPortItCannotRead(t *testing.T) {
	for _, arg := range []string{"0", "65536", "http", "53/ICMP", "-1"} {
		t.Run("who-has "+arg+" cannot run", func(t *testing.T) {
			r := runPlugin(t, whoHasCluster(), "who-has", "--", arg)
			assert.Equal(t, ExitCannotRun, r.Code)
			assert.Contains(t, r.ErrOut, "want")
		})
	}
}
