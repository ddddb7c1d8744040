package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// netnsDir is where `ip netns` keeps its named namespaces (bind mounts).
const netnsDir = "/run/netns"

// nsPrefix starts the name of every network namespace this package makes:
// svcmux-dp-<pid>-<node seq>-<role>. The pid lets a later run remove the
// namespaces of a process that died without Close (removeStaleNamespaces).
const nsPrefix = "svcmux-dp-"

// netns is one named network namespace made by `ip netns add`.
type netns string

func (n netns) path() string { return filepath.Join(netnsDir, string(n)) }

// ip runs `ip -n <ns> args...` (or plain `ip` for the empty ns).
func (n netns) ip(ctx context.Context, args ...string) error {
	if n != "" {
		args = append([]string{"-n", string(n)}, args...)
	}
	return run(ctx, nil, "ip", args...)
}

// batch runs many `ip` commands inside n in one process (`ip -n ns -batch -`).
func (n netns) batch(ctx context.Context, lines ...string) error {
	in := strings.Join(lines, "\n") + "\n"
	return run(ctx, strings.NewReader(in), "ip", "-n", string(n), "-batch", "-")
}

// dial opens a connection from inside n. Timeouts bound every dial.
func (n netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// listen opens a TCP listener inside n.
func (n netns) listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// listenPacket opens a UDP socket inside n.
func (n netns) listenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// writeSysctl sets a per-namespace sysctl (a path under /proc/sys/net) inside
// n. /proc/sys/net is resolved against the writing thread's namespace, so
// this never touches the host's value.
func (n netns) writeSysctl(name, value string) error {
	if !strings.HasPrefix(name, "net/") {
		return fmt.Errorf("refusing to write non-namespaced sysctl %s", name)
	}
	return n.do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value), 0o644)
	})
}

// writeSysctls sets several per-namespace sysctls inside n.
func (n netns) writeSysctls(kv map[string]string) error {
	for k, v := range kv {
		if err := n.writeSysctl(k, v); err != nil {
			return fmt.Errorf("sysctl %s in %s: %w", k, n, err)
		}
	}
	return nil
}

// addNetns creates a named namespace with its loopback up.
func addNetns(ctx context.Context, name string) (netns, error) {
	if err := run(ctx, nil, "ip", "netns", "add", name); err != nil {
		return "", err
	}
	n := netns(name)
	return n, n.ip(ctx, "link", "set", "lo", "up")
}

// delete removes the namespace's name. The kernel frees it (and the veths
// inside, and their peers) once no process or socket holds it.
func (n netns) delete(ctx context.Context) error {
	if _, err := os.Stat(n.path()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return run(ctx, nil, "ip", "netns", "delete", string(n))
}

// removeStaleNamespaces deletes namespaces this package made in processes
// that no longer exist (killed before Close); their kube-proxy died with them
// (parent-death signal).
func removeStaleNamespaces(ctx context.Context) {
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = netns(e.Name()).delete(ctx)
		}
	}
}

// run executes a command with a bounded time and returns its output in the error.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
