package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// plannerPoint is one BenchmarkCompute result of pkg/plan.
type plannerPoint struct {
	mode        string // cold (a first pass) or steady (the idle pass)
	channels    int
	nsPerOp     float64
	allocsPerOp float64
}

func (p plannerPoint) ms() float64 { return p.nsPerOp / 1e6 }

// pythonPlanning is the Python controller's planning time, as published (issue
// 17): an external reference measured on this machine class, not re-run here.
var pythonPlanning = []struct {
	channels int
	ms       float64
}{{1000, 271}, {5000, 7300}}

var benchLine = regexp.MustCompile(`^BenchmarkCompute/(cold|steady)/channels=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)
var allocsField = regexp.MustCompile(`([\d.]+) allocs/op`)

// runPlannerBench runs `go test -json -bench ^BenchmarkCompute$ ./pkg/plan` from
// the module root (the planner's own benchmark: 2 ports a channel, half auto)
// and returns its points. Another change may be in progress in pkg/plan: a
// failure is reported in the report, not a failed benchmark.
func runPlannerBench(t *testing.T) ([]plannerPoint, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(t.Context(), gobin, "test", "-json", "-count=1", "-run", "^$",
		"-bench", "^BenchmarkCompute$", "-benchmem", "./pkg/plan")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	var text strings.Builder
	for line := range strings.Lines(string(out)) {
		var ev struct{ Action, Output string }
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Action == "output" {
			text.WriteString(ev.Output)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("go test -bench Compute ./pkg/plan: %v\n%s", err, text.String())
	}
	points := parsePlannerBench(text.String())
	if len(points) == 0 {
		return nil, fmt.Errorf("no BenchmarkCompute results in:\n%s", text.String())
	}
	return points, nil
}

func parsePlannerBench(text string) []plannerPoint {
	var points []plannerPoint
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		p := plannerPoint{mode: m[1]}
		p.channels, _ = strconv.Atoi(m[2])
		p.nsPerOp, _ = strconv.ParseFloat(m[3], 64)
		if a := allocsField.FindStringSubmatch(m[4]); a != nil {
			p.allocsPerOp, _ = strconv.ParseFloat(a[1], 64)
		}
		points = append(points, p)
	}
	slices.SortFunc(points, func(a, b plannerPoint) int {
		if a.mode != b.mode {
			return strings.Compare(a.mode, b.mode)
		}
		return a.channels - b.channels
	})
	return points
}

func TestPlannerBenchmarkLinesAreReadWithTheirModeSizeTimeAndAllocations(t *testing.T) {
	text := "goos: linux\n" +
		"BenchmarkCompute/steady/channels=1000-2         \t     457\t   2604332 ns/op\t      2604 ns/channel\t 1215432 B/op\t    8032 allocs/op\n" +
		"BenchmarkCompute/cold/channels=5000-2  \t      14\t  84123456 ns/op\t     16824 ns/channel\t40000000 B/op\t  190000 allocs/op\n" +
		"BenchmarkCompute/cold/channels=1000\t100\t1500000.5 ns/op\n" +
		"PASS\n"
	got := parsePlannerBench(text)
	want := []plannerPoint{
		{mode: "cold", channels: 1000, nsPerOp: 1500000.5},
		{mode: "cold", channels: 5000, nsPerOp: 84123456, allocsPerOp: 190000},
		{mode: "steady", channels: 1000, nsPerOp: 2604332, allocsPerOp: 8032},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parsePlannerBench:\n got %+v\nwant %+v", got, want)
	}
}
