package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nowakeai/svcmux/pkg/api"
)

// svcPatch is a merge patch on a Service that exists in the fake cluster.
func svcPatch(stage Stage, kind Kind, ns, name string) Write {
	return Write{Stage: stage, Kind: kind, Verb: VerbPatch, Resource: "services", Namespace: ns, Name: name,
		PatchType: types.MergePatchType, Patch: []byte(`{"metadata":{"annotations":{"touched":"yes"}}}`)}
}

func service(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "5"}}
}

// stagedWrites is a mixed list over every stage, in scrambled order, with the
// objects the fake cluster needs for them.
func stagedWrites() ([]Write, []runtime.Object) {
	var objs []runtime.Object
	var ws []Write
	for i := 0; i < 4; i++ {
		ch := fmt.Sprintf("ch-%d", i)
		objs = append(objs, service("app", ch))
		ws = append(ws, svcPatch(StageChannels, KindChannel, "app", ch))
	}
	objs = append(objs, service("svc-mux", "mux"),
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "stale-1"}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "stale-2"}})
	ws = append(ws,
		Write{Stage: StageCleanup, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices", Namespace: "svc-mux", Name: "stale-1"},
		Write{Stage: StageEndpoints, Kind: KindSlice, Verb: VerbCreate, Resource: "endpointslices", Namespace: "svc-mux", Name: "new-1",
			Object: &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "new-1"}, AddressType: discoveryv1.AddressTypeIPv4}},
		svcPatch(StageMux, KindMux, "svc-mux", "mux"),
		Write{Stage: StageState, Kind: KindState, Verb: VerbCreate, Resource: "configmaps", Namespace: "svc-mux", Name: "mux-port-allocations",
			Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations"}}},
		Write{Stage: StageEndpoints, Kind: KindEndpoints, Verb: VerbCreate, Resource: "endpoints", Namespace: "svc-mux", Name: "mux",
			Object: &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux"}}},
		Write{Stage: StageCleanup, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices", Namespace: "svc-mux", Name: "stale-2"},
		Write{Stage: StageEndpoints, Kind: KindSlice, Verb: VerbCreate, Resource: "endpointslices", Namespace: "svc-mux", Name: "new-2",
			Object: &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "new-2"}, AddressType: discoveryv1.AddressTypeIPv4}},
	)
	return ws, objs
}

// recorder notes every write the fake clientset sees, in order. (The fake runs
// its reactors under one lock: concurrency is measured with apiServer instead.)
type recorder struct {
	mu    sync.Mutex
	seen  []string // "verb resource ns/name"
	delay time.Duration
}

func (r *recorder) react(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetVerb() == "get" || action.GetVerb() == "list" || action.GetVerb() == "watch" {
		return false, nil, nil
	}
	r.mu.Lock()
	r.seen = append(r.seen, fmt.Sprintf("%s %s %s/%s", action.GetVerb(), action.GetResource().Resource, action.GetNamespace(), nameOf(action)))
	r.mu.Unlock()
	time.Sleep(r.delay)
	return false, nil, nil // the object tracker does the write
}

func nameOf(a k8stesting.Action) string {
	switch a := a.(type) {
	case k8stesting.CreateAction: // an UpdateAction has the same methods: it matches here too
		o, _ := a.GetObject().(metav1.Object)
		return o.GetName()
	case k8stesting.PatchAction:
		return a.GetName()
	case k8stesting.DeleteAction:
		return a.GetName()
	}
	return ""
}

func newClient(r *recorder, objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objs...)
	if r != nil {
		c.PrependReactor("*", "*", r.react)
	}
	return c
}

// waitsFor reports whether a write of stage a must wait for every write of stage
// b, for writes to different objects: stage order, but for the channel stage,
// which only waits for the state.
func waitsFor(a, b Stage) bool {
	if a == StageChannels && b != StageState {
		return false
	}
	return b < a
}

func TestRunWritesStageByStage(t *testing.T) {
	ws, objs := stagedWrites()
	stageOf := map[string]Stage{}
	for _, w := range ws {
		verb := string(w.Verb)
		stageOf[fmt.Sprintf("%s %s %s/%s", verb, w.Resource, w.Namespace, w.Name)] = w.Stage
	}
	rec := &recorder{delay: 2 * time.Millisecond}
	e := &Executor{Client: newClient(rec, objs...), Workers: 8}
	res, err := e.Run(context.Background(), ws)
	require.NoError(t, err)

	require.Len(t, rec.seen, len(ws), "every write reached the API server once: %v", rec.seen)
	for i := range rec.seen {
		for _, earlier := range rec.seen[:i] {
			assert.False(t, waitsFor(stageOf[earlier], stageOf[rec.seen[i]]),
				"%q (stage %d) ran before %q (stage %d)", earlier, stageOf[earlier], rec.seen[i], stageOf[rec.seen[i]])
		}
	}
	assert.Equal(t, map[Kind]int{KindState: 1, KindMux: 1, KindSlice: 4, KindEndpoints: 1, KindChannel: 4}, res.Writes)
	assert.Equal(t, len(ws), res.Total())
	assert.Zero(t, res.Conflicts)
}

// The server holds every request until the test releases it: the workers
// fill up to their bound and stop there, and each release lets exactly one
// more request in. No delay decides how many overlap.
func TestRunBoundsConcurrencyByWorkers(t *testing.T) {
	const writes = 12
	tests := []struct {
		name    string
		workers int
		want    int
	}{
		{"one worker writes one request at a time", 1, 1},
		{"zero workers still make progress, one at a time", 0, 1},
		{"three workers keep at most three requests in flight", 3, 3},
		{"more workers than writes run them all at once", 64, writes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var existing []string
			var ws []Write
			for i := 0; i < writes; i++ {
				name := fmt.Sprintf("ch-%d", i)
				existing = append(existing, "/api/v1/namespaces/app/services/"+name)
				ws = append(ws, svcPatch(StageChannels, KindChannel, "app", name))
			}
			srv, client := newAPIServer(t, existing...)
			srv.arrived, srv.release = make(chan struct{}), make(chan struct{})
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := (&Executor{Client: client, Workers: tt.workers}).Run(context.Background(), ws)
				done <- outcome{res, err}
			}()
			for range tt.want { // the bound is reached with none answered
				<-srv.arrived
			}
			for range writes - tt.want { // one answered, one more sent
				srv.release <- struct{}{}
				<-srv.arrived
			}
			for range tt.want {
				srv.release <- struct{}{}
			}
			got := <-done
			require.NoError(t, got.err)
			assert.Equal(t, writes, got.res.Writes[KindChannel])
			assert.Equal(t, tt.want, srv.maxInFlight, "requests in flight at once")
			for _, a := range got.res.Applied {
				assert.Equal(t, "21", a.ResourceVersion, "the version the API server answered with")
			}
		})
	}
}

func TestNoWriteStartsBeforeTheStagesItWaitsFor(t *testing.T) {
	ws, _ := stagedWrites()
	srv, client := newAPIServer(t,
		"/api/v1/namespaces/svc-mux/services/mux",
		"/apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/stale-1",
		"/apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/stale-2",
		"/api/v1/namespaces/app/services/ch-0", "/api/v1/namespaces/app/services/ch-1",
		"/api/v1/namespaces/app/services/ch-2", "/api/v1/namespaces/app/services/ch-3")
	for _, m := range []string{"POST", "PATCH", "DELETE"} {
		srv.delay[m] = 5 * time.Millisecond
	}
	_, err := (&Executor{Client: client, Workers: 16}).Run(context.Background(), ws)
	require.NoError(t, err)
	stage := map[string]Stage{
		"POST /api/v1/namespaces/svc-mux/configmaps/mux-port-allocations":            StageState,
		"PATCH /api/v1/namespaces/svc-mux/services/mux":                              StageMux,
		"POST /apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/new-1":     StageEndpoints,
		"POST /apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/new-2":     StageEndpoints,
		"POST /api/v1/namespaces/svc-mux/endpoints/mux":                              StageEndpoints,
		"DELETE /apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/stale-1": StageCleanup,
		"DELETE /apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/stale-2": StageCleanup,
		"PATCH /api/v1/namespaces/app/services/ch-0":                                 StageChannels,
		"PATCH /api/v1/namespaces/app/services/ch-1":                                 StageChannels,
		"PATCH /api/v1/namespaces/app/services/ch-2":                                 StageChannels,
		"PATCH /api/v1/namespaces/app/services/ch-3":                                 StageChannels,
	}
	got := srv.requests()
	require.Len(t, got, len(stage), "%v", got)
	for i, r := range got {
		require.Contains(t, stage, r)
		for _, earlier := range got[:i] {
			assert.False(t, waitsFor(stage[earlier], stage[r]), "%s arrived before %s", earlier, r)
		}
	}
	assert.Greater(t, srv.maxInFlight, 1, "writes of one stage do run concurrently")
}

func TestReplacingASliceWithAnotherAddressTypeDeletesBeforeItCreates(t *testing.T) {
	// The API server refuses a create over an existing name: the delete of the old
	// slice must have completed before the create of its replacement is sent.
	s := converged(t, apiSnapshot())
	s.MuxSlices[0].AddressType = discoveryv1.AddressTypeIPv6
	ws := only(Diff(compute(t, s), s), KindSlice)
	require.Len(t, ws, 2)
	path := "/apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/" + s.MuxSlices[0].Name
	srv, client := newAPIServer(t, path)
	srv.delay["DELETE"] = 50 * time.Millisecond // a slow delete, as under load

	_, err := (&Executor{Client: client, Workers: 32}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Equal(t, []string{"DELETE " + path, "POST " + path}, srv.requests())
	assert.True(t, srv.objects[path], "the replacement exists")
}

func TestDryRunCountsWritesAndCallsNothing(t *testing.T) {
	ws, objs := stagedWrites()
	c := newClient(nil, objs...)
	c.ClearActions()
	e := &Executor{Client: c, DryRun: true, Workers: 4}
	res, err := e.Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Empty(t, c.Actions(), "no API call in dry-run")
	assert.Equal(t, map[Kind]int{KindState: 1, KindMux: 1, KindSlice: 4, KindEndpoints: 1, KindChannel: 4}, res.Writes)
	assert.Equal(t, len(ws), res.Total())
	assert.Empty(t, res.Applied, "nothing was applied")
}

func TestRunWithNothingToWriteDoesNothing(t *testing.T) {
	c := newClient(nil)
	res, err := (&Executor{Client: c, Workers: 4}).Run(context.Background(), nil)
	require.NoError(t, err)
	assert.Zero(t, res.Total())
	assert.Empty(t, c.Actions())
}

func TestDeletingWhatIsAlreadyGoneSucceeds(t *testing.T) {
	ws := []Write{
		{Stage: StageCleanup, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices", Namespace: "svc-mux", Name: "gone"},
		{Stage: StageCleanup, Kind: KindEndpoints, Verb: VerbDelete, Resource: "endpoints", Namespace: "svc-mux", Name: "mux"},
	}
	res, err := (&Executor{Client: newClient(nil), Workers: 2}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Equal(t, map[Kind]int{KindSlice: 1, KindEndpoints: 1}, res.Writes)
	assert.ElementsMatch(t, []Applied{
		{Resource: "endpointslices", Namespace: "svc-mux", Name: "gone", Deleted: true},
		{Resource: "endpoints", Namespace: "svc-mux", Name: "mux", Deleted: true},
	}, res.Applied)
}

func TestPatchingWhatIsGoneIsAnError(t *testing.T) {
	res, err := (&Executor{Client: newClient(nil), Workers: 2}).Run(context.Background(),
		[]Write{svcPatch(StageChannels, KindChannel, "app", "gone")})
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err))
	assert.Contains(t, err.Error(), "patch services app/gone")
	assert.Zero(t, res.Total())
	assert.Zero(t, res.Conflicts)
}

func TestAConflictIsCountedAndReturnedForARetry(t *testing.T) {
	c := newClient(nil, service("app", "a"), service("app", "b"), service("app", "c"))
	c.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "b" {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "b", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	ws := []Write{svcPatch(StageChannels, KindChannel, "app", "a"), svcPatch(StageChannels, KindChannel, "app", "b"),
		svcPatch(StageChannels, KindChannel, "app", "c")}
	res, err := (&Executor{Client: c, Workers: 3}).Run(context.Background(), ws)
	require.Error(t, err)
	assert.True(t, apierrors.IsConflict(err), "IsConflict sees through the joined, wrapped error: %v", err)
	var status *apierrors.StatusError
	require.True(t, errors.As(err, &status))
	assert.Equal(t, metav1.StatusReasonConflict, status.ErrStatus.Reason)
	assert.Contains(t, err.Error(), "patch services app/b")
	assert.Equal(t, 1, res.Conflicts)
	assert.Equal(t, 2, res.Writes[KindChannel], "the other writes of the stage still happen")
}

func TestEveryErrorOfAStageIsReturned(t *testing.T) {
	c := newClient(nil)
	ws := []Write{svcPatch(StageChannels, KindChannel, "app", "x"), svcPatch(StageChannels, KindChannel, "app", "y")}
	_, err := (&Executor{Client: c, Workers: 1}).Run(context.Background(), ws)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "app/x")
	assert.Contains(t, err.Error(), "app/y")
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "the errors are joined")
	assert.Len(t, joined.Unwrap(), 2)
}

func TestAFailedStageStopsTheLaterStages(t *testing.T) {
	ws, objs := stagedWrites()
	c := newClient(nil, objs...)
	c.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "mux-port-allocations", errors.New("no"))
	})
	c.ClearActions()
	res, err := (&Executor{Client: c, Workers: 4}).Run(context.Background(), ws)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err))
	assert.Contains(t, err.Error(), "create configmaps svc-mux/mux-port-allocations")
	assert.Zero(t, res.Total(), "nothing after the state stage was written")
	require.Len(t, c.Actions(), 1, "only the failed write reached the API server")
	assert.Equal(t, "create", c.Actions()[0].GetVerb())
}

func TestAppliedListsEveryObjectWrittenWithItsNewResourceVersion(t *testing.T) {
	ws, objs := stagedWrites()
	c := newClient(nil, objs...)
	c.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "mux" {
			return true, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", ResourceVersion: "42"}}, nil
		}
		return false, nil, nil
	})
	res, err := (&Executor{Client: c, Workers: 4}).Run(context.Background(), ws)
	require.NoError(t, err)

	got := map[string]Applied{}
	for _, a := range res.Applied {
		got[a.Resource+" "+a.Namespace+"/"+a.Name] = a
	}
	require.Len(t, got, len(ws), "one entry per write: %+v", res.Applied)
	for _, w := range ws {
		a, ok := got[w.Resource+" "+w.Namespace+"/"+w.Name]
		require.True(t, ok, "no Applied entry for %s", w)
		assert.Equal(t, w.Verb == VerbDelete, a.Deleted, "%s", w)
		if w.Verb == VerbDelete {
			assert.Empty(t, a.ResourceVersion, "a deleted object has no version")
		}
	}
	assert.Equal(t, "42", got["services svc-mux/mux"].ResourceVersion, "the version the API server answered with")
	assert.Equal(t, "5", got["services app/ch-0"].ResourceVersion, "the fake keeps the version it was given")
}

func TestAnAnswerWithoutAnObjectLeavesTheVersionEmpty(t *testing.T) {
	c := newClient(nil)
	c.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	res, err := (&Executor{Client: c, Workers: 1}).Run(context.Background(), []Write{{Stage: StageState, Kind: KindState,
		Verb: VerbCreate, Resource: "configmaps", Namespace: "svc-mux", Name: "s",
		Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "s"}}}})
	require.NoError(t, err)
	assert.Equal(t, []Applied{{Resource: "configmaps", Namespace: "svc-mux", Name: "s", Created: true}}, res.Applied)
}

func TestEveryResourceAndVerbDiffProducesIsSupported(t *testing.T) {
	slice := func(name string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: name}, AddressType: discoveryv1.AddressTypeIPv4}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "state"}, Data: map[string]string{"k": "old"}}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux"}}
	c := newClient(nil, service("app", "api"), cm, slice("old"), slice("upd"), ep)
	updated := slice("upd")
	updated.Labels = map[string]string{"x": "y"}
	updatedEp := ep.DeepCopy()
	updatedEp.Labels = map[string]string{"x": "y"}
	ws := []Write{
		{Stage: StageState, Kind: KindState, Verb: VerbPatch, Resource: "configmaps", Namespace: "svc-mux", Name: "state",
			PatchType: types.MergePatchType, Patch: []byte(`{"data":{"k":"new"}}`)},
		{Stage: StageEndpoints, Kind: KindSlice, Verb: VerbUpdate, Resource: "endpointslices", Namespace: "svc-mux", Name: "upd", Object: updated},
		{Stage: StageEndpoints, Kind: KindEndpoints, Verb: VerbUpdate, Resource: "endpoints", Namespace: "svc-mux", Name: "mux", Object: updatedEp},
		{Stage: StageCleanup, Kind: KindSlice, Verb: VerbDelete, Resource: "endpointslices", Namespace: "svc-mux", Name: "old"},
		{Stage: StageChannels, Kind: KindChannel, Verb: VerbPatch, Resource: "services", Subresource: "status", Namespace: "app", Name: "api",
			PatchType: types.StrategicMergePatchType, Patch: []byte(`{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}`)},
	}
	_, err := (&Executor{Client: c, Workers: 2}).Run(context.Background(), ws)
	require.NoError(t, err)

	ctx := context.Background()
	gotCM, err := c.CoreV1().ConfigMaps("svc-mux").Get(ctx, "state", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "new", gotCM.Data["k"])
	gotSlice, err := c.DiscoveryV1().EndpointSlices("svc-mux").Get(ctx, "upd", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "y", gotSlice.Labels["x"])
	gotEp, err := c.CoreV1().Endpoints("svc-mux").Get(ctx, "mux", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "y", gotEp.Labels["x"])
	_, err = c.DiscoveryV1().EndpointSlices("svc-mux").Get(ctx, "old", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))
	gotSvc, err := c.CoreV1().Services("app").Get(ctx, "api", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}, gotSvc.Status.LoadBalancer.Ingress)

	var subresources []string
	for _, a := range c.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "services" {
			subresources = append(subresources, a.GetSubresource())
		}
	}
	assert.Equal(t, []string{"status"}, subresources, "a status write goes to the status subresource")
}

func TestEveryWriteUsesTheOneFieldManager(t *testing.T) {
	ws, objs := stagedWrites()
	c := newClient(nil, objs...)
	var mu sync.Mutex
	managers := map[string]bool{}
	c.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		switch a := a.(type) {
		case k8stesting.CreateActionImpl:
			managers[a.CreateOptions.FieldManager] = true
		case k8stesting.UpdateActionImpl:
			managers[a.UpdateOptions.FieldManager] = true
		case k8stesting.PatchActionImpl:
			managers[a.PatchOptions.FieldManager] = true
		}
		return false, nil, nil
	})
	_, err := (&Executor{Client: c, Workers: 4}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{api.FieldManager: true}, managers)
}

func TestAnUnsupportedWriteIsAnErrorNotAPanic(t *testing.T) {
	res, err := (&Executor{Client: newClient(nil), Workers: 1}).Run(context.Background(), []Write{
		{Stage: StageMux, Kind: KindMux, Verb: VerbDelete, Resource: "services", Namespace: "svc-mux", Name: "mux"},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apply: unsupported write delete services svc-mux/mux")
	assert.Zero(t, res.Total())
}

func TestAChannelsFinalizerStripDoesNotConflictWithItsOwnStatusWrite(t *testing.T) {
	// Taking over from the Python controller: the channel carries its finalizer and
	// has no Accepted condition yet. The metadata patch is conditional on the
	// resourceVersion read; the status patch of the same pass moves that version.
	s := apiSnapshot()
	s.Channels[0].Finalizers = []string{testKeys.Finalizer}
	ws := only(Diff(compute(t, s), s), KindChannel)
	require.Len(t, ws, 2)
	require.Equal(t, types.JSONPatchType, ws[0].PatchType, "the finalizer strip is pinned by a test op, not a resourceVersion")
	require.Equal(t, "status", ws[1].Subresource)

	path := "/api/v1/namespaces/app/services/api"
	srv, client := newAPIServer(t, path)             // at resourceVersion 20, the one the snapshot read
	srv.delay["PATCH "+path] = 20 * time.Millisecond // the status write lands first, as it may

	res, err := (&Executor{Client: client, Workers: 32}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Zero(t, res.Conflicts)
	assert.Equal(t, 2, res.Writes[KindChannel])
}
