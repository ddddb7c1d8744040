package plan

import (
	"testing"

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
