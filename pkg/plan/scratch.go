package plan

import stdslices "slices"

// carve returns an empty slice with room for n values, cut from the end of *slab so
// that a pass makes one allocation for what it would otherwise allocate per channel
// or per port. The result's capacity is exactly n: appending past it reallocates
// instead of overwriting the next value in the slab. When *slab is exhausted a new
// one is started; the old one stays alive through the slices cut from it.
func carve[T any](slab *[]T, n int) []T {
	if n == 0 {
		return nil
	}
	s := *slab
	if cap(s)-len(s) < n {
		s = make([]T, 0, max(n, 2*cap(s), 64))
	}
	start := len(s)
	s = s[:start+n]
	*slab = s
	return s[start : start : start+n]
}

// newSlab is an empty slab with room for n values.
func newSlab[T any](n int) []T { return make([]T, 0, n) }

// sortBy, sortStableBy and isSortedBy are the generic slices functions: unlike
// sort.Slice they allocate nothing. (The package's tests declare a func named
// slices, so the package is imported under another name.)
func sortBy[T any](s []T, cmp func(a, b T) int)       { stdslices.SortFunc(s, cmp) }
func sortStableBy[T any](s []T, cmp func(a, b T) int) { stdslices.SortStableFunc(s, cmp) }
func isSortedBy[T any](s []T, cmp func(a, b T) int) bool {
	return stdslices.IsSortedFunc(s, cmp)
}
