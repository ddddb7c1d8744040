package dataplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The echo protocol: a TCP server writes one line as soon as it accepts a
// connection and closes it; a UDP server answers every datagram with that
// line. The line names the pod and the port and protocol it listens on, so
// a probe through any Service address learns exactly which backend socket
// the packets reached:
//
//	svcmux-echo pod=<namespace>/<name> port=<port>/<protocol>
const echoMagic = "svcmux-echo"

// Answer is what a backend said.
type Answer struct {
	Pod      string          // namespace/name
	Port     int32           // the port the backend socket listens on
	Protocol corev1.Protocol // TCP or UDP
}

func (a Answer) String() string { return fmt.Sprintf("%s:%d/%s", a.Pod, a.Port, a.Protocol) }

func echoLine(pod string, port int32, proto corev1.Protocol) string {
	return fmt.Sprintf("%s pod=%s port=%d/%s\n", echoMagic, pod, port, proto)
}

func parseAnswer(line string) (Answer, error) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != echoMagic || !strings.HasPrefix(f[1], "pod=") || !strings.HasPrefix(f[2], "port=") {
		return Answer{}, fmt.Errorf("not an echo answer: %q", line)
	}
	portStr, proto, _ := strings.Cut(strings.TrimPrefix(f[2], "port="), "/")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return Answer{}, fmt.Errorf("bad port in echo answer %q", line)
	}
	return Answer{Pod: strings.TrimPrefix(f[1], "pod="), Port: int32(port), Protocol: corev1.Protocol(proto)}, nil
}

// echoServer serves the echo protocol on a set of sockets inside one pod namespace.
type echoServer struct {
	mu      sync.Mutex
	closers []io.Closer
	wg      sync.WaitGroup
}

// serve starts answering on port/proto inside ns.
func (s *echoServer) serve(ns netns, pod string, port int32, proto corev1.Protocol) error {
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(int(port)))
	line := []byte(echoLine(pod, port, proto))
	switch proto {
	case corev1.ProtocolTCP, "":
		l, err := ns.listen("tcp4", addr)
		if err != nil {
			return err
		}
		s.track(l)
		s.wg.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return // closed
				}
				_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				_, _ = c.Write(line)
				_ = c.Close()
			}
		})
	case corev1.ProtocolUDP:
		pc, err := ns.listenPacket("udp4", addr)
		if err != nil {
			return err
		}
		s.track(pc)
		s.wg.Go(func() {
			buf := make([]byte, 512)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return // closed
				}
				_, _ = pc.WriteTo(line, from)
			}
		})
	default:
		return fmt.Errorf("echo: protocol %s not supported", proto)
	}
	return nil
}

func (s *echoServer) track(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, c)
}

// close stops every socket and waits for the serving goroutines.
func (s *echoServer) close() {
	s.mu.Lock()
	cs := s.closers
	s.closers = nil
	s.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	s.wg.Wait()
}

// ask makes one request from inside ns to addr (host:port) and returns the
// answer. TCP: a new connection per call (so kube-proxy picks a backend
// anew); UDP: a new socket per call (a new conntrack entry). The whole
// exchange is bounded by timeout.
func ask(ctx context.Context, ns netns, proto corev1.Protocol, addr string, timeout time.Duration) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	switch proto {
	case corev1.ProtocolTCP, "":
		c, err := ns.dial(ctx, "tcp4", addr)
		if err != nil {
			return Answer{}, err
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return Answer{}, fmt.Errorf("read from %s: %w", addr, err)
		}
		return parseAnswer(line)
	case corev1.ProtocolUDP:
		c, err := ns.dial(ctx, "udp4", addr)
		if err != nil {
			return Answer{}, err
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		// Resend while waiting: the first datagram may meet rules being
		// rewritten; every retry stays inside the overall timeout.
		buf := make([]byte, 512)
		for {
			if _, err := c.Write([]byte("ping")); err != nil {
				return Answer{}, fmt.Errorf("send to %s: %w", addr, err)
			}
			_ = c.SetReadDeadline(minTime(deadline, time.Now().Add(200*time.Millisecond)))
			n, err := c.Read(buf)
			if err == nil {
				return parseAnswer(string(buf[:n]))
			}
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) || !time.Now().Before(deadline) {
				return Answer{}, fmt.Errorf("read from %s: %w", addr, err)
			}
		}
	default:
		return Answer{}, fmt.Errorf("probe: protocol %s not supported", proto)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
