package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Executor performs writes with one field manager. Stages run in order (but for
// the channel stage, see Run); the writes of a pass run concurrently, so a mux
// with a thousand channels is not written one request at a time. At most Workers
// writes are in flight at once across every Run of the Executor: the agent plans
// several muxes at once, and a bound per pass let four passes put 128 writes on
// a two-core API server, where each mux's serial NodePort allocations took
// several times as long (5,000 channels on 50 muxes converged in 1.69x the
// bench's write floor; with one shared bound, 1.19x).
//
// With MuxWorkers set, mux writes take no slot of that bound but one of their own,
// also shared by every Run. Off by default: on the bench's control plane neither
// one mux write at a time (each patch of 100 new ports still took about 0.6 s, its
// NodePort allocations being etcd writes one after another) nor 16 at a time
// beside 50 passes converged 5,000 channels on 50 muxes faster than the shared
// bound (1.22x and 1.20x the write floor, against 1.16x, one run each).
type Executor struct {
	Client  kubernetes.Interface
	DryRun  bool
	Workers int
	// MuxWorkers bounds the mux writes in flight at once, across every Run,
	// beside Workers; 0: they take a slot of Workers like any other write.
	MuxWorkers int
	// Guard, when set, is asked before each stage and each write: an error skips
	// the stage (or the write) and is returned. The agent's leader election sets
	// it so a replica whose lease went stale while it was frozen writes no more.
	Guard func() error

	slotsOnce sync.Once
	slots     chan struct{} // the bound shared by every Run; made on first use
	muxLane   chan struct{} // MuxWorkers' bound; nil when mux writes take slots
}

// Result counts the writes made (or, in dry-run, that would be made) by kind.
type Result struct {
	Writes    map[Kind]int
	Conflicts int
	// Applied lists each object written and the resourceVersion the API server
	// answered with (empty for a delete), so a caller reading from an informer cache
	// can wait until the cache has seen its own writes before planning again.
	Applied []Applied
	// Failed is the stage that failed (the later ones did not run); -1 when none did.
	Failed Stage
	// Events are what the writes themselves call for (a mux write that fell back
	// from remembered NodePorts), for the caller to post.
	Events []plan.Event
	// Stages is how long each stage that wrote took, in the order they finished,
	// but for the early channel writes: a channel stage of their own, listed once
	// waited for, after the statuses that ran beside them.
	Stages []StageTime
}

// StageTime is one stage of a Run: its writes and the time from its first write
// asking for a slot (of the shared bound, or the mux writes' own) to its last
// write's answer.
type StageTime struct {
	Stage  Stage
	Writes int
	Took   time.Duration
}

// Applied is one object as the API server left it after a write. Its fields are
// snapshot.Written's, so that the agent can ask the cache whether it shows it.
type Applied struct {
	Resource        string
	Namespace       string
	Name            string
	ResourceVersion string
	Deleted         bool
	Created         bool
}

// Total is the number of writes.
func (r Result) Total() int {
	n := 0
	for _, v := range r.Writes {
		n += v
	}
	return n
}

// Run executes writes stage by stage. The first error of a stage stops the later
// stages (their writes may depend on it); every error is returned joined, and
// apierrors.IsConflict on the result tells a retry-worthy race.
//
// One exception to the order: the channel stage (ports annotations, finalizers)
// starts once the mux stage is done and runs beside the endpoint stages. An
// annotation records a claim the state already persisted and waits for nothing the
// endpoint writes do. It does wait for the mux write, though no rule asks it to: a
// mux patch of a thousand new ports is a thousand NodePort allocations, each its
// own etcd write one after another, and beside any other writes it takes several
// times as long (1.2 s alone, 4 s beside as few as two writes in flight, for 1,000
// ports on the bench's control plane), while every channel status waits for it.
// What tells a reader the port is served, the channel status, still waits for
// every earlier stage and for the channel-stage writes to its own Service, but
// not for the other channels' (runChannelStages); a channel-stage write to an
// object an earlier stage also writes waits for every earlier stage.
func (e *Executor) Run(ctx context.Context, writes []Write) (res Result, err error) {
	res = Result{Writes: map[Kind]int{}, Failed: -1}
	byStage, stages := groupByStage(writes)
	// One bound for every pass: the early channel writes, the stages beside them
	// and the other passes running meanwhile share it.
	e.slotsOnce.Do(func() {
		e.slots = make(chan struct{}, max(e.Workers, 1))
		if e.MuxWorkers > 0 {
			e.muxLane = make(chan struct{}, e.MuxWorkers)
		}
	})
	slots := e.slots
	var early *earlyStage
	defer func() {
		// No write is in flight once Run returns, and what the early writes did is counted.
		early.release()
		if earlyErr := early.wait(&res); earlyErr != nil {
			err = errors.Join(err, earlyErr)
		}
	}()
	started := false
	for _, st := range stages {
		if err := e.guard(); err != nil {
			res.Failed = st
			return res, fmt.Errorf("stage %d skipped: %w", st, err)
		}
		if !started && st > StageState && st <= StageChannels {
			started = true
			var rest []Write
			early, rest = e.startEarly(ctx, byStage, slots)
			byStage[StageChannels] = rest
		}
		if st == StageChannels { // the last stage but the status, which runs with it
			waited := early
			early = nil
			return res, e.runChannelStages(ctx, &res, waited, byStage[StageChannels], byStage[StageChannelStatus], slots)
		}
		bound := slots
		if st == StageMux && e.muxLane != nil {
			bound = e.muxLane
		}
		if err := e.runStage(ctx, byStage[st], &res, bound); err != nil {
			res.Failed = st
			return res, err
		}
		if st == StageMux {
			early.release()
		}
	}
	return res, nil
}

func groupByStage(writes []Write) (map[Stage][]Write, []Stage) {
	byStage := map[Stage][]Write{}
	var stages []Stage
	for _, w := range writes {
		if _, ok := byStage[w.Stage]; !ok {
			stages = append(stages, w.Stage)
		}
		byStage[w.Stage] = append(byStage[w.Stage], w)
	}
	sortStages(stages)
	return byStage, stages
}

func sortStages(s []Stage) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// stageHooks let a stage's writes depend on others: ready, asked before a write
// takes a slot, may hold it or skip it (false), and is asked for each write apart;
// after is told each answer before the write's slot is freed.
type stageHooks struct {
	ready func(Write) bool
	after func(Write, error)
}

func (e *Executor) runStage(ctx context.Context, writes []Write, res *Result, sem chan struct{}) error {
	return e.runStageWith(ctx, writes, res, sem, stageHooks{})
}

func (e *Executor) runStageWith(ctx context.Context, writes []Write, res *Result, sem chan struct{}, hooks stageHooks) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	began := time.Now()
	defer func() {
		res.Stages = append(res.Stages, StageTime{Stage: writes[0].Stage, Writes: len(writes), Took: time.Since(began)})
	}()
	for _, w := range writes {
		wg.Add(1)
		if hooks.ready == nil {
			sem <- struct{}{} // in write order
		}
		go func(w Write) {
			defer wg.Done()
			if hooks.ready != nil {
				// Each waits apart, so one slow dependency holds up only its own write.
				if !hooks.ready(w) {
					return
				}
				sem <- struct{}{}
			}
			defer func() { <-sem }()
			// Asked again per write: a stage of a thousand writes outlasts a pause.
			err := e.guard()
			var rv string
			var event *plan.Event
			requests := 1
			if err == nil {
				rv, event, requests, err = e.doOrFallback(ctx, w)
			}
			if apierrors.IsNotFound(err) && w.Verb == VerbDelete {
				err = nil // already gone is what we wanted
			}
			if hooks.after != nil {
				defer hooks.after(w, err) // after the answer is recorded, before the slot is freed
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if apierrors.IsConflict(err) {
					res.Conflicts++
				}
				errs = append(errs, fmt.Errorf("%s: %w", w, err))
				return
			}
			res.Writes[w.Kind] += requests
			if event != nil {
				res.Events = append(res.Events, *event)
			}
			if !e.DryRun {
				res.Applied = append(res.Applied, Applied{Resource: w.Resource, Namespace: w.Namespace, Name: w.Name,
					ResourceVersion: rv, Deleted: w.Verb == VerbDelete, Created: w.Verb == VerbCreate})
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Executor) guard() error {
	if e.Guard == nil {
		return nil
	}
	return e.Guard()
}

// do performs one write and returns the object's new resourceVersion and the
// requests it took: two when a status write's carried annotation did not land
// and was sent on its own (should that second request fail, the pass fails and
// the next one finds the annotation still to write).
func (e *Executor) do(ctx context.Context, w Write) (string, int, error) {
	if e.DryRun {
		return "", 1, nil
	}
	create := metav1.CreateOptions{FieldManager: api.FieldManager}
	update := metav1.UpdateOptions{FieldManager: api.FieldManager}
	patch := metav1.PatchOptions{FieldManager: api.FieldManager}
	var subresources []string
	if w.Subresource != "" {
		subresources = []string{w.Subresource}
	}
	var obj metav1.Object
	var err error
	requests := 1
	switch w.Resource + "/" + string(w.Verb) {
	case "services/patch":
		svcs := e.Client.CoreV1().Services(w.Namespace)
		var svc *corev1.Service
		svc, err = svcs.Patch(ctx, w.Name, w.PatchType, w.Patch, patch, subresources...)
		if err == nil && w.Carries != nil && !w.Carries.landedOn(svc) {
			// The status landed and the annotation did not: send it on its own.
			requests++
			svc, err = svcs.Patch(ctx, w.Name, types.MergePatchType, w.Carries.Patch, patch)
		}
		obj = svc
	case "configmaps/create":
		obj, err = e.Client.CoreV1().ConfigMaps(w.Namespace).Create(ctx, w.Object.(*corev1.ConfigMap), create)
	case "configmaps/patch":
		obj, err = e.Client.CoreV1().ConfigMaps(w.Namespace).Patch(ctx, w.Name, w.PatchType, w.Patch, patch)
	case "endpointslices/create":
		obj, err = e.Client.DiscoveryV1().EndpointSlices(w.Namespace).Create(ctx, w.Object.(*discoveryv1.EndpointSlice), create)
	case "endpointslices/update":
		obj, err = e.Client.DiscoveryV1().EndpointSlices(w.Namespace).Update(ctx, w.Object.(*discoveryv1.EndpointSlice), update)
	case "endpointslices/delete":
		err = e.Client.DiscoveryV1().EndpointSlices(w.Namespace).Delete(ctx, w.Name, metav1.DeleteOptions{})
	case "endpoints/create":
		obj, err = e.Client.CoreV1().Endpoints(w.Namespace).Create(ctx, w.Object.(*corev1.Endpoints), create)
	case "endpoints/update":
		obj, err = e.Client.CoreV1().Endpoints(w.Namespace).Update(ctx, w.Object.(*corev1.Endpoints), update)
	case "endpoints/delete":
		err = e.Client.CoreV1().Endpoints(w.Namespace).Delete(ctx, w.Name, metav1.DeleteOptions{})
	default:
		err = fmt.Errorf("apply: unsupported write %s", w)
	}
	if err != nil || obj == nil || reflect.ValueOf(obj).IsNil() {
		return "", requests, err
	}
	return obj.GetResourceVersion(), requests, nil
}
