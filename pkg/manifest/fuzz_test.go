package manifest

import (
	"bytes"
	"testing"
)

// FuzzSplit holds the splitter to what check's file:line output relies on: it
// never panics, documents come in order, each YAML one on a line of its own, each starts on a content line of the
// input within its own span, and its bytes are the input's.
func FuzzSplit(f *testing.F) {
	f.Add([]byte(twoServices))
	f.Add([]byte("{\"a\":1}\n{\"b\":\n2}"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("a: 1\r\n---\r\nb: 2\r\n"))
	f.Add([]byte("--- # c\nkind: x\n...\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Split(data)
		if err != nil {
			return
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		prev := 0
		for _, d := range docs {
			// JSON values may share a line ({}{}); YAML documents never do.
			if d.Line < prev || (!d.JSON && d.Line == prev) || d.Line < d.Offset || d.Line > len(lines) {
				t.Fatalf("document at line %d (offset %d) after line %d in %d lines", d.Line, d.Offset, prev, len(lines))
			}
			prev = d.Line
			if !bytes.Contains(data, d.Data) {
				t.Fatalf("document %q is not part of the input", d.Data)
			}
			first := bytes.TrimSpace(lines[d.Line-1])
			if len(first) == 0 || (!d.JSON && first[0] == '#') {
				t.Fatalf("document at line %d starts on %q, not content", d.Line, first)
			}
		}
	})
}

// FuzzParse holds Parse to never panicking and to naming the file in every
// error, with a line inside the input when it gives one.
func FuzzParse(f *testing.F) {
	f.Add([]byte(twoServices))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f", data)
		if err == nil {
			return
		}
		e, ok := err.(*Error)
		if !ok || e.File != "f" {
			t.Fatalf("error %v is not a manifest.Error naming the file", err)
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; e.Line < 0 || e.Line > lines {
			t.Fatalf("error at line %d of %d: %v", e.Line, lines, err)
		}
	})
}
