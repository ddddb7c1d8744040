package agent

import (
	"errors"
	"io/fs"
	"log/slog"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"without flags or variables the documented defaults apply", nil, nil, func(t *testing.T, c Config) {
			assert.Equal(t, DefaultConfig(), c)
		}},
		{"a variable sets a flag that was not given", nil,
			map[string]string{"SVCMUX_API_PREFIX": "mux.example.com", "SVCMUX_KUBE_API_QPS": "50", "SVCMUX_LEADER_ELECT": "false"},
			func(t *testing.T, c Config) {
				assert.Equal(t, "mux.example.com", c.APIPrefix)
				assert.Equal(t, float32(50), c.KubeAPIQPS)
				assert.False(t, c.LeaderElect)
			}},
		{"a flag on the command line wins over its variable",
			[]string{"--api-prefix=flag.example.com", "--workers", "8"},
			map[string]string{"SVCMUX_API_PREFIX": "env.example.com", "SVCMUX_WORKERS": "2"},
			func(t *testing.T, c Config) {
				assert.Equal(t, "flag.example.com", c.APIPrefix)
				assert.Equal(t, 8, c.Workers)
			}},
		{"every flag is parsed into its field",
			[]string{"--kubeconfig=/k", "--default-mux-namespace=edge", "--leader-elect=false",
				"--leader-election-namespace=ops", "--leader-election-id=lease", "--dry-run", "--endpoints-mode=both",
				"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0", "--kube-api-qps=10",
				"--kube-api-burst=20", "--workers=3", "--channel-write-concurrency=5", "--mux-write-concurrency=2", "--log-level=debug", "--log-format=json"},
			nil,
			func(t *testing.T, c Config) {
				want := DefaultConfig()
				want.Kubeconfig, want.DefaultMuxNamespace, want.LeaderElect = "/k", "edge", false
				want.LeaderElectionNamespace, want.LeaderElectionID, want.DryRun = "ops", "lease", true
				want.EndpointsMode, want.MetricsBindAddress, want.HealthProbeBindAddress = "both", "0", "127.0.0.1:0"
				want.KubeAPIQPS, want.KubeAPIBurst, want.Workers, want.ChannelWriteConcurrency = 10, 20, 3, 5
				want.LogLevel, want.LogFormat, want.MuxWriteConcurrency = "debug", "json", 2
				assert.Equal(t, want, c)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			c.AddFlags(fs)
			require.NoError(t, fs.Parse(tt.args))
			require.NoError(t, ApplyEnv(fs, envOf(tt.env)))
			tt.check(t, c)
		})
	}
}

func TestApplyEnvReportsAMalformedVariable(t *testing.T) {
	c := DefaultConfig()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.AddFlags(fs)
	err := ApplyEnv(fs, envOf(map[string]string{"SVCMUX_WORKERS": "many"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SVCMUX_WORKERS")
}

func TestApplyEnvSkipsFlagsWithoutVariables(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	v := fs.Bool("version", false, "")
	require.NoError(t, ApplyEnv(fs, envOf(map[string]string{"SVCMUX_VERSION": "true"}), "version"))
	assert.False(t, *v)
}

func TestOwnNamespace(t *testing.T) {
	noFile := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	file := func(string) ([]byte, error) { return []byte("from-file\n"), nil }
	tests := []struct {
		name     string
		env      map[string]string
		readFile func(string) ([]byte, error)
		want     string
	}{
		{"POD_NAMESPACE wins", map[string]string{"POD_NAMESPACE": "from-env"}, file, "from-env"},
		{"the service account namespace file is next", nil, file, "from-file"},
		{"out of cluster it is default", nil, noFile, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			assert.Equal(t, tt.want, OwnNamespace(getenv, tt.readFile))
		})
	}
}

func TestCompleteFillsOnlyWhatIsEmpty(t *testing.T) {
	c := DefaultConfig()
	c.LeaderElectionNamespace = "ops"
	c.Complete(func(string) string { return "agent-ns" }, func(string) ([]byte, error) { return nil, errors.New("none") })
	assert.Equal(t, "agent-ns", c.DefaultMuxNamespace)
	assert.Equal(t, "ops", c.LeaderElectionNamespace)
	assert.NotZero(t, c.LeaseDuration)
	assert.NoError(t, c.Validate())
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.DefaultMuxNamespace = "Bad_NS"
	c.EndpointsMode = "mirror"
	c.MetricsBindAddress = "8080"
	c.Workers = 0
	c.LogFormat = "xml"
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{"--default-mux-namespace", "--endpoints-mode", "--metrics-bind-address",
		"--workers", "--log-format", "--leader-election-namespace"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestParseBindAddress(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		addr    string
		enabled bool
		wantErr bool
	}{
		{"0 disables the server", "0", "", false, false},
		{"empty disables the server", "", "", false, false},
		{"a port alone binds every interface", ":8080", ":8080", true, false},
		{"host and port bind one interface", "127.0.0.1:9090", "127.0.0.1:9090", true, false},
		{"port 0 picks a free port", "127.0.0.1:0", "127.0.0.1:0", true, false},
		{"an IPv6 host is bracketed", "[::1]:8080", "[::1]:8080", true, false},
		{"a bare port number is refused", "8080", "", false, true},
		{"a port out of range is refused", ":70000", "", false, true},
		{"a named port is refused", ":http", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, enabled, err := ParseBindAddress(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.addr, addr)
			assert.Equal(t, tt.enabled, enabled)
		})
	}
}

func TestNewLogger(t *testing.T) {
	_, err := NewLogger(nil, "verbose", "text")
	assert.Error(t, err)
	_, err = NewLogger(nil, "info", "xml")
	assert.Error(t, err)
	l, err := NewLogger(nil, "warning", "json")
	require.NoError(t, err)
	assert.False(t, l.Enabled(t.Context(), slog.LevelInfo))
	assert.True(t, l.Enabled(t.Context(), slog.LevelWarn))
}
