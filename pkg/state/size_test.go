package state

import (
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
	compact := Compact(indented)
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

func TestCompactLeavesWhatIsNotJSONAsItIs(t *testing.T) {
	assert.Equal(t, "{not json", Compact("{not json"))
}
