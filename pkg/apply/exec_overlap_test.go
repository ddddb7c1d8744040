package apply

import (
	"context"
	"errors"
	"fmt"
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
	k8stesting "k8s.io/client-go/testing"
)

// The channel stage waits for the mux stage, then runs beside the endpoint
// stages (Executor.Run).

// sliceCreate is a write of the endpoints stage: a new mux slice.
func sliceCreate(name string) Write {
	return Write{Stage: StageEndpoints, Kind: KindSlice, Verb: VerbCreate, Resource: "endpointslices", Namespace: "svc-mux", Name: name,
		Object: &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: name}}}
}

// The mux patch and then an endpoint slice create are held by the server in
// turn: no annotation arrives while the mux patch is in flight; the channels'
// ports annotations arrive while the slice create is; and what must wait for both
// (a finalizer write to the mux itself, the channel status that says the port is
// served) arrives after them.
func TestChannelAnnotationsWaitForTheMuxWriteGoOutBesideTheEndpointsAndTheStatusWaitsForAll(t *testing.T) {
	muxPath := "/api/v1/namespaces/svc-mux/services/mux"
	slicePath := "/apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/mux-0000beef-0"
	srv, client := newAPIServer(t, muxPath, "/api/v1/namespaces/app/services/ch-0", "/api/v1/namespaces/app/services/ch-1")
	muxHeld, sliceHeld := make(chan struct{}), make(chan struct{})
	srv.hold["PATCH "+muxPath] = muxHeld
	srv.hold["POST "+slicePath] = sliceHeld
	srv.arrivals = make(chan string, 16)
	status := svcPatch(StageChannelStatus, KindChannel, "app", "ch-0")
	status.Subresource = "status"
	ws := []Write{status, svcPatch(StageChannels, KindMux, "svc-mux", "mux"),
		svcPatch(StageChannels, KindChannel, "app", "ch-1"), svcPatch(StageChannels, KindChannel, "app", "ch-0"),
		sliceCreate("mux-0000beef-0"), svcPatch(StageMux, KindMux, "svc-mux", "mux"),
		{Stage: StageState, Kind: KindState, Verb: VerbCreate, Resource: "configmaps", Namespace: "svc-mux", Name: "mux-port-allocations",
			Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations"}}}}
	done := make(chan error, 1)
	go func() {
		_, err := (&Executor{Client: client, Workers: 8}).Run(context.Background(), ws)
		done <- err
	}()
	assert.Equal(t, "POST /api/v1/namespaces/svc-mux/configmaps/mux-port-allocations", <-srv.arrivals, "the state goes first")
	assert.Equal(t, "PATCH "+muxPath, <-srv.arrivals, "then the mux")
	close(muxHeld)
	var whileSliceHeld []string
	for range 3 { // the held slice create and both annotations, in any order
		whileSliceHeld = append(whileSliceHeld, <-srv.arrivals)
	}
	assert.ElementsMatch(t, []string{"POST " + slicePath, "PATCH /api/v1/namespaces/app/services/ch-0",
		"PATCH /api/v1/namespaces/app/services/ch-1"}, whileSliceHeld, "the annotations did not wait for the endpoints")
	close(sliceHeld)
	require.NoError(t, <-done)
	log := srv.requests()
	assert.Equal(t, []string{"PATCH " + muxPath, "PATCH /api/v1/namespaces/app/services/ch-0/status"},
		log[5:], "the mux finalizer and the status came after the endpoints, in stage order")
	assert.Equal(t, 2, srv.released["PATCH "+muxPath], "nothing came in while the mux patch was held")
}

func TestAFailureBesideTheChannelAnnotationsStopsTheStatusAndCountsWhatWasWritten(t *testing.T) {
	status := svcPatch(StageChannelStatus, KindChannel, "app", "ch-0")
	status.Subresource = "status"
	ws := []Write{svcPatch(StageMux, KindMux, "svc-mux", "mux"), svcPatch(StageChannels, KindChannel, "app", "ch-0"), status}
	tests := []struct {
		name    string
		refuse  string // the Service whose patch is refused
		writes  map[Kind]int
		failed  Stage
		wantErr string
	}{
		{"a refused mux write stops the status; the annotation, let go as Run returns, is counted", "mux",
			map[Kind]int{KindChannel: 1}, StageMux, "patch services svc-mux/mux"},
		{"a refused annotation stops its channel's status; the mux write is counted", "ch-0",
			map[Kind]int{KindMux: 1}, StageChannels, "patch services app/ch-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(nil, service("svc-mux", "mux"), service("app", "ch-0"), service("app", "ch-1"))
			c.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.(k8stesting.PatchAction).GetName() == tt.refuse {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, tt.refuse, errors.New("no"))
				}
				return false, nil, nil
			})
			res, err := (&Executor{Client: c, Workers: 4}).Run(context.Background(), ws)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.writes, res.Writes)
			assert.Equal(t, tt.failed, res.Failed)
			assert.Len(t, res.Applied, 1)
		})
	}
}

func TestTheChannelWritesBesideTheEndpointsShareTheOneBoundOfWorkers(t *testing.T) {
	muxPath := "/api/v1/namespaces/svc-mux/services/mux"
	existing := []string{muxPath}
	ws := []Write{svcPatch(StageMux, KindMux, "svc-mux", "mux"), sliceCreate("mux-0000beef-0"), sliceCreate("mux-0000dead-0")}
	for i := range 6 {
		name := fmt.Sprintf("ch-%d", i)
		existing = append(existing, "/api/v1/namespaces/app/services/"+name)
		ws = append(ws, svcPatch(StageChannels, KindChannel, "app", name))
	}
	srv, client := newAPIServer(t, existing...)
	srv.delay["POST"] = 5 * time.Millisecond
	srv.delay["PATCH"] = 5 * time.Millisecond
	res, err := (&Executor{Client: client, Workers: 2}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Equal(t, map[Kind]int{KindMux: 1, KindSlice: 2, KindChannel: 6}, res.Writes)
	assert.Equal(t, 2, srv.maxInFlight, "the slice writes and the annotations beside them are two at most")
	assert.Equal(t, "PATCH "+muxPath, srv.requests()[0], "the mux write went first, alone")
}

// The agent runs several mux passes at once on one Executor: together they keep
// to its one bound, so the API server never has more than Workers of its writes.
func TestPassesRunningAtOnceShareTheExecutorsOneBoundOfWorkers(t *testing.T) {
	var existing []string
	passes := make([][]Write, 3)
	for p := range passes {
		for i := range 8 {
			name := fmt.Sprintf("ch-%d-%d", p, i)
			existing = append(existing, "/api/v1/namespaces/app/services/"+name)
			passes[p] = append(passes[p], svcPatch(StageChannels, KindChannel, "app", name))
		}
	}
	srv, client := newAPIServer(t, existing...)
	srv.delay["PATCH"] = 10 * time.Millisecond
	exec := &Executor{Client: client, Workers: 4}
	errs := make(chan error, len(passes))
	for _, ws := range passes {
		go func() {
			_, err := exec.Run(context.Background(), ws)
			errs <- err
		}()
	}
	for range passes {
		require.NoError(t, <-errs)
	}
	assert.Len(t, srv.requests(), 24)
	assert.Equal(t, 4, srv.maxInFlight, "three passes of eight writes, four writes in flight at most")
}

// Mux writes go one at a time across every pass, beside the shared bound: a mux
// patch of new ports makes the API server allocate a NodePort for each, on one
// allocator every Service shares, so a second mux patch beside it only slows
// both. While one mux patch is held, another pass's channel write still goes out,
// and the other mux's patch arrives only once the first is answered.
func TestMuxWritesOfPassesRunningAtOnceGoOneAtATimeBesideTheOtherWrites(t *testing.T) {
	muxA, muxB := "/api/v1/namespaces/svc-mux/services/mux-a", "/api/v1/namespaces/svc-mux/services/mux-b"
	channel := "/api/v1/namespaces/app/services/ch-0"
	srv, client := newAPIServer(t, muxA, muxB, channel)
	holdA, holdB := make(chan struct{}), make(chan struct{})
	srv.hold["PATCH "+muxA], srv.hold["PATCH "+muxB] = holdA, holdB
	srv.arrivals = make(chan string, 16)
	exec := &Executor{Client: client, Workers: 8, MuxWorkers: 1}
	errs := make(chan error, 3)
	run := func(ws ...Write) {
		go func() {
			_, err := exec.Run(context.Background(), ws)
			errs <- err
		}()
	}
	run(svcPatch(StageMux, KindMux, "svc-mux", "mux-a"))
	run(svcPatch(StageMux, KindMux, "svc-mux", "mux-b"))
	first := <-srv.arrivals
	firstHold, secondHold, second := holdA, holdB, "PATCH "+muxB
	if first == "PATCH "+muxB {
		firstHold, secondHold, second = holdB, holdA, "PATCH "+muxA
	}
	run(svcPatch(StageChannels, KindChannel, "app", "ch-0"))
	secondCame := false
	for arrival := <-srv.arrivals; arrival != "PATCH "+channel; arrival = <-srv.arrivals {
		secondCame = secondCame || arrival == second
	}
	assert.False(t, secondCame, "the second mux patch came while the first was held")
	close(firstHold)
	for !secondCame {
		secondCame = <-srv.arrivals == second
	}
	close(secondHold)
	for range 3 {
		require.NoError(t, <-errs)
	}
}
