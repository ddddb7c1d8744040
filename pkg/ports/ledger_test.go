package ports

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

const (
	tcp  = corev1.ProtocolTCP
	udp  = corev1.ProtocolUDP
	sctp = corev1.ProtocolSCTP
)

func TestKey(t *testing.T) {
	t.Run("an empty protocol means TCP", func(t *testing.T) {
		assert.Equal(t, Key{Port: 53, Protocol: tcp}, NewKey(53, ""))
	})
	t.Run("an explicit protocol is kept", func(t *testing.T) {
		assert.Equal(t, Key{Port: 53, Protocol: udp}, NewKey(53, udp))
	})
	t.Run("String is port slash protocol", func(t *testing.T) {
		assert.Equal(t, "20000/TCP", NewKey(20000, tcp).String())
		assert.Equal(t, "53/SCTP", NewKey(53, sctp).String())
	})
	t.Run("String of a key built without NewKey still says TCP", func(t *testing.T) {
		assert.Equal(t, "80/TCP", Key{Port: 80}.String())
	})
}

func TestLedgerOwnership(t *testing.T) {
	t.Run("TCP and UDP on the same number are independent", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(53, tcp), "app/dns:aaaaaaa")
		l.Reserve(NewKey(53, udp), "app/other:bbbbbbb")
		owner, ok := l.Owner(NewKey(53, tcp))
		require.True(t, ok)
		assert.Equal(t, "app/dns:aaaaaaa", owner)
		owner, ok = l.Owner(NewKey(53, udp))
		require.True(t, ok)
		assert.Equal(t, "app/other:bbbbbbb", owner)
		_, ok = l.Owner(NewKey(53, sctp))
		assert.False(t, ok)
		assert.Equal(t, 2, l.size())

		l.Release(NewKey(53, tcp))
		_, ok = l.Owner(NewKey(53, tcp))
		assert.False(t, ok)
		_, ok = l.Owner(NewKey(53, udp))
		assert.True(t, ok, "releasing TCP leaves UDP owned")
		p, ok := l.Next(Ranges{{53, 53}}, udp)
		assert.False(t, ok, "53/UDP is still taken, got %d", p)
	})
	t.Run("Reserve overwrites the previous owner", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(80, tcp), "a")
		l.Reserve(NewKey(80, tcp), "b")
		owner, _ := l.Owner(NewKey(80, tcp))
		assert.Equal(t, "b", owner)
		assert.Equal(t, 1, l.size())
	})
	t.Run("a key with an empty protocol is the TCP key", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(Key{Port: 80}, "a")
		owner, ok := l.Owner(NewKey(80, tcp))
		require.True(t, ok)
		assert.Equal(t, "a", owner)
		l.Release(Key{Port: 80})
		assert.Equal(t, 0, l.size())
	})
	t.Run("releasing a free slot does nothing", func(t *testing.T) {
		l := NewLedger()
		l.Release(NewKey(80, tcp))
		assert.Equal(t, 0, l.size())
	})
	t.Run("a port outside 1-65535 is recorded but never allocated", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(0, tcp), "a")
		l.Reserve(NewKey(70000, tcp), "b")
		owner, ok := l.Owner(NewKey(0, tcp))
		require.True(t, ok)
		assert.Equal(t, "a", owner)
		assert.Equal(t, 2, l.size())
		l.Release(NewKey(0, tcp))
		l.Release(NewKey(70000, tcp))
		assert.Equal(t, 0, l.size())
	})
}

// drain allocates until exhaustion and returns the ports in the order handed out.
func drain(l *Ledger, r Ranges, p corev1.Protocol) []int32 {
	var got []int32
	for {
		port, ok := l.Next(r, p)
		if !ok {
			return got
		}
		got = append(got, port)
		l.Reserve(NewKey(port, p), "x")
	}
}

func TestLedgerNext(t *testing.T) {
	t.Run("Next does not reserve the port it returns", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{20000, 20099}}
		p1, ok1 := l.Next(r, tcp)
		p2, ok2 := l.Next(r, tcp)
		assert.True(t, ok1 && ok2)
		assert.Equal(t, int32(20000), p1)
		assert.Equal(t, p1, p2)
		assert.Equal(t, 0, l.size())
	})
	t.Run("Next skips reserved ports", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(20000, tcp), "a")
		l.Reserve(NewKey(20001, tcp), "b")
		l.Reserve(NewKey(20003, tcp), "c")
		assert.Equal(t, []int32{20002, 20004}, drain(l, Ranges{{20000, 20004}}, tcp))
	})
	t.Run("an empty protocol allocates TCP", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(1, tcp), "a")
		p, ok := l.Next(Ranges{{1, 2}}, "")
		require.True(t, ok)
		assert.Equal(t, int32(2), p)
	})
	t.Run("a UDP reservation does not take the TCP port", func(t *testing.T) {
		l := NewLedger()
		l.Reserve(NewKey(1, udp), "a")
		assert.Equal(t, []int32{1, 2}, drain(l, Ranges{{1, 2}}, tcp))
		assert.Equal(t, []int32{2}, drain(l, Ranges{{1, 2}}, udp))
	})
	t.Run("ranges listed out of order follow the listed order", func(t *testing.T) {
		l := NewLedger()
		r, err := ParsePortRange("30000-30001,20000")
		require.NoError(t, err)
		assert.Equal(t, []int32{30000, 30001, 20000}, drain(l, r, tcp))
	})
	t.Run("a port covered by overlapping ranges is visited once at its first occurrence", func(t *testing.T) {
		l := NewLedger()
		assert.Equal(t, []int32{10, 11, 12, 5, 6, 7, 8, 9, 13, 14, 15}, drain(l, Ranges{{10, 12}, {5, 15}, {11, 11}}, tcp))
	})
	t.Run("identical ranges listed twice are visited once", func(t *testing.T) {
		l := NewLedger()
		assert.Equal(t, []int32{1, 2}, drain(l, Ranges{{1, 2}, {1, 2}}, tcp))
	})
	t.Run("exhaustion reports not ok, and stays exhausted", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 3}}
		assert.Len(t, drain(l, r, tcp), 3)
		_, ok := l.Next(r, tcp)
		assert.False(t, ok)
	})
	t.Run("no range is exhausted at once", func(t *testing.T) {
		_, ok := NewLedger().Next(nil, tcp)
		assert.False(t, ok)
	})
	t.Run("invalid bounds in a hand-built range are clipped to 1-65535", func(t *testing.T) {
		l := NewLedger()
		assert.Equal(t, []int32{1, 2, 65535}, drain(l, Ranges{{-5, 2}, {65535, 70000}, {70001, 80000}, {9, 3}}, tcp))
	})
	t.Run("different range values keep their own order", func(t *testing.T) {
		l := NewLedger()
		a, b := Ranges{{1, 3}}, Ranges{{3, 4}}
		p, _ := l.Next(a, tcp)
		l.Reserve(NewKey(p, tcp), "x")
		p, _ = l.Next(b, tcp)
		assert.Equal(t, int32(3), p)
		l.Reserve(NewKey(p, tcp), "y")
		p, _ = l.Next(a, tcp)
		assert.Equal(t, int32(2), p)
		p, _ = l.Next(Ranges{{3, 4}, {1, 1}}, tcp)
		assert.Equal(t, int32(4), p)
	})
}

func TestLedgerRelease(t *testing.T) {
	t.Run("releasing a port before the cursor makes it the next one", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 10}}
		assert.Len(t, drain(l, r, tcp), 10)
		l.Release(NewKey(4, tcp))
		l.Release(NewKey(7, tcp))
		assert.Equal(t, []int32{4, 7}, drain(l, r, tcp))
	})
	t.Run("releasing a port after the cursor leaves the earlier free port first", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 10}}
		l.Reserve(NewKey(1, tcp), "a")
		l.Reserve(NewKey(5, tcp), "b")
		p, _ := l.Next(r, tcp)
		assert.Equal(t, int32(2), p)
		l.Release(NewKey(5, tcp))
		p, _ = l.Next(r, tcp)
		assert.Equal(t, int32(2), p)
	})
	t.Run("releasing a port at the cursor keeps the cursor there", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 3}}
		l.Reserve(NewKey(1, tcp), "a")
		p, _ := l.Next(r, tcp)
		require.Equal(t, int32(2), p)
		l.Reserve(NewKey(2, tcp), "b")
		l.Release(NewKey(2, tcp))
		p, _ = l.Next(r, tcp)
		assert.Equal(t, int32(2), p)
	})
	t.Run("releasing in an earlier overlapping range moves the cursor back to it", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{10, 12}, {5, 15}}
		for i := 0; i < 6; i++ { // 10, 11, 12, 5, 6, 7
			p, _ := l.Next(r, tcp)
			l.Reserve(NewKey(p, tcp), "x")
		}
		l.Release(NewKey(11, tcp))
		p, _ := l.Next(r, tcp)
		assert.Equal(t, int32(11), p)
	})
	t.Run("releasing after exhaustion makes that port available", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 3}}
		drain(l, r, tcp)
		l.Release(NewKey(2, tcp))
		assert.Equal(t, []int32{2}, drain(l, r, tcp))
	})
	t.Run("releasing a UDP port does not move the TCP cursor", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{1, 3}}
		drain(l, r, tcp)
		l.Reserve(NewKey(1, udp), "u")
		l.Release(NewKey(1, udp))
		_, ok := l.Next(r, tcp)
		assert.False(t, ok)
	})
	t.Run("releasing a port outside the range does not move the cursor", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{10, 11}}
		drain(l, r, tcp)
		l.Reserve(NewKey(5, tcp), "x")
		l.Release(NewKey(5, tcp))
		_, ok := l.Next(r, tcp)
		assert.False(t, ok)
	})
}

// allocateAmongClaims reserves every other port of a 20,000-port range as existing
// claims, then allocates the 10,000 ports left: the worst case for a scan from the start.
func allocateAmongClaims(l *Ledger, r Ranges, owners []string) int {
	for i := int32(0); i < 10000; i++ {
		l.Reserve(NewKey(r[0].Start+2*i, tcp), owners[i])
	}
	allocated := 0
	for i := 0; i < 10000; i++ {
		p, ok := l.Next(r, tcp)
		if !ok {
			break
		}
		l.Reserve(NewKey(p, tcp), owners[i])
		allocated++
	}
	return allocated
}

func owners(n int) []string {
	o := make([]string, n)
	for i := range o {
		o[i] = fmt.Sprintf("ns/svc-%d:abcdef0", i)
	}
	return o
}

func TestLedgerAllocationIsLinear(t *testing.T) {
	t.Run("10,000 allocations among 10,000 claims in a 20,000-port range examine each port a bounded number of times", func(t *testing.T) {
		l := NewLedger()
		r := Ranges{{20000, 39999}}
		require.Equal(t, 10000, allocateAmongClaims(l, r, owners(10000)))
		assert.Equal(t, 20000, l.size())
		// Each port is passed once, and each allocated port is looked at once more
		// when the next call finds it reserved: 20,000 + 10,000. A rescan from the
		// start would take about 10^8 steps.
		assert.LessOrEqual(t, l.steps, 30000)
		_, ok := l.Next(r, tcp)
		assert.False(t, ok, "the range is full")
	})
}

func BenchmarkLedgerAllocate10kIn20k(b *testing.B) {
	r := Ranges{{20000, 39999}}
	o := owners(10000)
	b.ReportAllocs()
	for b.Loop() {
		if n := allocateAmongClaims(NewLedger(), r, o); n != 10000 {
			b.Fatalf("allocated %d", n)
		}
	}
}

// size is how many (port, protocol) slots are reserved: what these tests check
// after each step. The planner never needs it.
func (l *Ledger) size() int { return len(l.owners) }

func TestCanonicalProtocol(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want corev1.Protocol
	}{
		{"TCP read from an object is the package's TCP", "TCP", tcp},
		{"UDP read from an object is the package's UDP", "UDP", udp},
		{"SCTP read from an object is the package's SCTP", "SCTP", sctp},
		{"an unknown protocol is kept as it is", "QUIC", "QUIC"},
		{"an empty protocol stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := corev1.Protocol([]byte(tt.in)) // a string of its own, as a decoder makes it
			got := CanonicalProtocol(read)
			assert.Equal(t, tt.want, got)
			if tt.want == tcp || tt.want == udp || tt.want == sctp {
				assert.Same(t, unsafe.StringData(string(tt.want)), unsafe.StringData(string(got)), "the constant itself")
			}
		})
	}
}
