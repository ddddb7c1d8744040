package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestACompactStateIsTheSameDocumentWithoutItsWhitespace(t *testing.T) {
	doc := Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}}
	for i := range 40 {
		src := SourceStatic
		if i%2 == 1 {
			src = SourceAuto
		}
		doc.Claims = append(doc.Claims, Claim{Namespace: "app", Service: fmt.Sprintf("svc-%02d", i), PortName: "h \u00e9 \"x\"",
			Protocol: "TCP", MuxPort: int32(20000 + i), ChannelPort: 8080, Source: src})
	}
	indented := doc.Encode()
	compact := doc.EncodeCompact()
	assert.Equal(t, compactJSON(t, indented), compact, "exactly Encode's output without its whitespace")
	assert.NotContains(t, compact, "\n")
	assert.True(t, strings.HasPrefix(compact, `{"allocations":[{"channelPort":8080,"muxPort":20001,"namespace":"app","port":20001,"portName":"h \u00e9 \"x\""`),
		"Python's separators=(',', ':') layout, escapes kept as they were: %.120s", compact)
	assert.Less(t, len(compact)*10, len(indented)*7, "under 70%% of the bytes: %d of %d", len(compact), len(indented))
	back, err := Decode(compact)
	require.NoError(t, err)
	again, err := Decode(indented)
	require.NoError(t, err)
	assert.Equal(t, again, back, "both forms decode to the same document")
}

func TestACompactEmptyStateKeepsPythonsEmptyLists(t *testing.T) {
	doc := Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}}
	assert.Equal(t, `{"allocations":[],"mux":{"name":"mux","namespace":"svc-mux"},"portClaims":[],"schemaVersion":1}`, doc.EncodeCompact())
}

// compactJSON is encoded as encoding/json compacts it: the reference EncodeCompact
// is held to.
func compactJSON(t testing.TB, encoded string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(encoded)); err != nil {
		t.Fatalf("Encode output is not JSON: %v", err)
	}
	return b.String()
}

func TestEncodeWithinWritesIndentedExactlyWhenThatFits(t *testing.T) {
	escaped := Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}}
	for i := range 30 {
		// Escapes make Encode longer than the size it is grown to: the upper bound
		// alone would pick the wrong form.
		escaped.Claims = append(escaped.Claims, Claim{Namespace: "app", Service: fmt.Sprintf("svc-%02d", i),
			PortName: "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", MuxPort: int32(20000 + i)})
	}
	plain := Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}}
	for i := range 30 {
		plain.Claims = append(plain.Claims, Claim{Namespace: "app", Service: fmt.Sprintf("svc-%02d", 29-i), PortName: "http",
			Protocol: "TCP", MuxPort: int32(20000 + i), ChannelPort: int32(i % 2 * 8080), Source: []string{SourceAuto, SourceStatic}[i%2]})
	}
	for name, doc := range map[string]Document{"plain unsorted names": plain, "names that need escapes": escaped} {
		indented, compact := doc.Encode(), doc.EncodeCompact()
		require.Less(t, len(compact), len(indented))
		cases := []struct {
			limit int
			want  string
		}{
			{len(indented) + 1000, indented},
			{len(indented), indented},
			{len(indented) - 1, compact},
			{len(compact), compact},
			{len(compact) - 1, compact}, // does not fit either: the caller tells the user
		}
		for _, c := range cases {
			assert.Equal(t, c.want == indented, doc.EncodeWithin(c.limit) == indented, "%s, limit %d (indented %d, compact %d)",
				name, c.limit, len(indented), len(compact))
			assert.Equal(t, c.want, doc.EncodeWithin(c.limit))
		}
		assert.Equal(t, len(indented)-len(compact), Document{Mux: doc.Mux, Claims: normalizeClaims(doc.Claims)}.whitespace())
	}
}
