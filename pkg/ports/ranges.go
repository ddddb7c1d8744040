package ports

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Range is an inclusive span of ports, Start <= End.
type Range struct{ Start, End int32 }

// Ranges is a mux port-range value in the order the user listed it. The order matters:
// automatic allocation walks the ranges as listed, so "30000-30001,20000" fills 30000
// before 20000.
type Ranges []Range

// ParsePortRange parses the mux annotation "N" or "A-B" items, comma separated.
// Whitespace is tolerated (also around '-'), empty items are skipped and overlaps are
// allowed. Reversed, non-numeric or out-of-range items are all named in one error.
// An empty value means "no range": nil, nil.
func ParsePortRange(s string) (Ranges, error) {
	var result Ranges
	var bad []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		startText, endText, isSpan := strings.Cut(item, "-")
		if !isSpan {
			endText = startText
		}
		start, startProblem := rangeBound(startText)
		end, endProblem := rangeBound(endText)
		switch {
		case startProblem != "":
			bad = append(bad, fmt.Sprintf("%q (%s)", item, startProblem))
		case endProblem != "":
			bad = append(bad, fmt.Sprintf("%q (%s)", item, endProblem))
		case start > end:
			bad = append(bad, fmt.Sprintf("%q (start is greater than end)", item))
		default:
			result = append(result, Range{Start: start, End: end})
		}
	}
	if len(bad) > 0 {
		noun := "item"
		if len(bad) > 1 {
			noun = "items"
		}
		return nil, fmt.Errorf("invalid %s %s: expected N or A-B with ports 1-65535", noun, strings.Join(bad, ", "))
	}
	return result, nil
}

// rangeBound parses one end of a range item; the problem says why it is not a port.
func rangeBound(s string) (int32, string) {
	s = strings.TrimSpace(s)
	if port, ok := parsePort(s); ok {
		return port, ""
	}
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return 0, s + " is out of range 1-65535"
	}
	return 0, strconv.Quote(s) + " is not a port number"
}

// Contains reports whether any range covers p.
func (r Ranges) Contains(p int32) bool {
	for _, rg := range r {
		if rg.Start <= p && p <= rg.End {
			return true
		}
	}
	return false
}

// String formats the ranges as the Python controller's _format_ranges does, for
// messages such as "no available TCP port in mux port range 20000-20099,30000".
func (r Ranges) String() string {
	var b strings.Builder
	for i, rg := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(rg.Start)))
		if rg.End != rg.Start {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(rg.End)))
		}
	}
	return b.String()
}

// disjoint returns the union of the ranges as sorted, non-overlapping, non-adjacent spans.
func (r Ranges) disjoint() Ranges {
	sorted := append(Ranges(nil), r...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	var out Ranges
	for _, rg := range sorted {
		if n := len(out); n > 0 && rg.Start <= out[n-1].End+1 {
			if rg.End > out[n-1].End {
				out[n-1].End = rg.End
			}
			continue
		}
		out = append(out, rg)
	}
	return out
}
