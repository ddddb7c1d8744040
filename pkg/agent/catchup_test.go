package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/nowakeai/svcmux/pkg/apply"
)

func TestAPassWaitsForTheAgentsOwnUnseenWritesAndDoesNotPlanWithoutThem(t *testing.T) {
	wait := cacheCatchUp
	cacheCatchUp = 20 * time.Millisecond
	t.Cleanup(func() { cacheCatchUp = wait })
	web := plainService("app", "web")
	web.ResourceVersion = "5" // what the cache shows
	tests := []struct {
		name      string
		rv        string
		age       time.Duration
		behind    bool // the pass is refused
		forgotten bool // the write is no longer waited for
	}{
		{"a write the cache shows lets the pass run and is forgotten", "5", 0, false, true},
		{"a write older than the cache's version counts as shown", "4", 0, false, true},
		{"a recent write the cache does not show refuses the pass and is kept", "9", 0, true, false},
		{"a write that has not shown for a minute is given up", "9", 2 * time.Minute, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestController(t, &stubExecutor{}, web)
			a := apply.Applied{Resource: "services", Namespace: "app", Name: "web", ResourceVersion: tt.rv}
			c.remember([]apply.Applied{a})
			c.unseen["services/app/web"] = unseenWrite{Applied: a, at: time.Now().Add(-tt.age)}
			err := c.catchUp(t.Context(), c.log)
			if tt.behind {
				assert.EqualError(t, err, errCacheBehind.Error()+": 1 object(s)")
				assert.True(t, errors.Is(err, errCacheBehind))
			} else {
				assert.NoError(t, err)
			}
			_, kept := c.unseen["services/app/web"]
			assert.Equal(t, !tt.forgotten, kept)
		})
	}
}
