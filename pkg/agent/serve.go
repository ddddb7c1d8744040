package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ParseBindAddress reads a bind address flag: "0" (or empty) disables the server;
// anything else must be host:port with a port in 0–65535 (0 picks a free port).
func ParseBindAddress(s string) (addr string, enabled bool, err error) {
	if s == "0" || s == "" {
		return "", false, nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", false, fmt.Errorf("bind address %q: expected host:port, :port or \"0\" to disable", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", false, fmt.Errorf("bind address %q: port %q is not a number in 0-65535", s, port)
	}
	return s, true, nil
}

// endpoint is one HTTP path served on one bind address.
type endpoint struct {
	addr    string
	path    string
	handler http.Handler
}

// httpServers listens on every distinct address (paths sharing an address share a
// server) and logs the actual address, which matters for port 0.
type httpServers struct {
	log     *slog.Logger
	servers []*http.Server
	addrs   map[string]string // configured → actual
}

func startHTTP(log *slog.Logger, endpoints []endpoint) (*httpServers, error) {
	h := &httpServers{log: log, addrs: map[string]string{}}
	muxes := map[string]*http.ServeMux{}
	var order []string
	for _, e := range endpoints {
		addr, enabled, err := ParseBindAddress(e.addr)
		if err != nil {
			return nil, err
		}
		if !enabled {
			continue
		}
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
			order = append(order, addr)
		}
		muxes[addr].Handle(e.path, e.handler)
	}
	for _, addr := range order {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			h.shutdown()
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: muxes[addr], ReadHeaderTimeout: 10 * time.Second}
		h.servers = append(h.servers, srv)
		h.addrs[addr] = ln.Addr().String()
		log.Info("serving HTTP", "address", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP server stopped", "address", ln.Addr().String(), "error", err)
			}
		}()
	}
	return h, nil
}

func (h *httpServers) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range h.servers {
		_ = srv.Shutdown(ctx)
	}
}
