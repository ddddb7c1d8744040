package state

import (
	"bytes"
	"encoding/json"
)

// ConfigMapLimit is what one ConfigMap holds: the API server refuses a ConfigMap
// whose data and binaryData keys and values add up to more than 1 MiB (the limit it
// shares with Secrets).
const ConfigMapLimit = 1 << 20

// Compact is encoded (Encode's output) without the whitespace between tokens, as
// json.dumps(doc, sort_keys=True, separators=(",", ":")) writes it: the same
// document for every JSON reader, the Python controller's included, in about two
// thirds of the bytes (a claim's key names weigh more than its indentation).
// A mux whose indented state outgrows a ConfigMap is written so.
func Compact(encoded string) string {
	var b bytes.Buffer
	b.Grow(len(encoded) / 2)
	if err := json.Compact(&b, []byte(encoded)); err != nil {
		return encoded // not JSON: left as it is (Encode always writes JSON)
	}
	return b.String()
}
