package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// A claim takes about 320 bytes in the Python controller's indented format, an
// automatic one twice (allocations and portClaims): benchWorld's channels (one static
// and one automatic port each) need about 645 bytes apiece.
func TestAStateThatOutgrowsAConfigMapIsWrittenCompactAndPastThatNamesTheFix(t *testing.T) {
	tests := []struct {
		name     string
		channels int
		other    int // bytes of another key in the live state ConfigMap
		compact  bool
		tooLarge bool
	}{
		{"a state that fits is written indented, as the Python controller writes it", 1000, 0, false, false},
		{"a state over 1 MiB indented but not compact is written compact", 1800, 0, true, false},
		{"another key of the ConfigMap counts against the limit", 1000, 500_000, true, false},
		{"a state over 1 MiB even compact is still planned, with a warning naming the fix", 3500, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := benchWorld(tt.channels, false)
			if tt.other > 0 {
				s.StateConfigMap = stateOf()
				s.StateConfigMap.Data["notes"] = strings.Repeat("x", tt.other)
			}
			p := compute(t, s)
			require.True(t, p.State.Write)
			assert.Equal(t, tt.compact, !strings.Contains(p.State.Encoded, "\n"), "compact: %.60s", p.State.Encoded)
			back, err := state.Decode(p.State.Encoded)
			require.NoError(t, err)
			assert.Equal(t, p.State.Document.Claims, back.Claims, "what is written is the planned document")
			warned := events(p, "svc-mux/mux", api.ReasonPortAllocationStoreTooLarge)
			if !tt.tooLarge {
				assert.LessOrEqual(t, len(p.State.Encoded)+len(api.StateKey)+tt.other+len("notes"), state.ConfigMapLimit)
				assert.Empty(t, warned)
				assert.Empty(t, p.State.Problem)
				return
			}
			require.Len(t, warned, 1)
			assert.Equal(t, fmt.Sprintf("mux svc-mux/mux: the claims of its %d ports take %d bytes in state ConfigMap svc-mux/%s, "+
				"more than the %d a ConfigMap holds beside its other keys; the mux takes no change until they fit: move channels to another mux",
				2*tt.channels, len(p.State.Encoded), p.State.Name, state.ConfigMapLimit-len(api.StateKey)), warned[0].Message)
			assert.Equal(t, warned[0].Message, p.State.Problem)
		})
	}
}
