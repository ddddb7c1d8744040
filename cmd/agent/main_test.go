package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noFile(string) ([]byte, error) { return nil, errors.New("not in a cluster") }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{"the mux namespace defaults to the agent's own namespace", nil, map[string]string{"POD_NAMESPACE": "ops"}, "", nil},
		{"flags win over SVCMUX_ variables", []string{"--api-prefix=a.example.com"},
			map[string]string{"SVCMUX_API_PREFIX": "b.example.com", "POD_NAMESPACE": "ops"}, "", nil},
		{"an unknown endpoints mode is refused", []string{"--endpoints-mode=mirror"}, nil, "--endpoints-mode", nil},
		{"a malformed variable is refused with its name", nil, map[string]string{"SVCMUX_KUBE_API_BURST": "lots"}, "SVCMUX_KUBE_API_BURST", nil},
		{"an unknown flag is refused", []string{"--frobnicate"}, nil, "unknown flag", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, showVersion, err := parse(tt.args, &stderr, env(tt.env), noFile)
			assert.False(t, showVersion)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "ops", cfg.DefaultMuxNamespace)
			assert.Equal(t, "ops", cfg.LeaderElectionNamespace)
			if len(tt.args) > 0 {
				assert.Equal(t, "a.example.com", cfg.APIPrefix)
			}
		})
	}
}

func TestRunPrintsTheVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--version"}, &stdout, &stderr, env(nil), noFile)
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout.String(), "svcmux ")
}

func TestRunExitsWithTwoOnBadUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--workers=0"}, &stdout, &stderr, env(nil), noFile)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "--workers")
}

func TestRunHelpIsNotAnError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--help"}, &stdout, &stderr, env(nil), noFile)
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr.String(), "--channel-write-concurrency")
}
