package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	const key = "app/mux"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestController(t, &stubExecutor{}, web)
			a := apply.Applied{Resource: "services", Namespace: "app", Name: "web", ResourceVersion: tt.rv}
			c.unseen.remember(key, []apply.Applied{a})
			c.unseen.byKey[key]["services/app/web"] = unseenWrite{Applied: a, at: time.Now().Add(-tt.age)}
			require.NoError(t, c.catchUp(t.Context(), c.log, "app/other"), "another item's pass does not wait for them")
			err := c.catchUp(t.Context(), c.log, key)
			if tt.behind {
				assert.EqualError(t, err, errCacheBehind.Error()+": 1 object(s)")
				assert.True(t, errors.Is(err, errCacheBehind))
			} else {
				assert.NoError(t, err)
			}
			_, kept := c.unseen.byKey[key]["services/app/web"]
			assert.Equal(t, !tt.forgotten, kept)
		})
	}
}

func TestAPatchedObjectDeletedByOthersDoesNotHoldItsMuxUp(t *testing.T) {
	wait := cacheCatchUp
	cacheCatchUp = 20 * time.Millisecond
	t.Cleanup(func() { cacheCatchUp = wait })
	c, _ := newTestController(t, &stubExecutor{})
	const key = "app/mux"
	c.unseen.remember(key, []apply.Applied{
		{Resource: "services", Namespace: "gone", Name: "web", ResourceVersion: "9"},
		{Resource: "configmaps", Namespace: "gone", Name: "state", ResourceVersion: "8", Created: true},
	})
	err := c.catchUp(t.Context(), c.log, key)
	assert.EqualError(t, err, errCacheBehind.Error()+": 1 object(s)", "only the create the cache has not shown is waited for")
	assert.Equal(t, []apply.Applied{{Resource: "configmaps", Namespace: "gone", Name: "state", ResourceVersion: "8", Created: true}},
		c.unseen.pending(key))
}
