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
