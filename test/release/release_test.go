package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

var platforms = []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func license(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "LICENSE"))
	require.NoError(t, err)
	return b
}

// releaseTool builds deploy/release once per test binary.
func releaseTool(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(toolDir, "release")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "./deploy/release")
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

var toolDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "svcmux-release-tool")
	if err != nil {
		panic(err)
	}
	toolDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeRelease packs small stand-in binaries (the real cross builds are `make release`'s
// job, ~30 s each here; this checks the packing, not the compiler).
func fakeRelease(t *testing.T, version string, extra ...string) (string, string) {
	t.Helper()
	bins := t.TempDir()
	args := []string{"-version", version, "-out", t.TempDir()}
	out := args[3]
	for _, p := range platforms {
		name := "kubectl-svcmux"
		if strings.HasPrefix(p, "windows/") {
			name += ".exe"
		}
		file := filepath.Join(bins, strings.ReplaceAll(p, "/", "-"), name)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte("binary for "+p+"\n"), 0o755))
		args = append(args, "-binary", p+"="+file)
	}
	cmd := exec.Command(releaseTool(t), append(args, extra...)...)
	cmd.Dir = repoRoot()
	stdout, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", stdout)
	return out, string(stdout)
}

func TestTheReleaseFollowsKrewsRulesAndItsArchives(t *testing.T) {
	tests := []struct {
		name        string
		version     string
		extra       []string
		wantVersion string
		wantURIBase string
	}{
		{"a tagged release downloads from the GitHub release", "v1.2.3", nil, "v1.2.3",
			"https://github.com/nowakeai/svcmux/releases/download/v1.2.3"},
		{"a development build becomes a pre-release of v0.0.0", "3f8acf2-dirty", nil, "v0.0.0-3f8acf2-dirty",
			"https://github.com/nowakeai/svcmux/releases/download/v0.0.0-3f8acf2-dirty"},
		{"the uri base is configurable", "v1.2.3", []string{"-uri-base", "https://mirror.example.com/svcmux/{{.Version}}/"}, "v1.2.3",
			"https://mirror.example.com/svcmux/v1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := fakeRelease(t, tt.version, tt.extra...)
			assert.Empty(t, CheckRelease(dir, tt.wantURIBase, license(t), platforms))
			raw, err := os.ReadFile(filepath.Join(dir, "krew", "svcmux.yaml"))
			require.NoError(t, err)
			m, err := ParseManifest(raw)
			require.NoError(t, err)
			assert.Equal(t, tt.wantVersion, m.Spec.Version)
			assert.Equal(t, "kubectl-svcmux.exe", m.Spec.Platforms[4].Bin)
			assert.Equal(t, "kubectl-svcmux_"+tt.wantVersion+"_windows_amd64.zip", filepath.Base(m.Spec.Platforms[4].URI))
			for i, want := range map[int][]string{
				2: {"LICENSE", "README.md", "kubectl-svcmux", "kubectl_complete-svcmux"},
				4: {"LICENSE", "README.md", "kubectl-svcmux.exe", "kubectl_complete-svcmux.bat"},
			} {
				files, err := ReadArchive(filepath.Join(dir, filepath.Base(m.Spec.Platforms[i].URI)))
				require.NoError(t, err)
				var names []string
				for _, f := range files {
					names = append(names, f.Name)
				}
				assert.Equal(t, want, names, "the archive for %v", m.Spec.Platforms[i].Selector.MatchLabels)
			}

			chartVersion := strings.TrimPrefix(tt.wantVersion, "v")
			ch, err := loader.Load(filepath.Join(dir, "svcmux-"+chartVersion+".tgz"))
			require.NoError(t, err)
			assert.Equal(t, chartVersion, ch.Metadata.Version)
			assert.Equal(t, chartVersion, ch.Metadata.AppVersion)
			assert.NotNil(t, ch.Schema, "values.schema.json is packaged")
		})
	}
}

func TestTheSameInputsGiveTheSameBytes(t *testing.T) {
	a, _ := fakeRelease(t, "v1.2.3")
	b, _ := fakeRelease(t, "v1.2.3")
	sumsA, err := os.ReadFile(filepath.Join(a, "checksums.txt"))
	require.NoError(t, err)
	sumsB, err := os.ReadFile(filepath.Join(b, "checksums.txt"))
	require.NoError(t, err)
	assert.Equal(t, string(sumsA), string(sumsB))
	assert.Equal(t, 6, strings.Count(string(sumsA), "\n"), "five archives and the chart")
}

func TestTheReleaseRefusesAMissingBinary(t *testing.T) {
	cmd := exec.Command(releaseTool(t), "-version", "v1.2.3", "-out", t.TempDir(),
		"-binary", "linux/amd64="+filepath.Join(t.TempDir(), "kubectl-svcmux"))
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "release: linux/amd64: open ")
	assert.Contains(t, string(out), "(is cmd/kubectl-svcmux built for it?)\n")
}

func TestTheManifestRulesCatchWhatKrewRejects(t *testing.T) {
	good := func() Manifest {
		m, err := ParseManifest([]byte(`apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata: {name: svcmux}
spec:
  version: v1.2.3
  shortDescription: one line
  platforms:
  - selector: {matchLabels: {os: linux, arch: amd64}}
    uri: https://example.com/a.tar.gz
    sha256: ` + strings.Repeat("a", 64) + `
    bin: kubectl-svcmux
  - selector: {matchLabels: {os: linux, arch: arm64}}
    uri: https://example.com/b.tar.gz
    sha256: ` + strings.Repeat("b", 64) + `
    bin: kubectl-svcmux
`))
		if err != nil {
			panic(err)
		}
		return m
	}
	tests := []struct {
		name   string
		path   string
		mutate func(*Manifest)
		want   []string
	}{
		{"a valid manifest passes", "svcmux.yaml", func(*Manifest) {}, nil},
		{"the name must be the file name", "kubectl-svcmux.yaml", func(*Manifest) {},
			[]string{`metadata.name "svcmux" is not the file name "kubectl-svcmux"`}},
		{"the version needs its v", "svcmux.yaml", func(m *Manifest) { m.Spec.Version = "1.2.3" },
			[]string{`spec.version "1.2.3" is not a semantic version prefixed with v`}},
		{"a short description is one line", "svcmux.yaml", func(m *Manifest) { m.Spec.ShortDescription = "one\ntwo" },
			[]string{"spec.shortDescription has a line break"}},
		{"an upper-case sha256 is refused", "svcmux.yaml", func(m *Manifest) { m.Spec.Platforms[0].SHA256 = strings.Repeat("A", 64) },
			[]string{`spec.platforms[0].sha256 "` + strings.Repeat("A", 64) + `" is not 64 lowercase hex digits`}},
		{"bin is required", "svcmux.yaml", func(m *Manifest) { m.Spec.Platforms[1].Bin = "" },
			[]string{"spec.platforms[1].bin is empty"}},
		{"a selector key other than os and arch is refused", "svcmux.yaml",
			func(m *Manifest) { m.Spec.Platforms[1].Selector.MatchLabels["libc"] = "musl" },
			[]string{`spec.platforms[1].selector.matchLabels key "libc": only os and arch`}},
		{"two platforms matching the same os/arch overlap", "svcmux.yaml",
			func(m *Manifest) { delete(m.Spec.Platforms[1].Selector.MatchLabels, "arch") },
			[]string{"spec.platforms[0] and [1] both match os=linux arch=amd64"}},
		{"the wrong kind and apiVersion are both named", "svcmux.yaml",
			func(m *Manifest) { m.Kind, m.APIVersion = "Plugins", "krew/v1" },
			[]string{`apiVersion "krew/v1": want krew.googlecontainertools.github.com/v1alpha2`, `kind "Plugins": want Plugin`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good()
			tt.mutate(&m)
			assert.Equal(t, tt.want, Validate(tt.path, m))
		})
	}
}

// TestTheBuiltRelease checks a real `make release` output (it runs this test on
// dist/release with SVCMUX_RELEASE_DIR and SVCMUX_RELEASE_URI_BASE set).
func TestTheBuiltRelease(t *testing.T) {
	dir := os.Getenv("SVCMUX_RELEASE_DIR")
	if dir == "" {
		t.Skip("SVCMUX_RELEASE_DIR unset: `make release` runs this on its output")
	}
	assert.Empty(t, CheckRelease(dir, os.Getenv("SVCMUX_RELEASE_URI_BASE"), license(t), platforms))
}

// TestARealPluginIsPackedAndRunsFromItsArchive is `make release` for the host platform
// with a real kubectl-svcmux (ldflags as the Makefile's); the other platforms get stand-ins
// so the test stays cheap (a cross build is ~30 s here; `make release` does them all).
func TestARealPluginIsPackedAndRunsFromItsArchive(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot(), "cmd", "kubectl-svcmux", "main.go")); err != nil {
		t.Skip("cmd/kubectl-svcmux does not exist yet: nothing real to package")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the real build is checked on linux/amd64")
	}
	bins := t.TempDir()
	args := []string{"-version", "v9.9.9-test", "-out", t.TempDir()}
	out := args[3]
	for _, p := range platforms {
		name := "kubectl-svcmux"
		if strings.HasPrefix(p, "windows/") {
			name += ".exe"
		}
		file := filepath.Join(bins, strings.ReplaceAll(p, "/", "-"), name)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		if p == "linux/amd64" {
			build := exec.Command("go", "build", "-ldflags",
				"-s -w -X github.com/nowakeai/svcmux/pkg/version.Version=v9.9.9-test -X github.com/nowakeai/svcmux/pkg/version.Commit=abc1234",
				"-o", file, "./cmd/kubectl-svcmux")
			build.Dir = repoRoot()
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			b, err := build.CombinedOutput()
			require.NoError(t, err, "%s", b)
		} else {
			require.NoError(t, os.WriteFile(file, []byte("stand-in for "+p+"\n"), 0o755))
		}
		args = append(args, "-binary", p+"="+file)
	}
	cmd := exec.Command(releaseTool(t), args...)
	cmd.Dir = repoRoot()
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	assert.Empty(t, CheckRelease(out, "https://github.com/nowakeai/svcmux/releases/download/v9.9.9-test", license(t), platforms))

	files, err := ReadArchive(filepath.Join(out, "kubectl-svcmux_v9.9.9-test_linux_amd64.tar.gz"))
	require.NoError(t, err)
	var bin []byte
	for _, f := range files {
		if f.Name == "kubectl-svcmux" {
			bin = f.Data
		}
	}
	extracted := filepath.Join(t.TempDir(), "kubectl-svcmux")
	require.NoError(t, os.WriteFile(extracted, bin, 0o755))
	version := exec.Command(extracted, "version")
	version.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	got, _ := version.CombinedOutput() // no cluster: the agent part may fail; the plugin part is printed
	assert.Contains(t, string(got), "v9.9.9-test")
	assert.Contains(t, string(got), "abc1234")
}
