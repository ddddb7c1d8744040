package plan

import (
	"fmt"
	"math/rand/v2"
	stdslices "slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/ports"
)

func servedKeys(served []*servedPort) []string {
	out := make([]string, len(served))
	for i, sp := range served {
		out[i] = sp.key.String()
	}
	return out
}

func TestSortServedByKeyOrdersAsCompareKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []ports.Key
	}{
		{"ports of one protocol", []ports.Key{{Port: 443, Protocol: "TCP"}, {Port: 80, Protocol: "TCP"}, {Port: 65535, Protocol: "TCP"}, {Port: 1, Protocol: "TCP"}}},
		{"one port of three protocols", []ports.Key{{Port: 53, Protocol: "UDP"}, {Port: 53, Protocol: "TCP"}, {Port: 53, Protocol: "SCTP"}, {Port: 52, Protocol: "UDP"}}},
		{"a protocol admission never serves takes the comparison sort", []ports.Key{{Port: 9, Protocol: "UDP"}, {Port: 9, Protocol: "QUIC"}, {Port: 8, Protocol: "TCP"}}},
		{"a port past 65535 takes the comparison sort", []ports.Key{{Port: 70000, Protocol: "TCP"}, {Port: 80, Protocol: "TCP"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := make([]*servedPort, len(tc.keys))
			for i, k := range tc.keys {
				served[i] = &servedPort{key: k}
			}
			want := append([]*servedPort(nil), served...)
			sortBy(want, func(a, b *servedPort) int { return compareKeys(a.key, b.key) })
			sortServedByKey(served)
			assert.Equal(t, servedKeys(want), servedKeys(served))
		})
	}
}

func TestSortServedByKeyOrdersTenThousandShuffledPortsAsCompareKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	protocols := []corev1.Protocol{"TCP", "UDP", "SCTP"}
	var served []*servedPort
	for port := int32(1); port <= 5000; port++ {
		for _, proto := range protocols[:1+r.IntN(3)] {
			served = append(served, &servedPort{key: ports.Key{Port: port, Protocol: proto}})
		}
	}
	r.Shuffle(len(served), func(i, j int) { served[i], served[j] = served[j], served[i] })
	want := append([]*servedPort(nil), served...)
	sortBy(want, func(a, b *servedPort) int { return compareKeys(a.key, b.key) })
	sortServedByKey(served)
	require.Equal(t, servedKeys(want), servedKeys(served))
}

// claimKeyPass is a pass whose channels, in the order given, serve ports with the
// claim keys given.
func claimKeyPass(channels ...[]string) *pass {
	p := &pass{}
	for _, keys := range channels {
		c := &channelView{}
		for _, k := range keys {
			c.decision.served = append(c.decision.served, servedPort{ch: c, pv: &portView{claimKey: k}})
		}
		p.served += len(keys)
		p.channels = append(p.channels, c)
	}
	return p
}

func TestServedByClaimKeyListsPortsInClaimKeyOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels [][]string
		want     []string
	}{
		{"each channel's ports are put in order",
			[][]string{{"TCP:a:x:http", "TCP:a:x:grpc"}, {"TCP:a:y:web"}},
			[]string{"TCP:a:x:grpc", "TCP:a:x:http", "TCP:a:y:web"}},
		{"a namespace that is the prefix of another sorts after it by claim key",
			// namespace/name order puts team before team-a; ':' sorts after '-'.
			[][]string{{"TCP:team:x:http"}, {"TCP:team-a:x:http"}},
			[]string{"TCP:team-a:x:http", "TCP:team:x:http"}},
		{"a second protocol sorts apart from the first",
			[][]string{{"UDP:a:x:dns", "TCP:a:x:http"}, {"TCP:b:y:http"}},
			[]string{"TCP:a:x:http", "TCP:b:y:http", "UDP:a:x:dns"}},
		{"a channel serving nothing adds nothing",
			[][]string{{}, {"TCP:a:x:http"}},
			[]string{"TCP:a:x:http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, sp := range claimKeyPass(tc.channels...).servedByClaimKey() {
				got = append(got, sp.pv.claimKey)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestServedByClaimKeyOrdersManyChannelsAsAFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var channels [][]string
	for i := 0; i < 2000; i++ {
		ns := []string{"team", "team-a", "t", "ns1", "ns10"}[r.IntN(5)]
		var keys []string
		for j := 0; j < 1+r.IntN(4); j++ {
			keys = append(keys, fmt.Sprintf("%s:%s:svc-%d:p%d", []string{"TCP", "UDP"}[r.IntN(2)], ns, i, r.IntN(100)))
		}
		channels = append(channels, keys)
	}
	var want []string
	for _, keys := range channels {
		want = append(want, keys...)
	}
	sortBy(want, strings.Compare)
	var got []string
	for _, sp := range claimKeyPass(channels...).servedByClaimKey() {
		got = append(got, sp.pv.claimKey)
	}
	require.Equal(t, want, got)
}

func desiredNamed(names ...string) []desiredSlice {
	out := make([]desiredSlice, len(names))
	for i, n := range names {
		out[i] = desiredSlice{s: &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: n}}}
	}
	return out
}

func desiredNames(entries []desiredSlice) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.s.Name
	}
	return out
}

func TestSortDesiredByNameOrdersAsStringsCompare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"no slices", []string{}},
		{"one slice", []string{"mux-0a1b2c3d-0"}},
		{"a group's tenth chunk sorts before its second", []string{"mux-0a1b2c3d-2", "mux-0a1b2c3d-10", "mux-0a1b2c3d-1", "mux-0a1b2c3d-0"}},
		{"hashes decide before chunks", []string{"mux-ffffffff-0", "mux-0a1b2c3d-1", "mux-0a1b2c3e-0", "mux-0a1b2c3d-0"}},
		{"a name that is the prefix of another sorts first", []string{"ab", "a", "abcdefghijklmnop", "abcdefghij"}},
		{"a zero byte and a name's end tie on the key and the names decide", []string{"x\x00\x01", "x", "x\x00", "w\xff"}},
		{"names sharing no prefix", []string{"zeta", "alpha", "mux-1", "Mux-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := stdslices.Clone(tc.names)
			sortBy(want, strings.Compare)
			got := desiredNamed(tc.names...)
			sortDesiredByName(got)
			assert.Equal(t, want, desiredNames(got))
		})
	}
}

func TestSortDesiredByNameOrdersFiveThousandSlicesAsStringsCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var names []string
	for i := 0; i < 5000; i++ {
		hash := fmt.Sprintf("%08x", r.Uint32()&0xfff0ffff) // some shared hashes
		for chunk := 0; chunk < 1+r.IntN(3)*r.IntN(7); chunk++ {
			names = append(names, fmt.Sprintf("web-mux-%s-%d", hash, chunk))
		}
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	want := append([]string(nil), names...)
	sortBy(want, strings.Compare)
	got := desiredNamed(names...)
	sortDesiredByName(got)
	require.Equal(t, want, desiredNames(got))
}
