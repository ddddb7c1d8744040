package faults

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nowakeai/svcmux/test/benchreport"
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
	commit   = benchreport.Commit() // once: other commits may land while the faults run
	// reportPath is named once too, for the same reason: every fault rewrites
	// the same file.
	reportPath, reportPathErr = benchreport.ResultsPath("-faults.md")
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
	if reportPathErr != nil {
		fmt.Fprintf(os.Stderr, "faults: no report: %v\n", reportPathErr)
		return
	}
	if err := os.WriteFile(reportPath, []byte(reportText()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "faults: writing %s: %v\n", reportPath, err)
	}
}

func reportText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fault evidence (issue 17)\n\n")
	fmt.Fprintf(&b, "Written by `make faults` (test/faults, %s=1) at %s, commit %s (tree %s), on %d CPU(s) %s/%s.\n",
		EnvFaults, began.Format(time.RFC3339), commit, treeState(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
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

// treeState is the report's word for the work tree.
func treeState() string {
	if benchreport.Dirty() {
		return "with uncommitted changes"
	}
	return "clean"
}
