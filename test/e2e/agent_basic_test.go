package e2e

import (
	"testing"

	"github.com/nowakeai/svcmux/test/world"
)

// The first agent test, on the shared world: a channel with a default port is
// accepted, the mux publishes it under the port's hash, and once the agent is
// seen to have looked again (AwaitPass, the positive signal) an idle agent has
// written nothing more.
func TestAgentServesADefaultChannelAndThenWritesNothingWhileIdle(t *testing.T) {
	w := world.New(t)
	w.Quiet() // it counts the agent's writes
	w.CreateMux("mux", nil)
	w.CreateChannel("api", "mux", nil, world.To(world.TCP("http", 8080), 80))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitMuxPorts("mux", w.MuxPort("api", "http", 8080))

	w.AwaitPass(a, "mux")
	before := a.Writes(t)
	w.AwaitPass(a, "mux")
	if after := a.Writes(t); after != before {
		t.Fatalf("idle agent wrote: %d writes, then %d\n%s", before, after, a.LogTail(30))
	}
}
