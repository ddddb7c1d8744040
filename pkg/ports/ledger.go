package ports

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Key is one (public port, protocol) slot on a mux. Uniqueness is per slot, so
// 53/TCP and 53/UDP may belong to different channels.
type Key struct {
	Port     int32
	Protocol corev1.Protocol
}

// NewKey builds a Key with the protocol defaulted as Kubernetes defaults it (TCP).
func NewKey(port int32, p corev1.Protocol) Key {
	return Key{Port: port, Protocol: NormalProtocol(p)}
}

// String is "20000/TCP", the form used in conflict messages and events.
func (k Key) String() string {
	return strconv.Itoa(int(k.Port)) + "/" + string(NormalProtocol(k.Protocol))
}

// NormalProtocol is p with the API server's default applied: "" is TCP.
func NormalProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// CanonicalProtocol is p, as the package's own constant when it is one of the
// three protocols a Service port may name. Every pass compares the protocols of
// thousands of claims and ports; strings decoded from the objects live wherever
// their objects do, and comparing two of them reads both from memory, while two
// equal constants compare by address. What a pass remembers (decoded claims,
// projected ports) is made canonical once, where it is read from its object.
func CanonicalProtocol(p corev1.Protocol) corev1.Protocol {
	switch p {
	case corev1.ProtocolTCP:
		return corev1.ProtocolTCP
	case corev1.ProtocolUDP:
		return corev1.ProtocolUDP
	case corev1.ProtocolSCTP:
		return corev1.ProtocolSCTP
	}
	return p
}

// bitset has one bit per port number 0..65535; bit set = port taken.
type bitset [(MaxPort + 1) / 64]uint64

func (b *bitset) has(p int32) bool { return b[p>>6]&(1<<(uint(p)&63)) != 0 }
func (b *bitset) set(p int32)      { b[p>>6] |= 1 << (uint(p) & 63) }
func (b *bitset) clear(p int32)    { b[p>>6] &^= 1 << (uint(p) & 63) }

func validPort(p int32) bool { return p >= MinPort && p <= MaxPort }

// cursor walks one (ranges, protocol) allocation order. Invariant: every port of the
// order before (seg, port) is taken for protocol, so Next resumes there instead of
// rescanning from the start; that is what keeps a pass linear in the range size.
type cursor struct {
	ranges   Ranges
	protocol corev1.Protocol
	segs     Ranges // the allocation order as disjoint spans, first occurrence wins
	seg      int    // index into segs; len(segs) means exhausted
	port     int32  // next candidate inside segs[seg]
}

// Ledger records which owner holds each (port, protocol) on one mux during one
// planning pass, and hands out the first free port of a range for auto allocation.
// It is not safe for concurrent use; a pass owns its ledger.
type Ledger struct {
	// protocols numbers the protocols seen, in first-use order (a mux has one to
	// three): a slot is the protocol's number and the port in one integer, so the
	// owners map hashes a uint64 where a Key would hash a string too.
	protocols []corev1.Protocol
	owners    map[uint64]string
	taken     []*bitset // by protocol number
	cursors   []*cursor
	steps     int // ports examined by Next; lets tests prove allocation is linear
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return NewLedgerSize(0) }

// NewLedgerSize returns an empty ledger with room for n slots, so a pass that knows
// how many ports it will reserve does not rehash the owners map as it fills.
func NewLedgerSize(n int) *Ledger {
	return &Ledger{owners: make(map[uint64]string, n)}
}

// protocol is the number of p (normalised), -1 when p was never reserved.
func (l *Ledger) protocol(p corev1.Protocol) int {
	p = NormalProtocol(p)
	for i, q := range l.protocols {
		if q == p {
			return i
		}
	}
	return -1
}

func slot(protocol int, port int32) uint64 { return uint64(protocol)<<32 | uint64(uint32(port)) }

// Owner returns the owner recorded for k.
func (l *Ledger) Owner(k Key) (string, bool) {
	i := l.protocol(k.Protocol)
	if i < 0 {
		return "", false
	}
	owner, ok := l.owners[slot(i, k.Port)]
	return owner, ok
}

// Reserve records owner for k, replacing any previous owner.
func (l *Ledger) Reserve(k Key, owner string) {
	i := l.protocol(k.Protocol)
	if i < 0 {
		i = len(l.protocols)
		l.protocols = append(l.protocols, NormalProtocol(k.Protocol))
		l.taken = append(l.taken, nil)
	}
	l.owners[slot(i, k.Port)] = owner
	if !validPort(k.Port) {
		return // cannot lie in any range; recorded only so Owner answers
	}
	if l.taken[i] == nil {
		l.taken[i] = new(bitset)
	}
	l.taken[i].set(k.Port)
}

// Release frees k; releasing a free slot does nothing. A cursor past the released
// port moves back to it, so the port is offered again before any later one.
func (l *Ledger) Release(k Key) {
	i := l.protocol(k.Protocol)
	if i < 0 {
		return
	}
	if _, ok := l.owners[slot(i, k.Port)]; !ok {
		return
	}
	delete(l.owners, slot(i, k.Port))
	if !validPort(k.Port) {
		return
	}
	l.taken[i].clear(k.Port)
	k = NewKey(k.Port, k.Protocol)
	for _, c := range l.cursors {
		if c.protocol != k.Protocol {
			continue
		}
		for i, s := range c.segs {
			if s.Start <= k.Port && k.Port <= s.End {
				if i < c.seg || (i == c.seg && k.Port < c.port) {
					c.seg, c.port = i, k.Port
				}
				break
			}
		}
	}
}

// Next returns the first free port for protocol in r's order (ranges as listed, ports
// ascending within each, a port covered twice visited at its first occurrence), without
// reserving it; ok is false when every port is taken. Repeated Next+Reserve over the
// same ranges costs amortised O(1) per call.
func (l *Ledger) Next(r Ranges, protocol corev1.Protocol) (int32, bool) {
	c := l.cursor(r, NormalProtocol(protocol))
	var bits *bitset
	if i := l.protocol(c.protocol); i >= 0 {
		bits = l.taken[i]
	}
	for c.seg < len(c.segs) {
		if c.port > c.segs[c.seg].End {
			c.seg++
			if c.seg < len(c.segs) {
				c.port = c.segs[c.seg].Start
			}
			continue
		}
		l.steps++
		if bits == nil || !bits.has(c.port) {
			return c.port, true
		}
		c.port++
	}
	return 0, false
}

// cursor finds or creates the cursor for (r, protocol). A pass uses one or two range
// values, so a linear search over few cursors beats hashing r.String() on every call.
func (l *Ledger) cursor(r Ranges, protocol corev1.Protocol) *cursor {
	for _, c := range l.cursors {
		if c.protocol == protocol && sameRanges(c.ranges, r) {
			return c
		}
	}
	c := &cursor{ranges: append(Ranges(nil), r...), protocol: protocol, segs: allocationOrder(r)}
	if len(c.segs) > 0 {
		c.port = c.segs[0].Start
	}
	l.cursors = append(l.cursors, c)
	return c
}

func sameRanges(a, b Ranges) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// allocationOrder turns ranges into disjoint spans in visiting order: each range as
// listed, minus what earlier ranges already cover, clipped to valid ports.
func allocationOrder(r Ranges) Ranges {
	var order Ranges
	var covered Ranges // union of earlier ranges, sorted and disjoint
	for _, rg := range r {
		if rg.Start < MinPort {
			rg.Start = MinPort
		}
		if rg.End > MaxPort {
			rg.End = MaxPort
		}
		if rg.Start > rg.End {
			continue
		}
		next := rg.Start
		for _, c := range covered {
			if c.End < next || c.Start > rg.End {
				continue
			}
			if c.Start > next {
				order = append(order, Range{Start: next, End: c.Start - 1})
			}
			next = c.End + 1
		}
		if next <= rg.End {
			order = append(order, Range{Start: next, End: rg.End})
		}
		covered = append(covered, rg).disjoint()
	}
	return order
}
