package agent

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestHTTPServersShareAnAddressAndSkipDisabledOnes(t *testing.T) {
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(s)) })
	}
	m := newMetrics()
	m.passes.WithLabelValues(passMux, resultSuccess).Inc()
	h, err := startHTTP(slog.New(slog.DiscardHandler), []endpoint{
		{addr: "127.0.0.1:0", path: "/healthz", handler: text("live")},
		{addr: "127.0.0.1:0", path: "/metrics", handler: m.handler()},
		{addr: "0", path: "/readyz", handler: text("never served")},
	})
	require.NoError(t, err)
	defer h.shutdown()
	require.Len(t, h.servers, 1)
	addr := h.addrs["127.0.0.1:0"]
	require.NotEmpty(t, addr)
	assert.NotEqual(t, "127.0.0.1:0", addr, "port 0 resolves to the port actually bound")

	code, body := get(t, "http://"+addr+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "live", body)
	code, body = get(t, "http://"+addr+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `svcmux_passes_total{kind="mux",result="success"} 1`)
	code, _ = get(t, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestHTTPServersRefuseABadAddress(t *testing.T) {
	_, err := startHTTP(slog.New(slog.DiscardHandler), []endpoint{{addr: "nonsense", path: "/", handler: http.NotFoundHandler()}})
	assert.Error(t, err)
}
