package plan

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestABaselineKeepsTheBestRunOfEachPassAndSize(t *testing.T) {
	out := "goos: linux\n" +
		"BenchmarkCompute/cold/channels=5000-2   \t10\t 180000000 ns/op\t170000000 cpu-ns/op\t 36000 ns/channel\t64485230 B/op\t  520174 allocs/op\n" +
		"BenchmarkCompute/cold/channels=5000-2   \t10\t 150000000 ns/op\t175000000 cpu-ns/op\t 30000 ns/channel\t64485230 B/op\t  520174 allocs/op\n" +
		"BenchmarkCompute/steady/channels=1000\t20\t2604332 ns/op\t8032 allocs/op\n" +
		"BenchmarkNodePortMemory/channels=1000/memory=true-2 \t 20\t 100 ns/op\n" +
		"PASS\n"
	assert.Equal(t, map[string]benchPoint{
		"cold/5000":   {nsPerOp: 150000000, cpuNsPerOp: 170000000, allocs: 520174},
		"steady/1000": {nsPerOp: 2604332, allocs: 8032},
	}, parseBenchOutput(out))
}

func TestASummaryTakesTheCollectorsShareFromTheFastestRun(t *testing.T) {
	run := func(ms int, extra map[string]float64) testing.BenchmarkResult {
		return testing.BenchmarkResult{N: 10, T: time.Duration(10*ms) * time.Millisecond, Extra: extra}
	}
	tests := []struct {
		name string
		runs []testing.BenchmarkResult
		want float64
	}{
		{"the fastest run's share, not the smallest", []testing.BenchmarkResult{
			run(30, map[string]float64{"gc-%": 10}), run(20, map[string]float64{"gc-%": 40}), run(25, map[string]float64{"gc-%": 30}),
		}, 40},
		{"none when the fastest run did not measure it", []testing.BenchmarkResult{
			run(30, map[string]float64{"gc-%": 10}), run(20, nil),
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := summarise("cold", 5000, tt.runs)
			assert.Equal(t, 20e6, row.minNs)
			assert.Equal(t, tt.want, row.gcPercent)
		})
	}
	assert.Equal(t, "40%", percentOrNone(40.2))
	assert.Equal(t, "—", percentOrNone(-1))
}

func TestThePlannerReportJudgesTheColdPlanAgainstTheIssuesGoalsAndSteadyPassesBeyondThem(t *testing.T) {
	rows := func(cold5000 float64) []plannerRow {
		return []plannerRow{
			{mode: "cold", channels: 1000, minNs: 5e6, cpuNs: 10e6, gcPercent: 20, iterations: 20},
			{mode: "cold", channels: 5000, minNs: cold5000, cpuNs: 50e6, gcPercent: 25, iterations: 20},
			{mode: "steady", channels: 1000, minNs: 3e6, cpuNs: 6e6, gcPercent: -1, iterations: 20},
			{mode: "steady", channels: 5000, minNs: 22e6, cpuNs: 50e6, gcPercent: -1, iterations: 20},
		}
	}
	tests := []struct {
		name     string
		cold5000 float64
		want     []string
	}{
		{"a cold plan within 25 ms", 24e6, []string{
			"- One cold plan of 5,000 channels × 2 ports in ≤ 25 ms on this 2-core machine: 24.00 ms wall (best run) — met. It took 50.00 ms of CPU time on the two cores (the collector's share: 25%).",
			"- The cold plan linear to 20,000 channels: CPU time per channel 1000: 10.00 µs, 5000: 10.00 µs; the largest size costs 1.00× the smallest per channel — met (within 1.5×).",
			"- Steady cheaper than cold at 5000 channels: 22.00 ms vs 24.00 ms wall, 50.00 ms vs 50.00 ms CPU — met on wall time, missed on CPU time.",
			"## Beyond the goals\n\n- Steady passes against the same 1.5× as the cold plan: CPU time per channel 1000: 6.00 µs, 5000: 10.00 µs; the largest size costs 1.67× the smallest per channel — missed.",
		}},
		{"a cold plan over 25 ms", 26e6, []string{
			"in ≤ 25 ms on this 2-core machine: 26.00 ms wall (best run) — missed.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := plannerReport{runs: 5, rows: rows(tt.cold5000)}.render()
			for _, line := range tt.want {
				assert.Contains(t, out, line)
			}
		})
	}
}
