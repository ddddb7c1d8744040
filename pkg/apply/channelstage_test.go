package apply

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A channel's status waits for its own Service's channel-stage writes only
// (runChannelStages).

func statusPatch(ns, name string) Write {
	w := svcPatch(StageChannelStatus, KindChannel, ns, name)
	w.Subresource = "status"
	return w
}

func TestAStatusWaitsForItsOwnChannelsAnnotationNotForTheOthers(t *testing.T) {
	ch0, ch1 := "/api/v1/namespaces/app/services/ch-0", "/api/v1/namespaces/app/services/ch-1"
	srv, client := newAPIServer(t, ch0, ch1)
	held := make(chan struct{})
	srv.hold["PATCH "+ch0] = held
	srv.arrivals = make(chan string, 8)
	ws := []Write{statusPatch("app", "ch-0"), statusPatch("app", "ch-1"),
		svcPatch(StageChannels, KindChannel, "app", "ch-0"), svcPatch(StageChannels, KindChannel, "app", "ch-1")}
	done := make(chan error, 1)
	go func() {
		_, err := (&Executor{Client: client, Workers: 8}).Run(context.Background(), ws)
		done <- err
	}()
	var whileHeld []string
	for range 3 { // ch-0's held annotation, then ch-1's annotation and status
		whileHeld = append(whileHeld, <-srv.arrivals)
	}
	assert.ElementsMatch(t, []string{"PATCH " + ch0, "PATCH " + ch1, "PATCH " + ch1 + "/status"}, whileHeld,
		"ch-1's status went out while ch-0's annotation was held")
	close(held)
	require.NoError(t, <-done)
	log := srv.requests()
	require.Len(t, log, 4)
	assert.Equal(t, "PATCH "+ch0+"/status", log[3], "ch-0's status came after its annotation was answered")
	assert.Equal(t, []string{"PATCH " + ch1, "PATCH " + ch1 + "/status"}, without(log[:3], "PATCH "+ch0), "ch-1's annotation before its status")
}

func TestAFailedAnnotationStopsEveryStatusNotYetSent(t *testing.T) {
	// One worker: ch-0's annotation (ch-0 does not exist) is answered before
	// ch-1's is sent, and ch-1's status waits for ch-1's.
	ch1 := "/api/v1/namespaces/app/services/ch-1"
	srv, client := newAPIServer(t, ch1)
	ws := []Write{svcPatch(StageChannels, KindChannel, "app", "ch-0"), svcPatch(StageChannels, KindChannel, "app", "ch-1"),
		statusPatch("app", "ch-0"), statusPatch("app", "ch-1")}
	res, err := (&Executor{Client: client, Workers: 1}).Run(context.Background(), ws)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patch services app/ch-0")
	assert.Equal(t, StageChannels, res.Failed)
	assert.Equal(t, map[Kind]int{KindChannel: 1}, res.Writes, "ch-1's annotation, and no status")
	assert.Equal(t, []string{"PATCH /api/v1/namespaces/app/services/ch-0", "PATCH " + ch1}, srv.requests())
}

func TestAStatusWithNoChannelWriteOfItsOwnWaitsForTheEarlierStages(t *testing.T) {
	muxPath := "/api/v1/namespaces/svc-mux/services/mux"
	slicePath := "/apis/discovery.k8s.io/v1/namespaces/svc-mux/endpointslices/mux-0000beef-0"
	ch0 := "/api/v1/namespaces/app/services/ch-0"
	srv, client := newAPIServer(t, muxPath, ch0)
	held := make(chan struct{})
	srv.hold["POST "+slicePath] = held
	srv.arrivals = make(chan string, 8)
	ws := []Write{statusPatch("app", "ch-0"), svcPatch(StageMux, KindMux, "svc-mux", "mux"), sliceCreate("mux-0000beef-0")}
	done := make(chan error, 1)
	go func() {
		_, err := (&Executor{Client: client, Workers: 8}).Run(context.Background(), ws)
		done <- err
	}()
	assert.Equal(t, "PATCH "+muxPath, <-srv.arrivals)
	assert.Equal(t, "POST "+slicePath, <-srv.arrivals)
	close(held)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"PATCH " + muxPath, "POST " + slicePath, "PATCH " + ch0 + "/status"}, srv.requests())
}

// without is log less every entry equal to drop.
func without(log []string, drop string) []string {
	var out []string
	for _, l := range log {
		if l != drop {
			out = append(out, l)
		}
	}
	return out
}
