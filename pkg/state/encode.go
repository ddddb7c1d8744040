package state

import (
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/nowakeai/svcmux/pkg/ports"
)

// Encode returns the bytes the Python controller writes for the same content:
// json.dumps(doc, indent=2, sort_keys=True). encoding/json cannot be used: it escapes
// <, > and &, writes non-ASCII as UTF-8 and indents empty lists differently, and any
// byte of difference would make a takeover rewrite every state ConfigMap.
//
// The layout is fixed, so it is written out directly: keys in sorted order, two-space
// indent, "," at line ends, ": " after keys, [] for an empty list, no trailing newline.
// channelPort is left out when unknown (0), as the Python controller leaves it out of
// a migrated claim it has not re-recorded.
//
// A cold pass of a large mux encodes tens of thousands of claims, so the output is
// sized once and written without per-field strings, and claims that are already
// normalised (the planner builds them so) are not copied and sorted again.
func (d Document) Encode() string { return d.normalized().encode(&indented) }

// EncodeCompact is Encode without the whitespace between tokens, as
// json.dumps(doc, sort_keys=True, separators=(",", ":")) writes it: the same
// document for every JSON reader, the Python controller's included, in about two
// thirds of the bytes (a claim's key names weigh more than its indentation). A mux
// whose indented state outgrows a ConfigMap is written so. It is written directly
// rather than by compacting Encode's output: re-scanning 10,000 claims' JSON cost a
// cold pass of that mux a third of its time.
func (d Document) EncodeCompact() string { return d.normalized().encode(&compact) }

// normalized is d with its claims as normalizeClaims returns them, copied only when
// they are not so already (the planner builds them so).
func (d Document) normalized() Document {
	if !isNormalized(d.Claims) {
		d.Claims = normalizeClaims(d.Claims)
	}
	return d
}

// encode writes d, whose claims are normalised, in layout l.
func (d Document) encode(l *layout) string {
	claims := d.Claims
	auto := 0
	for i := range claims {
		if claims[i].Source == SourceAuto {
			auto++
		}
	}
	size := encodedSize(d, claims)
	if l == &compact {
		size -= d.whitespace() // sized for what is written: a compact state is over 1 MiB
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(l.frag[docOpen])
	writeClaims(&b, l, claims, auto, true)
	b.WriteString(l.frag[muxName])
	writePyString(&b, d.Mux.Name)
	b.WriteString(l.frag[muxNamespace])
	writePyString(&b, d.Mux.Namespace)
	b.WriteString(l.frag[portClaims])
	writeClaims(&b, l, claims, len(claims), false)
	b.WriteString(l.frag[docClose])
	return b.String()
}

// The fixed pieces of a state document, between its values.
const (
	docOpen = iota
	muxName
	muxNamespace
	portClaims
	docClose
	listOpen
	listSep
	listClose
	claimOpen
	channelPort
	muxPortKey
	namespaceKey
	portKey
	portNameKey
	protocolKey
	serviceKey
	sourceKey
	claimClose
	fragments
)

// layout is the text of every fixed piece in one of the two forms.
type layout struct{ frag [fragments]string }

// indented is json.dumps(indent=2, sort_keys=True); compact is the same pieces
// without their spaces and newlines (no key holds either).
var indented = layout{frag: [fragments]string{
	docOpen:      "{\n  \"allocations\": ",
	muxName:      ",\n  \"mux\": {\n    \"name\": ",
	muxNamespace: ",\n    \"namespace\": ",
	portClaims:   "\n  },\n  \"portClaims\": ",
	docClose:     ",\n  \"schemaVersion\": 1\n}",
	listOpen:     "[\n",
	listSep:      ",\n",
	listClose:    "\n  ]",
	claimOpen:    "    {\n",
	channelPort:  "      \"channelPort\": ",
	muxPortKey:   "      \"muxPort\": ",
	namespaceKey: ",\n      \"namespace\": ",
	portKey:      ",\n      \"port\": ",
	portNameKey:  ",\n      \"portName\": ",
	protocolKey:  ",\n      \"protocol\": ",
	serviceKey:   ",\n      \"service\": ",
	sourceKey:    ",\n      \"source\": ",
	claimClose:   "\n    }",
}}

var compact = func() layout {
	var l layout
	for i, f := range indented.frag {
		l.frag[i] = strings.NewReplacer(" ", "", "\n", "").Replace(f)
	}
	return l
}()

// claimBytes is the fixed part of one encoded claim with every field present (keys,
// indentation, quotes, separators) plus room for its numbers.
const claimBytes = 190 + 3*5

// encodedSize is a close upper bound of the encoded length when nothing needs
// escaping; escapes only make the builder grow once more.
func encodedSize(d Document, claims []Claim) int {
	n := 120 + len(d.Mux.Name) + len(d.Mux.Namespace)
	for i := range claims {
		c := &claims[i]
		one := claimBytes + len(c.Namespace) + len(c.Service) + len(c.PortName) + len(c.Protocol) + len(c.Source)
		n += one
		if c.Source == SourceAuto {
			n += one
		}
	}
	return n
}

// isNormalized reports whether claims are what normalizeClaims would return: defaults
// applied and strictly ascending by Key (so no Key twice). It builds no key strings.
func isNormalized(claims []Claim) bool {
	for i := range claims {
		c := &claims[i]
		if c.Protocol == "" || c.Source == "" {
			return false
		}
		if i > 0 && compareKeys(&claims[i-1], c) >= 0 {
			return false
		}
	}
	return true
}

// compareKeys compares a.Key() with b.Key() byte by byte without building them.
func compareKeys(a, b *Claim) int {
	x := [...]string{string(ports.NormalProtocol(a.Protocol)), ":", a.Namespace, ":", a.Service, ":", a.PortName}
	y := [...]string{string(ports.NormalProtocol(b.Protocol)), ":", b.Namespace, ":", b.Service, ":", b.PortName}
	return compareJoined(x[:], y[:])
}

// compareJoined is strings.Compare(strings.Join(x, ""), strings.Join(y, "")).
func compareJoined(x, y []string) int {
	i, j := 0, 0 // part indexes
	var xs, ys string
	for {
		for xs == "" && i < len(x) {
			xs, i = x[i], i+1
		}
		for ys == "" && j < len(y) {
			ys, j = y[j], j+1
		}
		switch {
		case xs == "" && ys == "":
			return 0
		case xs == "":
			return -1
		case ys == "":
			return 1
		}
		n := min(len(xs), len(ys))
		if c := strings.Compare(xs[:n], ys[:n]); c != 0 {
			return c
		}
		xs, ys = xs[n:], ys[n:]
	}
}

// writeClaims writes a list at indent level 1 (its items at level 2, fields at 3):
// the n claims of the list, only the auto ones when autoOnly.
func writeClaims(b *strings.Builder, l *layout, claims []Claim, n int, autoOnly bool) {
	if n == 0 {
		b.WriteString("[]")
		return
	}
	b.WriteString(l.frag[listOpen])
	item := make([]byte, 0, 512) // one claim, written in one piece
	first := true
	for i := range claims {
		c := &claims[i]
		if autoOnly && c.Source != SourceAuto {
			continue
		}
		item = item[:0]
		if !first {
			item = append(item, l.frag[listSep]...)
		}
		first = false
		b.Write(appendClaim(item, l, c))
	}
	b.WriteString(l.frag[listClose])
}

// appendClaim appends one list item. Field order is Python's sort_keys order.
func appendClaim(dst []byte, l *layout, c *Claim) []byte {
	dst = append(dst, l.frag[claimOpen]...)
	if c.ChannelPort != 0 {
		dst = append(dst, l.frag[channelPort]...)
		dst = strconv.AppendInt(dst, int64(c.ChannelPort), 10)
		dst = append(dst, l.frag[listSep]...)
	}
	dst = append(dst, l.frag[muxPortKey]...)
	dst = strconv.AppendInt(dst, int64(c.MuxPort), 10)
	dst = append(dst, l.frag[namespaceKey]...)
	dst = appendPyString(dst, c.Namespace)
	dst = append(dst, l.frag[portKey]...)
	dst = strconv.AppendInt(dst, int64(c.MuxPort), 10)
	dst = append(dst, l.frag[portNameKey]...)
	dst = appendPyString(dst, c.PortName)
	dst = append(dst, l.frag[protocolKey]...)
	dst = appendPyString(dst, string(c.Protocol))
	dst = append(dst, l.frag[serviceKey]...)
	dst = appendPyString(dst, c.Service)
	dst = append(dst, l.frag[sourceKey]...)
	dst = appendPyString(dst, c.Source)
	return append(dst, l.frag[claimClose]...)
}

// writeInt and writeString write one field that is followed by another.
func writeInt(b *strings.Builder, key string, v int32) {
	writeKey(b, key)
	var digits [12]byte
	b.Write(strconv.AppendInt(digits[:0], int64(v), 10))
	b.WriteString(",\n")
}

func writeString(b *strings.Builder, key, v string) {
	writeKey(b, key)
	writePyString(b, v)
	b.WriteString(",\n")
}

// writeKey writes `      "key": ` (keys are plain ASCII).
func writeKey(b *strings.Builder, key string) {
	b.WriteString("      \"")
	b.WriteString(key)
	b.WriteString("\": ")
}

// writePyString quotes s as Python's json.dumps with ensure_ascii=True does
// (appendPyString).
func writePyString(b *strings.Builder, s string) {
	if plainASCII(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	b.Write(appendPyString(nil, s))
}

// appendPyString appends s quoted as Python's json.dumps with ensure_ascii=True
// does: only printable ASCII (space to '~') is written as is, apart from '"' and
// '\'; the usual short escapes for \n \r \t \b \f; everything else as lowercase
// \uXXXX, with a surrogate pair above U+FFFF. '/' is not escaped.
func appendPyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if plainASCII(s) {
		return append(append(dst, s...), '"') // names and protocols almost always are
	}
	const hex = "0123456789abcdef"
	u := func(r rune) {
		dst = append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, `\"`...)
		case r == '\\':
			dst = append(dst, `\\`...)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r >= ' ' && r <= '~':
			dst = append(dst, byte(r))
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			u(hi)
			u(lo)
		default:
			// Invalid UTF-8 arrives here as utf8.RuneError (U+FFFD), as decoding
			// JSON in Go would also have replaced it.
			u(r)
		}
	}
	return append(dst, '"')
}

// plainASCII reports whether s is printable ASCII without '"' or '\'.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
