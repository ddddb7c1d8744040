package state

import (
	"strconv"
	"strings"
	"unicode/utf16"
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
func (d Document) Encode() string {
	claims := normalizeClaims(d.Claims)
	var auto []Claim
	for _, c := range claims {
		if c.Source == SourceAuto {
			auto = append(auto, c)
		}
	}
	var b strings.Builder
	b.WriteString("{\n  \"allocations\": ")
	writeClaims(&b, auto)
	b.WriteString(",\n  \"mux\": {\n    \"name\": ")
	writePyString(&b, d.Mux.Name)
	b.WriteString(",\n    \"namespace\": ")
	writePyString(&b, d.Mux.Namespace)
	b.WriteString("\n  },\n  \"portClaims\": ")
	writeClaims(&b, claims)
	b.WriteString(",\n  \"schemaVersion\": 1\n}")
	return b.String()
}

// writeClaims writes a list at indent level 1 (its items at level 2, fields at 3).
func writeClaims(b *strings.Builder, claims []Claim) {
	if len(claims) == 0 {
		b.WriteString("[]")
		return
	}
	b.WriteString("[\n")
	for i, c := range claims {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("    {\n")
		// Field order is Python's sort_keys order.
		if c.ChannelPort != 0 {
			writeInt(b, "channelPort", c.ChannelPort)
		}
		writeInt(b, "muxPort", c.MuxPort)
		writeString(b, "namespace", c.Namespace)
		writeInt(b, "port", c.MuxPort)
		writeString(b, "portName", c.PortName)
		writeString(b, "protocol", string(c.Protocol))
		writeString(b, "service", c.Service)
		b.WriteString("      \"source\": ")
		writePyString(b, c.Source)
		b.WriteString("\n    }")
	}
	b.WriteString("\n  ]")
}

// writeInt and writeString write one field that is followed by another.
func writeInt(b *strings.Builder, key string, v int32) {
	b.WriteString("      \"" + key + "\": ")
	b.WriteString(strconv.Itoa(int(v)))
	b.WriteString(",\n")
}

func writeString(b *strings.Builder, key, v string) {
	b.WriteString("      \"" + key + "\": ")
	writePyString(b, v)
	b.WriteString(",\n")
}

// writePyString quotes s as Python's json.dumps with ensure_ascii=True does: only
// printable ASCII (space to '~') is written as is, apart from '"' and '\'; the usual
// short escapes for \n \r \t \b \f; everything else as lowercase \uXXXX, with a
// surrogate pair above U+FFFF. '/' is not escaped.
func writePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
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
	b.WriteByte('"')
}
