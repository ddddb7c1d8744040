package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fakeClock is a settable clock for the guard.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestTheLeaseGuardAllowsWritesOnlyWithinTheRenewDeadlineOfTheLastRenewal(t *testing.T) {
	tests := []struct {
		name    string
		renewed time.Duration // before now; <0: never renewed
		want    string        // "" : nil
	}{
		{"a replica that never held the lease may not write", -1,
			"leader lease not renewed within the renew deadline: this replica has not held the lease"},
		{"a lease renewed just now allows writes", 0, ""},
		{"a lease renewed just inside the deadline allows writes", 10*time.Second - time.Millisecond, ""},
		{"a lease renewed exactly the deadline ago is stale", 10 * time.Second,
			"leader lease not renewed within the renew deadline: last renewed 10s ago, renew deadline 10s"},
		{"a leader frozen past its lease is stale", 31 * time.Second,
			"leader lease not renewed within the renew deadline: last renewed 31s ago, renew deadline 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: epoch}
			g := newLeaseGuard(clock.now, 10*time.Second)
			if tt.renewed >= 0 {
				g.stamp(epoch.Add(-tt.renewed))
			}
			err := g.Check()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, errLeaseStale)
		})
	}
}

func TestALaterStampNeverMovesTheRenewalBack(t *testing.T) {
	clock := &fakeClock{t: epoch}
	g := newLeaseGuard(clock.now, 10*time.Second)
	g.stamp(epoch)
	g.stamp(epoch.Add(-20 * time.Second)) // a slow, older renewal answered late
	assert.NoError(t, g.Check())
}

// fakeLock answers Create and Update with err, taking took on the guard's clock.
type fakeLock struct {
	resourcelock.Interface
	clock *fakeClock
	took  time.Duration
	err   error
}

func (l *fakeLock) Create(context.Context, resourcelock.LeaderElectionRecord) error {
	l.clock.t = l.clock.t.Add(l.took)
	return l.err
}

func (l *fakeLock) Update(context.Context, resourcelock.LeaderElectionRecord) error {
	l.clock.t = l.clock.t.Add(l.took)
	return l.err
}

func (l *fakeLock) Identity() string { return "me" }

func TestTheLeaseLockStampsOnlyThisReplicasSuccessfulRenewalsAtTheirSendTime(t *testing.T) {
	tests := []struct {
		name    string
		create  bool
		holder  string
		err     error
		renewed time.Time // zero: not stamped
	}{
		{"an acquisition is stamped", true, "me", nil, epoch},
		{"a renewal is stamped with the time it was sent, not answered", false, "me", nil, epoch},
		{"a refused renewal is not stamped", false, "me", errors.New("conflict"), time.Time{}},
		{"a release names no holder and is not stamped", false, "", nil, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: epoch}
			g := newLeaseGuard(clock.now, 10*time.Second)
			lock := stampingLock{guard: g, Interface: &fakeLock{clock: clock, took: 4 * time.Second, err: tt.err}}
			rec := resourcelock.LeaderElectionRecord{HolderIdentity: tt.holder}
			var err error
			if tt.create {
				err = lock.Create(t.Context(), rec)
			} else {
				err = lock.Update(t.Context(), rec)
			}
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.renewed, g.renewed)
		})
	}
}

func TestTheGuardedTransportRefusesWritesButNeverReadsOrTheLease(t *testing.T) {
	tests := []struct {
		name, method, path string
		stale, sent        bool
	}{
		{"a read goes out with a stale lease", http.MethodGet, "/api/v1/services", true, true},
		{"a watch goes out with a stale lease", http.MethodGet, "/api/v1/services?watch=true", true, true},
		{"a Service patch is refused with a stale lease", http.MethodPatch, "/api/v1/namespaces/a/services/mux", true, false},
		{"an Event is refused with a stale lease", http.MethodPost, "/api/v1/namespaces/a/events", true, false},
		{"a ConfigMap create is refused with a stale lease", http.MethodPost, "/api/v1/namespaces/a/configmaps", true, false},
		{"the Lease's own renewal goes out with a stale lease", http.MethodPut,
			"/apis/coordination.k8s.io/v1/namespaces/a/leases/svcmux-agent", true, true},
		{"a Service patch goes out with a fresh lease", http.MethodPatch, "/api/v1/namespaces/a/services/mux", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := false
			next := roundTripFunc(func(*http.Request) (*http.Response, error) {
				sent = true
				return &http.Response{StatusCode: http.StatusOK}, nil
			})
			check := func() error { return nil }
			if tt.stale {
				check = func() error { return errLeaseStale }
			}
			_, err := guardedTransport{next: next, check: check}.RoundTrip(httptest.NewRequest(tt.method, "https://api"+tt.path, nil))
			assert.Equal(t, tt.sent, sent)
			if tt.sent {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errLeaseStale)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
