package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// section is one fault's figures in the report.
type section struct {
	name  string
	lines []string
}

var (
	reportMu sync.Mutex
	sections []section
	began    = time.Now().UTC()
	commit   = gitShort() // once: other commits may land while the faults run
)

// record adds a fault's figures and, under SVCMUX_FAULTS=1, rewrites the report
// test/bench/results/<date>-<commit>-faults.md with every fault finished so far.
func record(s section) {
	reportMu.Lock()
	defer reportMu.Unlock()
	sections = append(sections, s)
	if os.Getenv(EnvFaults) != "1" {
		return
	}
	path := filepath.Join("..", "bench", "results", began.Format("2006-01-02")+"-"+commit+"-faults.md")
	if err := os.WriteFile(path, []byte(reportText()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "faults: writing %s: %v\n", path, err)
	}
}

func reportText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fault evidence (issue 17)\n\n")
	fmt.Fprintf(&b, "Written by `make faults` (test/faults, %s=1) at %s, commit %s (tree %s), on %d CPU(s) %s/%s.\n",
		EnvFaults, began.Format(time.RFC3339), commit, gitDirty(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "The agent runs with the flags named per fault on top of the defaults (QPS 1000/burst 2000, 4 workers,\n")
	fmt.Fprintf(&b, "32 writes in flight, coalesce 100ms). Every fault is watched by one observer that records each\n")
	fmt.Fprintf(&b, "published mux port (number, protocol, NodePort), each claim and each channel's ports annotation,\n")
	fmt.Fprintf(&b, "and fails the test on a port moved, an owner flipped or a port with two owners.\n\n")
	for _, s := range sections {
		fmt.Fprintf(&b, "## %s\n\n", s.name)
		for _, l := range s.lines {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func gitShort() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "nogit"
	}
	return strings.TrimSpace(string(out))
}

func gitDirty() string {
	out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		return "with uncommitted changes"
	}
	return "clean"
}
