package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/runtime"
)

// kubectl_complete-svcmux runs `kubectl-svcmux __complete <words…>`: a MUX argument
// completes with every mux in scope, by name and by namespace/name, and no files.
func TestCompleteOffersTheMuxesByNameAndNamespacedName(t *testing.T) {
	objs := []runtime.Object{
		fxMux("svc-mux", "mux", nil),
		fxMux("edge", "public", nil),
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an empty word lists every mux", []string{"__complete", "topology", ""},
			"public\nedge/public\nmux\nsvc-mux/mux\n:4\n"},
		{"claims completes the same way", []string{"__complete", "claims", ""},
			"public\nedge/public\nmux\nsvc-mux/mux\n:4\n"},
		{"-n narrows the muxes offered", []string{"__complete", "topology", "-n", "edge", ""},
			"public\nedge/public\n:4\n"},
		{"a second MUX argument completes nothing", []string{"__complete", "topology", "mux", ""},
			":4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPlugin(t, objs, tt.args...)
			assert.Equal(t, 0, r.Code, r.ErrOut)
			assert.Equal(t, tt.want, r.Out)
		})
	}
}

func TestCompletionPrintsAScriptForEachShellItKnows(t *testing.T) {
	tests := []struct {
		shell string
		want  string // a line only that shell's script has
	}{
		{"bash", "complete -o default -F __start_kubectl-svcmux kubectl-svcmux\n"},
		{"zsh", "#compdef kubectl-svcmux\n"},
		{"fish", "complete -c kubectl-svcmux -e\n"},
		{"powershell", "Register-ArgumentCompleter -CommandName 'kubectl-svcmux'"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			r := runPlugin(t, nil, "completion", tt.shell)
			assert.Equal(t, 0, r.Code, r.ErrOut)
			assert.Empty(t, r.ErrOut)
			assert.Contains(t, r.Out, tt.want)
			assert.Contains(t, r.Out, "__complete", "the script asks the plugin for completions")
			assert.NotContains(t, r.Out, "__start_kubectl\n", "kubectl's own completion is left alone")
			assert.NotContains(t, r.Out, "compdef kubectl\n")
			assert.NotContains(t, r.Out, "complete -c kubectl -e")
		})
	}
}

func TestCompletionRefusesAShellItDoesNotKnow(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"tcsh is not supported", []string{"completion", "tcsh"},
			`error: invalid argument "tcsh" for "kubectl svcmux completion"` + "\n"},
		{"a shell is required", []string{"completion"},
			"error: accepts 1 arg(s), received 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runPlugin(t, nil, tt.args...)
			assert.Equal(t, ExitCannotRun, r.Code)
			assert.Empty(t, r.Out)
			assert.True(t, strings.HasPrefix(r.ErrOut, tt.want), "stderr:\n%s", r.ErrOut)
		})
	}
}
