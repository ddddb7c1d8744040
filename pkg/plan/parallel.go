package plan

// A large mux's pass is tens of milliseconds of pure CPU on the agent's critical
// path at start-up, and a node seldom gives a pod one core only: the stages and
// loops that are independent run on two. Each goroutine writes only its own part
// of the plan, and the result is the same as a serial run's (parallel_test.go, and
// -race on every unit test).

// parallelFrom is the work, in loop steps or channels, below which nothing runs
// side by side: a goroutine costs about a microsecond, a small mux's whole pass a
// few dozen.
var parallelFrom = 512 // a variable only so tests can plan without splitting

// inHalves runs f over [0, n) in two halves, the first on its own goroutine, and
// returns when both are done; below parallelFrom, in one call on this goroutine.
// half (0 or 1) lets f keep per-half tallies without sharing them.
func inHalves(n int, f func(half, from, to int)) {
	if n < parallelFrom {
		f(0, 0, n)
		return
	}
	mid := n / 2
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(0, 0, mid)
	}()
	f(1, mid, n)
	<-done
}

// besides runs a on its own goroutine and b on this one, and returns when both
// are done; for n (the work, as for inHalves) below parallelFrom, a then b on this
// goroutine: a small mux's pass is not worth a goroutine, and an agent planning
// many small muxes at once keeps its cores busy already.
func besides(n int, a, b func()) {
	if n < parallelFrom {
		a()
		b()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a()
	}()
	b()
	<-done
}

// sortInHalves sorts s as sortBy does, each half on its own core and the halves
// then merged: a snapshot lists a large mux's channels in no order, and their sort
// is on the critical path of its pass. Equal elements keep no particular order,
// as with sortBy.
func sortInHalves[T any](s []T, cmp func(a, b T) int) {
	if len(s) < parallelFrom {
		sortBy(s, cmp)
		return
	}
	inHalves(len(s), func(_, from, to int) { sortBy(s[from:to], cmp) })
	mid := len(s) / 2 // where inHalves cut
	merged := make([]T, 0, len(s))
	a, b := s[:mid], s[mid:]
	for len(a) > 0 && len(b) > 0 {
		if cmp(b[0], a[0]) < 0 {
			merged, b = append(merged, b[0]), b[1:]
		} else {
			merged, a = append(merged, a[0]), a[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	copy(s, merged)
}
