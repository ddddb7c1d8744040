package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// lead runs work while this replica holds the Lease, the client-go way
// (examples/leader-election): ReleaseOnCancel, so a clean shutdown hands over at
// once instead of after LeaseDuration; and the lease is released only after work
// has returned, so two replicas never write at the same time.
//
// Every renewal is stamped on guard, which the workers' writes check (see
// leaseGuard): a replica that was frozen past its lease writes nothing more.
//
// It returns nil when ctx is done, and an error when the lease is lost: the
// workers have stopped and the process should exit so that it restarts clean.
func lead(ctx context.Context, cfg Config, client kubernetes.Interface, log *slog.Logger, id string, guard *leaseGuard,
	watchdog *leaderelection.HealthzAdaptor, m *metrics, work func(context.Context)) error {
	lock := stampingLock{guard: guard, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.LeaderElectionNamespace, Name: cfg.LeaderElectionID},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}}
	// The election gets its own context: cancelling it releases the lease, which
	// must wait until the workers have stopped, not happen when ctx is cancelled.
	electionCtx, release := context.WithCancel(context.WithoutCancel(ctx))
	defer release()

	var (
		mu       sync.Mutex
		leading  bool
		stopping bool
		working  sync.WaitGroup
	)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            cfg.LeaderElectionID,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaseCtx context.Context) {
				mu.Lock()
				if stopping {
					mu.Unlock()
					return
				}
				leading = true
				working.Add(1)
				mu.Unlock()
				defer working.Done()
				defer release() // only now may the lease go
				log.Info("became leader; starting workers", "identity", id, "lease", cfg.LeaderElectionNamespace+"/"+cfg.LeaderElectionID)
				m.leader.Set(1)
				defer m.leader.Set(0)
				// Work stops when the lease is lost or when ctx (the process) is done.
				workCtx, stop := context.WithCancel(leaseCtx)
				defer stop()
				unregister := context.AfterFunc(ctx, stop)
				defer unregister()
				work(workCtx)
				log.Info("workers stopped", "identity", id)
			},
			OnStoppedLeading: func() { log.Info("not leading", "identity", id) },
			OnNewLeader: func(holder string) {
				if holder != id {
					log.Info("another replica leads", "leader", holder)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	// On shutdown before leading, stop campaigning; once leading, OnStartedLeading
	// releases after its workers are done.
	stopCampaign := context.AfterFunc(ctx, func() {
		mu.Lock()
		stopping = true
		wasLeading := leading
		mu.Unlock()
		if !wasLeading {
			release()
		}
	})
	defer stopCampaign()

	log.Info("campaigning for leader lease", "identity", id, "lease", cfg.LeaderElectionNamespace+"/"+cfg.LeaderElectionID)
	elector.Run(electionCtx)
	working.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("lost the leader lease " + cfg.LeaderElectionNamespace + "/" + cfg.LeaderElectionID)
}
