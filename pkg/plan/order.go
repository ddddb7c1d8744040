package plan

import (
	"cmp"
	stdslices "slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/ports"
)

// A large mux's pass sorts its ten thousand served ports twice, once by key for the
// mux spec.ports and once by claim key for the state document, on the critical
// path of a cold start. A comparison sort through pointers reads each port from
// wherever it lives, twenty times over; these sort what they can on integers held
// side by side, or find the order already there.

// protocolRank orders the three protocols a Service port may name as their
// strings do ("SCTP" < "TCP" < "UDP"); ok is false for any other string.
func protocolRank(p corev1.Protocol) (rank uint64, ok bool) {
	switch p {
	case corev1.ProtocolSCTP:
		return 0, true
	case corev1.ProtocolTCP:
		return 1, true
	case corev1.ProtocolUDP:
		return 2, true
	}
	return 0, false
}

// sortServedByKey sorts served by (port, protocol), compareKeys' order: each port
// packed with its index into one integer (port above protocol above index), and
// the integers sorted. A port outside 0-65535 or another protocol, which admission
// never serves, takes the comparison sort instead.
func sortServedByKey(served []*servedPort) {
	packed := make([]uint64, len(served))
	for i, sp := range served {
		rank, ok := protocolRank(sp.key.Protocol)
		if !ok || sp.key.Port < 0 || sp.key.Port > ports.MaxPort {
			sortBy(served, func(a, b *servedPort) int { return compareKeys(a.key, b.key) })
			return
		}
		packed[i] = uint64(sp.key.Port)<<34 | rank<<32 | uint64(i)
	}
	stdslices.Sort(packed)
	sorted := make([]*servedPort, len(served))
	for i, k := range packed {
		sorted[i] = served[uint32(k)]
	}
	copy(served, sorted)
}

// servedByClaimKey lists every served port in claim-key order. Channels are in
// namespace/name order, so listing each one's ports by claim key gives that order
// already, but where a protocol other than the first breaks in or one namespace
// is the prefix of another ("team" and "team-a": ':' sorts after '-'); checking is
// one comparison a port, sorting twenty.
func (p *pass) servedByClaimKey() []*servedPort {
	out := p.servedPorts()
	// A channel has a handful of ports, listed together: an insertion sort of each run.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ch == out[j-1].ch && out[j].pv.claimKey < out[j-1].pv.claimKey; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	byClaimKey := func(a, b *servedPort) int { return strings.Compare(a.pv.claimKey, b.pv.claimKey) }
	if !isSortedBy(out, byClaimKey) {
		sortBy(out, byClaimKey)
	}
	return out
}

// sliceOrderKey is a slice's place in name order: the eight bytes of its name past the
// prefix every name shares, big-endian (zero past the end), then the name itself
// where two keys tie. Mux slice names share the mux's name and go on with eight
// hex digits of a hash, so the integers decide nearly every comparison.
type sliceOrderKey struct {
	key   uint64
	name  string
	index int32
}

// sortDesiredByName sorts entries by slice name, as strings.Compare would.
func sortDesiredByName(entries []desiredSlice) {
	if len(entries) < 2 {
		return
	}
	keys := make([]sliceOrderKey, len(entries))
	common := commonPrefixLen(entries)
	for i := range entries {
		keys[i] = sliceOrderKey{key: bigEndianAfter(entries[i].s.Name, common), name: entries[i].s.Name, index: int32(i)}
	}
	sortBy(keys, func(a, b sliceOrderKey) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return strings.Compare(a.name, b.name)
	})
	sorted := make([]desiredSlice, len(entries))
	for i, k := range keys {
		sorted[i] = entries[k.index]
	}
	copy(entries, sorted)
}

// commonPrefixLen is the length of the prefix every entry's name shares.
func commonPrefixLen(entries []desiredSlice) int {
	first := entries[0].s.Name
	n := len(first)
	for _, e := range entries[1:] {
		name := e.s.Name
		i := 0
		for i < n && i < len(name) && name[i] == first[i] {
			i++
		}
		n = i
	}
	return n
}

// bigEndianAfter is the eight bytes of s from its byte from on, as a big-endian
// integer, zero where s ends: keys compare as the bytes they hold, and a tie
// leaves the order to the names (a name's zero byte and its end read alike).
func bigEndianAfter(s string, from int) uint64 {
	var k uint64
	for i := range 8 {
		k <<= 8
		if j := from + i; j < len(s) {
			k |= uint64(s[j])
		}
	}
	return k
}
