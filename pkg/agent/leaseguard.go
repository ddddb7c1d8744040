package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// errLeaseStale is the error of every write refused because this replica's
// lease was not renewed within the renew deadline.
var errLeaseStale = errors.New("leader lease not renewed within the renew deadline")

// leaseGuard tells whether this replica may still write. The election library
// alone does not promise that: a leader that was frozen (SIGSTOP, a stalled VM,
// a long GC pause) learns it lost the lease only on its next renew, and until
// then its workers would go on writing beside the new leader. So every write
// first asks the guard, which answers by the local clock: the lease must have
// been renewed less than RenewDeadline ago.
//
// A renewal is stamped with the time its request was sent, not answered: the
// API server stores the renewal after that instant, and the other replicas
// count LeaseDuration from when they see it, so a follower cannot take over
// before stamp+LeaseDuration, and RenewDeadline < LeaseDuration leaves the
// margin. time.Now carries a monotonic reading, which keeps running while the
// process is stopped.
type leaseGuard struct {
	now      func() time.Time
	deadline time.Duration

	mu      sync.Mutex
	renewed time.Time // zero: never held
}

func newLeaseGuard(now func() time.Time, renewDeadline time.Duration) *leaseGuard {
	return &leaseGuard{now: now, deadline: renewDeadline}
}

// Check returns nil while the lease was renewed within the renew deadline, and
// an error wrapping errLeaseStale otherwise.
func (g *leaseGuard) Check() error {
	g.mu.Lock()
	renewed := g.renewed
	g.mu.Unlock()
	if renewed.IsZero() {
		return fmt.Errorf("%w: this replica has not held the lease", errLeaseStale)
	}
	if age := g.now().Sub(renewed); age >= g.deadline {
		return fmt.Errorf("%w: last renewed %v ago, renew deadline %v", errLeaseStale, age.Round(time.Millisecond), g.deadline)
	}
	return nil
}

// stamp records a successful renewal whose request was sent at sent.
func (g *leaseGuard) stamp(sent time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sent.After(g.renewed) {
		g.renewed = sent
	}
}

// stampingLock is the Lease lock with every successful acquisition or renewal
// by this replica stamped on guard. A release (an Update naming no holder, or
// another one) is not a renewal.
type stampingLock struct {
	resourcelock.Interface
	guard *leaseGuard
}

func (l stampingLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.stamped(ler, func() error { return l.Interface.Create(ctx, ler) })
}

func (l stampingLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.stamped(ler, func() error { return l.Interface.Update(ctx, ler) })
}

func (l stampingLock) stamped(ler resourcelock.LeaderElectionRecord, write func() error) error {
	sent := l.guard.now()
	err := write()
	if err == nil && ler.HolderIdentity == l.Identity() {
		l.guard.stamp(sent)
	}
	return err
}

// guardedTransport refuses every request but a read, and but the Lease's own, once
// the guard says the lease is stale. The Executor checks the guard before each
// stage and each write already; this closes what lies between that check and the
// wire (client-go's rate limiter can hold a write for a while), and covers the
// Events the agent posts. What remains is the instant between this check and the
// request leaving: Kubernetes offers no fencing token to close it.
type guardedTransport struct {
	next  http.RoundTripper
	check func() error
}

// leasePath prefixes the coordination API the election itself must keep using.
const leasePath = "/apis/coordination.k8s.io/"

func (t guardedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.HasPrefix(r.URL.Path, leasePath) {
		if err := t.check(); err != nil {
			return nil, err
		}
	}
	return t.next.RoundTrip(r)
}

// newIdentity is this process's leader-election identity, also sent in its
// User-Agent so the API server's audit log tells replicas apart.
func newIdentity() string {
	host, _ := os.Hostname()
	return host + "_" + string(uuid.NewUUID())
}
