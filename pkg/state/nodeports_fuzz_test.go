package state

import "testing"

// Seeds live in testdata/fuzz/FuzzDecodeNodePorts/ and run with every `go test`.
// Whatever decodes must encode to printable ASCII that decodes to the same memory
// and encodes again to the same bytes: the agent compares memories, and a memory
// that changed on a round trip would be rewritten on every pass.
func FuzzDecodeNodePorts(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := DecodeNodePorts(raw)
		if err != nil {
			return
		}
		encoded := EncodeNodePorts(m)
		for i := 0; i < len(encoded); i++ {
			if encoded[i] > 0x7e || (encoded[i] < ' ' && encoded[i] != '\n') {
				t.Fatalf("byte %#x at %d: the encoding is printable ASCII", encoded[i], i)
			}
		}
		again, err := DecodeNodePorts(encoded)
		if err != nil {
			t.Fatalf("EncodeNodePorts output does not decode: %v\n%s", err, encoded)
		}
		if !again.Equal(m) {
			t.Fatalf("round trip changed the memory:\n%+v\n%+v", m, again)
		}
		if EncodeNodePorts(again) != encoded {
			t.Fatalf("EncodeNodePorts is not stable:\n%s\n%s", encoded, EncodeNodePorts(again))
		}
	})
}
