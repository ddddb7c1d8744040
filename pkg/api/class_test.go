package api

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const expectedForm = "svc-mux.nowake.ai/<mux-name>[.<mux-namespace>]"

func TestParseClassResolvesTheMuxAClassNames(t *testing.T) {
	keys := NewKeys("")
	label63 := strings.Repeat("a", 63)
	tests := []struct {
		name  string
		class string
		want  MuxRef
	}{
		{"a class without a namespace names a mux in the default namespace",
			"svc-mux.nowake.ai/mux", MuxRef{Namespace: "svc-mux", Name: "mux"}},
		{"a class with a namespace names a mux in that namespace",
			"svc-mux.nowake.ai/mux.team-a", MuxRef{Namespace: "team-a", Name: "mux"}},
		{"a namespace equal to the default is accepted as written",
			"svc-mux.nowake.ai/mux.svc-mux", MuxRef{Namespace: "svc-mux", Name: "mux"}},
		{"digits and inner hyphens are DNS-label characters",
			"svc-mux.nowake.ai/0-mux-9.ns-1", MuxRef{Namespace: "ns-1", Name: "0-mux-9"}},
		{"a 63-character name is the longest DNS label",
			"svc-mux.nowake.ai/" + label63, MuxRef{Namespace: "svc-mux", Name: label63}},
		{"a 63-character namespace is the longest DNS label",
			"svc-mux.nowake.ai/mux." + label63, MuxRef{Namespace: label63, Name: "mux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.ParseClass(tt.class, "svc-mux")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseClassRefusesMalformedClassesAndSaysWhatIsExpected(t *testing.T) {
	keys := NewKeys("")
	label64 := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		class   string
		mention string // besides the class and the expected form
	}{
		{"three dot-separated parts", "svc-mux.nowake.ai/mux.team-a.extra", "has 3 dot-separated parts"},
		{"four dot-separated parts", "svc-mux.nowake.ai/a.b.c.d", "has 4 dot-separated parts"},
		{"an empty mux name", "svc-mux.nowake.ai/", `mux name "" is not a DNS label`},
		{"an empty mux name before a namespace", "svc-mux.nowake.ai/.team-a", `mux name "" is not a DNS label`},
		{"an empty namespace after the dot", "svc-mux.nowake.ai/mux.", `mux namespace "" is not a DNS label`},
		{"an uppercase mux name", "svc-mux.nowake.ai/Mux", `mux name "Mux" is not a DNS label`},
		{"an uppercase namespace", "svc-mux.nowake.ai/mux.Team", `mux namespace "Team" is not a DNS label`},
		{"a name starting with a hyphen", "svc-mux.nowake.ai/-mux", `mux name "-mux" is not a DNS label`},
		{"a name ending with a hyphen", "svc-mux.nowake.ai/mux-", `mux name "mux-" is not a DNS label`},
		{"an underscore in the name", "svc-mux.nowake.ai/my_mux", `mux name "my_mux" is not a DNS label`},
		{"a 64-character name", "svc-mux.nowake.ai/" + label64, `mux name "` + label64 + `" is not a DNS label`},
		{"a 64-character namespace", "svc-mux.nowake.ai/mux." + label64, `mux namespace "` + label64 + `" is not a DNS label`},
		{"another controller's prefix", "example.com/mux", `does not start with "svc-mux.nowake.ai/"`},
		{"the prefix without its slash", "svc-mux.nowake.ai", `does not start with "svc-mux.nowake.ai/"`},
		{"a prefix that only starts like ours", "svc-mux.nowake.ai.evil/mux", `does not start with "svc-mux.nowake.ai/"`},
		{"an empty class", "", `does not start with "svc-mux.nowake.ai/"`},
	}
	for _, tt := range tests {
		t.Run("a class with "+tt.name+" is refused", func(t *testing.T) {
			got, err := keys.ParseClass(tt.class, "svc-mux")
			require.Error(t, err)
			assert.Equal(t, MuxRef{}, got)
			msg := err.Error()
			assert.Contains(t, msg, `loadBalancerClass "`+tt.class+`"`, "the message names the class")
			assert.Contains(t, msg, "expected "+expectedForm, "the message says which form is expected")
			assert.Contains(t, msg, tt.mention)
		})
	}
}

func TestParseClassWithoutANamespaceNeedsAValidDefaultNamespace(t *testing.T) {
	_, err := NewKeys("").ParseClass("svc-mux.nowake.ai/mux", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `mux namespace "" is not a DNS label`)

	ref, err := NewKeys("").ParseClass("svc-mux.nowake.ai/mux.team-a", "")
	require.NoError(t, err, "an explicit namespace does not need the default")
	assert.Equal(t, MuxRef{Namespace: "team-a", Name: "mux"}, ref)
}

func TestParseClassFollowsACustomPrefix(t *testing.T) {
	keys := NewKeys("lb.example.com")
	ref, err := keys.ParseClass("lb.example.com/edge.net", "default")
	require.NoError(t, err)
	assert.Equal(t, MuxRef{Namespace: "net", Name: "edge"}, ref)

	_, err = keys.ParseClass("svc-mux.nowake.ai/edge", "default")
	require.Error(t, err, "the default prefix is foreign under a custom prefix")
	assert.Contains(t, err.Error(), `does not start with "lb.example.com/"`)
	assert.Contains(t, err.Error(), "expected lb.example.com/<mux-name>[.<mux-namespace>]")
}

func TestIsChannelClassMatchesOnlyOurPrefixWithItsSlash(t *testing.T) {
	keys := NewKeys("")
	tests := []struct {
		class string
		want  bool
	}{
		{"svc-mux.nowake.ai/mux", true},
		{"svc-mux.nowake.ai/mux.team-a", true},
		{"svc-mux.nowake.ai/Not_Valid.a.b", true}, // ours, though it does not parse: InvalidLoadBalancerClass
		{"svc-mux.nowake.ai/", true},
		{"svc-mux.nowake.ai", false},
		{"svc-mux.nowake.ai.evil/mux", false},
		{"networking.gke.io/l4-regional-external", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			assert.Equal(t, tt.want, keys.IsChannelClass(tt.class))
		})
	}
	assert.False(t, NewKeys("lb.example.com").IsChannelClass("svc-mux.nowake.ai/mux"), "a custom prefix disowns the default")
	assert.True(t, NewKeys("lb.example.com").IsChannelClass("lb.example.com/mux"))
}

func TestIsDNSLabelIsRFC1123WithinSixtyThreeCharacters(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"0", true},
		{"mux-1", true},
		{strings.Repeat("x", 63), true},
		{strings.Repeat("x", 64), false},
		{"", false},
		{"-a", false},
		{"a-", false},
		{"A", false},
		{"a.b", false},
		{"a_b", false},
		{"a b", false},
		{"ü", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			assert.Equal(t, tt.want, IsDNSLabel(tt.s))
		})
	}
}
