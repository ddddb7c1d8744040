package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Document is one document of a manifest stream: its bytes and where it starts.
type Document struct {
	// Line is the 1-based line of the document's first content line (not a
	// blank line, comment or separator): where an editor should jump.
	Line int
	// Offset is the 1-based line of Data's first byte, so a line N inside Data
	// is line Offset+N-1 of the file.
	Offset int
	Data   []byte
	// JSON is set when the document is one JSON value (read as JSON, not YAML).
	JSON bool
}

// SyntaxError is input that cannot be split or parsed, at a line of a file.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Split cuts a manifest stream into documents. A stream whose first content is
// "{" or "[" is read as a sequence of JSON values (kubectl accepts concatenated
// objects); otherwise it is YAML cut at "---" lines, as Kubernetes' YAMLReader
// does: only spaces or a comment may follow the separator, and documents with no
// content (blank lines and comments) are dropped.
func Split(data []byte) ([]Document, error) {
	if isJSON(data) {
		return splitJSON(data)
	}
	return splitYAML(data)
}

func isJSON(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			continue
		}
		return t[0] == '{' || t[0] == '['
	}
	return false
}

func splitYAML(data []byte) ([]Document, error) {
	var docs []Document
	lines := bytes.SplitAfter(data, []byte("\n"))
	start, first := 1, 0 // line of the current document's first byte; of its first content line
	var buf bytes.Buffer
	flush := func() {
		if first != 0 {
			docs = append(docs, Document{Line: first, Offset: start, Data: bytes.Clone(buf.Bytes())})
		}
		buf.Reset()
		first = 0
	}
	for i, line := range lines {
		n := i + 1
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok {
			t := bytes.TrimSpace(rest)
			if len(t) > 0 && t[0] != '#' {
				return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("only a comment may follow the document separator \"---\", found %q", t)}
			}
			flush()
			start = n + 1
			continue
		}
		if first == 0 && isContent(line) {
			first = n
		}
		buf.Write(line)
	}
	flush()
	return docs, nil
}

// isContent reports whether a YAML line holds more than blanks or a comment.
func isContent(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) > 0 && t[0] != '#'
}

func splitJSON(data []byte) ([]Document, error) {
	var docs []Document
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		begin := skipSpace(data, dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			at := dec.InputOffset()
			var se *json.SyntaxError
			if ok := asSyntax(err, &se); ok {
				at = se.Offset
			}
			return nil, &SyntaxError{Line: lineAt(data, at), Msg: "invalid JSON: " + err.Error()}
		}
		line := lineAt(data, begin)
		docs = append(docs, Document{Line: line, Offset: line, Data: bytes.Clone(raw), JSON: true})
	}
}

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n':
			off++
		default:
			return off
		}
	}
	return off
}

// lineAt is the 1-based line of byte offset off.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
