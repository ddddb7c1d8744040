package ports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePortRange(t *testing.T) {
	const expected = ": expected N or A-B with ports 1-65535"
	tests := []struct {
		name    string
		in      string
		want    Ranges
		wantErr string
	}{
		{name: "an empty value is no range", in: "", want: nil},
		{name: "only separators and blanks are no range", in: " , , ", want: nil},
		{name: "a single port is a one-port range", in: "30000", want: Ranges{{30000, 30000}}},
		{name: "a span is inclusive", in: "20000-20099", want: Ranges{{20000, 20099}}},
		{
			name: "whitespace is tolerated around items and around the dash",
			in:   " 30000 - 30002 ,, 31000 ",
			want: Ranges{{30000, 30002}, {31000, 31000}},
		},
		{name: "ranges keep the listed order", in: "30000-30001,20000", want: Ranges{{30000, 30001}, {20000, 20000}}},
		{name: "overlaps are allowed", in: "1-10,5-15,5", want: Ranges{{1, 10}, {5, 15}, {5, 5}}},
		{name: "a span of one port is allowed", in: "7-7", want: Ranges{{7, 7}}},
		{name: "the bounds 1 and 65535 are valid", in: "1-65535", want: Ranges{{1, 65535}}},
		{name: "a reversed span is rejected", in: "30002-30000", wantErr: `invalid item "30002-30000" (start is greater than end)` + expected},
		{name: "a non-numeric item is rejected", in: "abc", wantErr: `invalid item "abc" ("abc" is not a port number)` + expected},
		{name: "a non-numeric end is rejected", in: "1-x", wantErr: `invalid item "1-x" ("x" is not a port number)` + expected},
		{name: "a missing start is rejected", in: "-5", wantErr: `invalid item "-5" ("" is not a port number)` + expected},
		{name: "a missing end is rejected", in: "5-", wantErr: `invalid item "5-" ("" is not a port number)` + expected},
		{name: "a second dash is rejected", in: "1-2-3", wantErr: `invalid item "1-2-3" ("2-3" is not a port number)` + expected},
		{name: "a signed port is rejected", in: "+5", wantErr: `invalid item "+5" ("+5" is not a port number)` + expected},
		{name: "port 0 is out of range", in: "0-10", wantErr: `invalid item "0-10" (0 is out of range 1-65535)` + expected},
		{name: "port 65536 is out of range", in: "65536", wantErr: `invalid item "65536" (65536 is out of range 1-65535)` + expected},
		{name: "an out-of-range end is rejected", in: "65000-70000", wantErr: `invalid item "65000-70000" (70000 is out of range 1-65535)` + expected},
		{
			name:    "every bad item is named in one error",
			in:      "20000-20099, 9-1, x, 30000",
			wantErr: `invalid items "9-1" (start is greater than end), "x" ("x" is not a port number)` + expected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRanges(t *testing.T) {
	r := Ranges{{20000, 20099}, {30000, 30000}}
	t.Run("Contains covers both ends of a span and single ports", func(t *testing.T) {
		for _, p := range []int32{20000, 20050, 20099, 30000} {
			assert.True(t, r.Contains(p), p)
		}
		for _, p := range []int32{0, 19999, 20100, 29999, 30001} {
			assert.False(t, r.Contains(p), p)
		}
	})
	t.Run("no range contains nothing", func(t *testing.T) {
		assert.False(t, Ranges(nil).Contains(1))
	})

	strings := []struct {
		name string
		in   Ranges
		want string
	}{
		{name: "no range formats as the empty string", in: nil, want: ""},
		{name: "a single port formats as N and a span as A-B", in: r, want: "20000-20099,30000"},
		{name: "the listed order is kept", in: Ranges{{5, 6}, {1, 1}}, want: "5-6,1"},
	}
	for _, tt := range strings {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.String())
		})
	}

	sizes := []struct {
		name string
		in   Ranges
		want int
	}{
		{name: "no range has size 0", in: nil, want: 0},
		{name: "a span counts both ends", in: Ranges{{20000, 20099}}, want: 100},
		{name: "disjoint ranges add up", in: r, want: 101},
		{name: "overlapping ranges count each port once", in: Ranges{{1, 10}, {5, 15}, {5, 5}}, want: 15},
		{name: "adjacent ranges count each port once", in: Ranges{{11, 20}, {1, 10}}, want: 20},
		{name: "a range inside another adds nothing", in: Ranges{{1, 100}, {40, 50}}, want: 100},
		{name: "the whole port space is 65535 ports", in: Ranges{{1, 65535}, {80, 80}}, want: 65535},
	}
	for _, tt := range sizes {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, size(tt.in))
		})
	}
}

// size is the number of distinct ports r covers, overlapping ranges counted once:
// the tests' measure of what ParsePortRange and disjoint agree on.
func size(r Ranges) int {
	n := 0
	for _, rg := range r.disjoint() {
		n += int(rg.End-rg.Start) + 1
	}
	return n
}
