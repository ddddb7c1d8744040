//go:build unix

package proc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStopSaysWhetherSIGTERMWasEnough(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantErr string
	}{
		{"a child that exits on SIGTERM stops cleanly", "sleep 30", ""},
		{"a group that ignores SIGTERM is killed, and Stop says so", `trap "" TERM; sleep 30`,
			"ignorer did not stop within 200ms of SIGTERM; killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "child.log")
			p, err := Start("ignorer", "/bin/sh", log, "-c", "echo started; "+tt.script)
			if err != nil {
				t.Fatal(err)
			}
			waitForLine(t, log, "started") // the trap is set before sleep runs
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

// waitForLine polls the child's log for its first line: the only way to know
// that a shell has run its trap, short of a pipe.
func waitForLine(t *testing.T, path, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(path); string(b) == line+"\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child never wrote %q", line)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
