package apply

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
)

var errStale = errors.New("lease stale")

// guardAfter answers nil for its first ok calls and errStale from then on.
func guardAfter(ok int) func() error {
	calls := 0
	return func() error {
		calls++
		if calls > ok {
			return errStale
		}
		return nil
	}
}

func TestAGuardThatFailsStopsTheWritesItIsAskedBefore(t *testing.T) {
	// With one worker the guard is asked in a fixed order: before the mux stage,
	// before the mux write, before the status stage, before ch-0, before ch-1, ...
	// (The status stage, because it waits for the mux; the channel stage does not.)
	writes := []Write{svcPatch(StageMux, KindMux, "svc-mux", "mux"),
		svcPatch(StageChannelStatus, KindChannel, "app", "ch-0"), svcPatch(StageChannelStatus, KindChannel, "app", "ch-1")}
	objs := []runtime.Object{service("svc-mux", "mux"), service("app", "ch-0"), service("app", "ch-1")}
	tests := []struct {
		name       string
		guard      func() error
		seen       []string
		writes     map[Kind]int
		failed     Stage
		wantErr    string
		wrapsStale bool
	}{
		{name: "a stale guard before the first stage writes nothing", guard: guardAfter(0),
			seen: nil, writes: map[Kind]int{}, failed: StageMux, wantErr: "stage 1 skipped: lease stale", wrapsStale: true},
		{name: "a guard going stale between stages skips the later stage", guard: guardAfter(2),
			seen: []string{"patch services svc-mux/mux"}, writes: map[Kind]int{KindMux: 1}, failed: StageChannelStatus,
			wantErr: "stage 6 skipped: lease stale", wrapsStale: true},
		{name: "a guard going stale inside a stage stops its remaining writes", guard: guardAfter(4),
			seen: []string{"patch services svc-mux/mux", "patch services app/ch-0"}, writes: map[Kind]int{KindMux: 1, KindChannel: 1},
			failed: StageChannelStatus, wantErr: "patch services app/ch-1: lease stale", wrapsStale: true},
		{name: "a guard that stays fresh lets every write through", guard: guardAfter(100),
			seen:   []string{"patch services svc-mux/mux", "patch services app/ch-0", "patch services app/ch-1"},
			writes: map[Kind]int{KindMux: 1, KindChannel: 2}, failed: -1},
		{name: "no guard lets every write through", guard: nil,
			seen:   []string{"patch services svc-mux/mux", "patch services app/ch-0", "patch services app/ch-1"},
			writes: map[Kind]int{KindMux: 1, KindChannel: 2}, failed: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			e := &Executor{Client: newClient(rec, objs...), Workers: 1, Guard: tt.guard}
			res, err := e.Run(context.Background(), writes)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.wrapsStale, errors.Is(err, errStale))
			assert.Equal(t, tt.seen, rec.seen)
			assert.Equal(t, tt.writes, res.Writes)
			assert.Equal(t, tt.failed, res.Failed)
		})
	}
}
