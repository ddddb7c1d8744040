package state

import (
	"testing"
)

// Seeds live in testdata/fuzz/FuzzDecode/ and run with every `go test`.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		doc, err := Decode(raw)
		if err != nil {
			return
		}
		encoded := doc.Encode()
		for i := 0; i < len(encoded); i++ {
			if encoded[i] > 0x7e || (encoded[i] < ' ' && encoded[i] != '\n') {
				t.Fatalf("byte %#x at %d: Python's ensure_ascii output is printable ASCII", encoded[i], i)
			}
		}
		again, err := Decode(encoded)
		if err != nil {
			t.Fatalf("Encode output does not decode: %v\n%s", err, encoded)
		}
		if !again.Equal(doc) || again.Migrated {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", doc, again)
		}
		if again.Encode() != encoded {
			t.Fatalf("Encode is not stable:\n%s\n%s", encoded, again.Encode())
		}
		if got, want := doc.EncodeCompact(), compactJSON(t, encoded); got != want {
			t.Fatalf("EncodeCompact is not Encode without whitespace:\n%s\n%s", got, want)
		}
		if lost := len(encoded) - len(compactJSON(t, encoded)); lost != doc.whitespace() {
			t.Fatalf("whitespace counts %d bytes, Encode has %d more than its compact form", doc.whitespace(), lost)
		}
	})
}
