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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// The channel stage runs beside the mux and endpoint stages (Executor.Run).

// The mux patch is held by the server: the channels' ports annotations arrive
// while it is in flight, and what must wait for the mux (a finalizer write to the
// mux itself, the channel status that says the port is served) arrives after it.
func TestChannelAnnotationsGoOutBesideTheMuxWriteAndTheStatusWaitsForIt(t *testing.T) {
	muxPath := "/api/v1/namespaces/svc-mux/services/mux"
	srv, client := newAPIServer(t, muxPath, "/api/v1/namespaces/app/services/ch-0", "/api/v1/namespaces/app/services/ch-1")
	release := make(chan struct{})
	srv.hold["PATCH "+muxPath] = release
	srv.arrivals = make(chan string, 16)
	status := svcPatch(StageChannelStatus, KindChannel, "app", "ch-0")
	status.Subresource = "status"
	ws := []Write{status, svcPatch(StageChannels, KindMux, "svc-mux", "mux"),
		svcPatch(StageChannels, KindChannel, "app", "ch-1"), svcPatch(StageChannels, KindChannel, "app", "ch-0"),
		svcPatch(StageMux, KindMux, "svc-mux", "mux"),
		{Stage: StageState, Kind: KindState, Verb: VerbCreate, Resource: "configmaps", Namespace: "svc-mux", Name: "mux-port-allocations",
			Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux-port-allocations"}}}}
	done := make(chan error, 1)
	go func() {
		_, err := (&Executor{Client: client, Workers: 8}).Run(context.Background(), ws)
		done <- err
	}()
	var whileHeld []string
	for range 4 { // the state, then the held mux patch and both annotations, in any order
		whileHeld = append(whileHeld, <-srv.arrivals)
	}
	assert.Equal(t, "POST /api/v1/namespaces/svc-mux/configmaps/mux-port-allocations", whileHeld[0], "the state goes first")
	assert.ElementsMatch(t, []string{"PATCH " + muxPath, "PATCH /api/v1/namespaces/app/services/ch-0",
		"PATCH /api/v1/namespaces/app/services/ch-1"}, whileHeld[1:], "the annotations did not wait for the mux")
	close(release)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"PATCH " + muxPath, "PATCH /api/v1/namespaces/app/services/ch-0/status"},
		srv.requests()[4:], "the mux finalizer and the status came after the mux patch, in stage order")
}

func TestAFailureBesideTheChannelAnnotationsStopsTheStatusAndCountsWhatWasWritten(t *testing.T) {
	ws := []Write{svcPatch(StageMux, KindMux, "svc-mux", "mux"), svcPatch(StageChannels, KindChannel, "app", "ch-0"),
		svcPatch(StageChannelStatus, KindChannel, "app", "ch-1")}
	tests := []struct {
		name    string
		refuse  string // the Service whose patch is refused
		writes  map[Kind]int
		failed  Stage
		wantErr string
	}{
		{"a refused mux write stops the status; the annotation sent beside it is counted", "mux",
			map[Kind]int{KindChannel: 1}, StageMux, "patch services svc-mux/mux"},
		{"a refused annotation stops the status; the mux write is counted", "ch-0",
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

func TestTheChannelWritesBesideTheMuxShareTheOneBoundOfWorkers(t *testing.T) {
	muxPath := "/api/v1/namespaces/svc-mux/services/mux"
	existing := []string{muxPath}
	ws := []Write{svcPatch(StageMux, KindMux, "svc-mux", "mux")}
	for i := range 6 {
		name := fmt.Sprintf("ch-%d", i)
		existing = append(existing, "/api/v1/namespaces/app/services/"+name)
		ws = append(ws, svcPatch(StageChannels, KindChannel, "app", name))
	}
	srv, client := newAPIServer(t, existing...)
	srv.delay["PATCH"] = 5 * time.Millisecond
	res, err := (&Executor{Client: client, Workers: 2}).Run(context.Background(), ws)
	require.NoError(t, err)
	assert.Equal(t, map[Kind]int{KindMux: 1, KindChannel: 6}, res.Writes)
	assert.Equal(t, 2, srv.maxInFlight, "the mux write and the annotations beside it are two at most")
}
