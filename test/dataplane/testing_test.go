package dataplane

import (
	"fmt"
	"testing"
)

func TestAMissingPrerequisiteFailsOnlyUnderCIOnLinux(t *testing.T) {
	notLinux := fmt.Errorf("%w: network namespaces are Linux only (this is darwin)", ErrUnsupported)
	notRoot := fmt.Errorf("%w: %w: creating network namespaces needs root", ErrUnsupported, ErrNotRoot)
	noTool := fmt.Errorf("%w: nft not found", ErrMissingTool)
	tests := []struct {
		name string
		err  error
		ci   bool
		want bool
	}{
		{"outside CI a missing tool skips", noTool, false, false},
		{"outside CI not being root skips", notRoot, false, false},
		{"under CI a missing tool fails", noTool, true, true},
		{"under CI not being root fails", notRoot, true, true},
		{"outside Linux it skips even under CI", notLinux, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRun(tt.err, tt.ci); got != tt.want {
				t.Errorf("mustRun(%v, ci=%v) = %v, want %v", tt.err, tt.ci, got, tt.want)
			}
		})
	}
}
