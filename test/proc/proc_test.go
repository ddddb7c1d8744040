//go:build unix

package proc

import (
	"bufio"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestStopSaysWhetherSIGTERMWasEnough(t *testing.T) {
	tests := []struct {
		name    string
		prelude string // shell run before the child says "started"
		wantErr string
	}{
		{"a child that exits on SIGTERM stops cleanly", "", ""},
		{"a group that ignores SIGTERM is killed, and Stop says so", `trap "" TERM; `,
			"ignorer did not stop within 200ms of SIGTERM; killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The log is a FIFO: reading the child's first line is the barrier
			// that says its trap is set, with no polling.
			log := filepath.Join(t.TempDir(), "child.log")
			if err := syscall.Mkfifo(log, 0o600); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 1)
			go func() {
				f, err := os.Open(log) // blocks until Start opens the writing end
				if err != nil {
					lines <- err.Error()
					return
				}
				defer f.Close()
				line, _ := bufio.NewReader(f).ReadString('\n')
				lines <- line
			}()
			p, err := Start("ignorer", "/bin/sh", log, "-c", tt.prelude+"echo started; sleep 30")
			if err != nil {
				t.Fatal(err)
			}
			if line := <-lines; line != "started\n" {
				t.Fatalf("the child's first line %q, want %q", line, "started\n")
			}
			err = p.Stop(200 * time.Millisecond)
			if got := errText(err); got != tt.wantErr {
				t.Fatalf("Stop: %q, want %q", got, tt.wantErr)
			}
			if done, _ := p.Exited(); !done {
				t.Fatal("Stop returned with the process still running")
			}
			if err := p.Stop(time.Second); err != nil {
				t.Errorf("a second Stop: %v, want nil", err)
			}
		})
	}
}

func TestTailKeepsTheLastLinesUnderTheFileName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := Tail(path, 2), "--- x.log (last lines) ---\ntwo\nthree"; got != want {
		t.Errorf("Tail = %q, want %q", got, want)
	}
	if got := Tail(filepath.Join(t.TempDir(), "missing"), 2); got != "" {
		t.Errorf("Tail of a missing file = %q, want empty", got)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
