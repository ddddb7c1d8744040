package world_test

import (
	"testing"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// The world's own tests run on a real control plane, like the tests written on it.
func TestMain(m *testing.M) { controlplane.Main(m) }
