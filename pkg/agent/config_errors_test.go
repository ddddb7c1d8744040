package agent

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/nowakeai/svcmux/pkg/version"
)

func TestValidateRefusesEachSettingThatCannotWorkWithItsFlag(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"an empty prefix", func(c *Config) { c.APIPrefix = " " }, "--api-prefix must not be empty"},
		{"a default mux namespace that is no namespace name", func(c *Config) { c.DefaultMuxNamespace = "Bad_NS" },
			`--default-mux-namespace "Bad_NS" is not a namespace name`},
		{"an unknown endpoints mode", func(c *Config) { c.EndpointsMode = "mirror" },
			`--endpoints-mode "mirror": expected slices, endpoints or both`},
		{"leader election without a Lease name", func(c *Config) { c.LeaderElect, c.LeaderElectionID = true, "" },
			"--leader-election-namespace and --leader-election-id are required with --leader-elect"},
		{"a metrics address without a port", func(c *Config) { c.MetricsBindAddress = "8080" },
			`--metrics-bind-address: bind address "8080": expected host:port, :port or "0" to disable`},
		{"a health probe port out of range", func(c *Config) { c.HealthProbeBindAddress = ":70000" },
			`--health-probe-bind-address: bind address ":70000": port "70000" is not a number in 0-65535`},
		{"a zero QPS", func(c *Config) { c.KubeAPIQPS = 0 }, "--kube-api-qps and --kube-api-burst must be positive"},
		{"a zero burst", func(c *Config) { c.KubeAPIBurst = 0 }, "--kube-api-qps and --kube-api-burst must be positive"},
		{"no workers", func(c *Config) { c.Workers = 0 }, "--workers and --channel-write-concurrency must be at least 1"},
		{"no concurrent channel writes", func(c *Config) { c.ChannelWriteConcurrency = 0 },
			"--workers and --channel-write-concurrency must be at least 1"},
		{"a negative mux write bound", func(c *Config) { c.MuxWriteConcurrency = -1 }, "--mux-write-concurrency must not be negative"},
		{"an unknown log level", func(c *Config) { c.LogLevel = "verbose" }, `--log-level "verbose": expected debug, info, warn or error`},
		{"an unknown log format", func(c *Config) { c.LogFormat = "xml" }, `--log-format "xml": expected text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.edit(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestParseLevelReadsEveryLevelInAnyCase(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{
		{"debug", slog.LevelDebug}, {" DEBUG ", slog.LevelDebug}, {"info", slog.LevelInfo}, {"", slog.LevelInfo},
		{"warn", slog.LevelWarn}, {"Warning", slog.LevelWarn}, {"error", slog.LevelError},
	}
	for _, tt := range tests {
		t.Run("the level "+tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestATextLoggerWritesKeyValuePairsAtItsLevel(t *testing.T) {
	var b bytes.Buffer
	l, err := NewLogger(&b, "debug", "")
	require.NoError(t, err)
	l.Debug("pass applied", "writes", 2)
	assert.Regexp(t, `^time=\S+ level=DEBUG msg="pass applied" writes=2\n$`, b.String())
}

func TestRestConfigTakesTheAgentsRateLimitsAndNamesTheReplica(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://kubeconfig.example:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600))
	tests := []struct {
		name     string
		edit     func(*Config)
		wantHost string
	}{
		{"a rest config given is copied", func(c *Config) { c.RestConfig = &rest.Config{Host: "https://given.example"} }, "https://given.example"},
		{"else the --kubeconfig file", func(c *Config) { c.Kubeconfig = kubeconfig }, "https://kubeconfig.example:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			rc, err := restConfig(cfg, "replica-1")
			require.NoError(t, err)
			assert.Equal(t, tt.wantHost, rc.Host)
			assert.Equal(t, float32(1000), rc.QPS)
			assert.Equal(t, 2000, rc.Burst)
			assert.Equal(t, "svcmux-agent/"+version.Version+" (replica-1)", rc.UserAgent)
			if cfg.RestConfig != nil {
				assert.Empty(t, cfg.RestConfig.UserAgent, "the caller's config is not changed")
			}
		})
	}
}

func TestRestConfigOutsideAClusterFallsBackToKUBECONFIG(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	_, err := restConfig(testConfig(), "replica-1")
	require.Error(t, err)
	assert.Equal(t, "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable", err.Error())
}

func TestRunRefusesAConfigThatCannotWork(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"an invalid setting, before any connection", func(c *Config) { c.Workers = 0 },
			"--workers and --channel-write-concurrency must be at least 1"},
		{"a kubeconfig that does not exist", func(c *Config) { c.Kubeconfig = "/nonexistent/kubeconfig" },
			"kubernetes client configuration: stat /nonexistent/kubeconfig: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Logger = testLogger
			tt.edit(&cfg)
			err := Run(t.Context(), cfg)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

// Run stopped before its caches synced returns cleanly: a SIGTERM during startup
// is a clean shutdown, not a failure. The API server is never reached.
func TestRunStoppedDuringStartupReturnsNil(t *testing.T) {
	for _, tt := range []struct {
		name        string
		logger      *slog.Logger
		leaderElect bool
	}{
		{"with the caller's logger", testLogger, false},
		{"with its own logger from --log-level and --log-format", nil, false},
		{"with leader election, whose guard wraps the client", testLogger, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RestConfig = &rest.Config{Host: "http://127.0.0.1:1"}
			cfg.Logger, cfg.LeaderElect = tt.logger, tt.leaderElect
			cfg.LogLevel = "error" // its own logger: keep the test's output quiet
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			assert.NoError(t, Run(ctx, cfg))
		})
	}
}
