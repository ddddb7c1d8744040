// Package image proves `make image` (deploy/image): it packs a real amd64 agent, reads the
// OCI layout and the docker tarball back, checks what a registry and a kubelet would see,
// and runs the binary taken out of the layer.
package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return string(out)
}

const (
	version  = "v9.9.9-test"
	revision = "abc1234"
)

// buildImage packs a real static linux/amd64 agent and, for arm64, a stand-in file (the
// cross build costs ~30 s and proves nothing the amd64 one does not; `make image` builds
// both for real).
func buildImage(t *testing.T, out string, bins string) {
	t.Helper()
	builder := filepath.Join(bins, "image-builder")
	if _, err := os.Stat(builder); err != nil {
		run(t, nil, "go", "build", "-o", builder, "./deploy/image")
	}
	run(t, []string{"SOURCE_DATE_EPOCH=1700000000"}, builder, "-out", out, "-version", version, "-revision", revision,
		"-binary", "linux/amd64="+filepath.Join(bins, "amd64", "svcmux-agent"),
		"-binary", "linux/arm64="+filepath.Join(bins, "arm64", "svcmux-agent"))
}

func TestTheImageIsAReproducibleMultiArchIndexThatRunsTheAgent(t *testing.T) {
	bins := t.TempDir()
	amd64 := filepath.Join(bins, "amd64", "svcmux-agent")
	run(t, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "go", "build",
		"-ldflags", "-s -w -X github.com/nowakeai/svcmux/pkg/version.Version="+version+
			" -X github.com/nowakeai/svcmux/pkg/version.Commit="+revision, "-o", amd64, "./cmd/agent")
	require.NoError(t, os.MkdirAll(filepath.Join(bins, "arm64"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bins, "arm64", "svcmux-agent"), []byte("arm64 stand-in\n"), 0o755))

	out := t.TempDir()
	buildImage(t, out, bins)

	lp, err := layout.FromPath(filepath.Join(out, "oci"))
	require.NoError(t, err)
	top, err := lp.ImageIndex()
	require.NoError(t, err)
	topManifest, err := top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, topManifest.Manifests, 1)
	assert.Equal(t, types.OCIImageIndex, topManifest.Manifests[0].MediaType)
	assert.Equal(t, map[string]string{"org.opencontainers.image.ref.name": version}, topManifest.Manifests[0].Annotations)
	idx, err := top.ImageIndex(topManifest.Manifests[0].Digest)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	// Digests, sizes, diff IDs, media types and platforms all agree (what a registry checks).
	require.NoError(t, validate.Index(idx))

	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	}
	assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, platforms)

	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, m.Platform.Architecture, cf.Architecture)
		assert.Equal(t, "linux", cf.OS)
		assert.Equal(t, "65532:65532", cf.Config.User)
		assert.Equal(t, []string{"/usr/local/bin/svcmux-agent"}, cf.Config.Entrypoint)
		assert.Empty(t, cf.Config.Cmd)
		assert.Equal(t, "2023-11-14T22:13:20Z", cf.Created.UTC().Format(time.RFC3339), "SOURCE_DATE_EPOCH")
		assert.Equal(t, "2023-11-14T22:13:20Z", cf.Config.Labels["org.opencontainers.image.created"])
		for k, v := range map[string]string{
			"org.opencontainers.image.source":   "https://github.com/nowakeai/svcmux",
			"org.opencontainers.image.version":  version,
			"org.opencontainers.image.revision": revision,
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.title":    "svcmux-agent",
		} {
			assert.Equal(t, v, cf.Config.Labels[k], k)
		}
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1, "an empty base: the binary's layer only")
		files := layerFiles(t, layers[0])
		assert.Equal(t, []string{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/svcmux-agent"}, files.names)
		if m.Platform.Architecture == "amd64" {
			if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
				t.Log("not on linux/amd64: the binary is not run")
				continue
			}
			extracted := filepath.Join(t.TempDir(), "svcmux-agent")
			require.NoError(t, os.WriteFile(extracted, files.binary, 0o755))
			got := run(t, nil, extracted, "--version")
			assert.Equal(t, "svcmux "+version+" (commit "+revision+", "+runtime.Version()+")\n", got)
		}
	}

	// docker load reads the per-platform tarballs: tag and config as in the layout.
	for _, arch := range []string{"amd64", "arm64"} {
		path := filepath.Join(out, "svcmux-agent-"+arch+".tar")
		img, err := tarball.ImageFromPath(path, nil)
		require.NoError(t, err, path)
		require.NoError(t, validate.Image(img), path)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, arch, cf.Architecture)
		assert.Equal(t, "65532:65532", cf.Config.User)
		manifest := tarManifest(t, path)
		assert.Contains(t, manifest, `"RepoTags":["ghcr.io/nowakeai/svcmux-agent:`+version+`-`+arch+`"]`)
	}

	// Reproducible: the same inputs give the same index digest.
	again := t.TempDir()
	buildImage(t, again, bins)
	d1, d2 := indexDigest(t, out), indexDigest(t, again)
	assert.Equal(t, d1, d2)
}

type layerContent struct {
	names  []string
	binary []byte
}

func layerFiles(t *testing.T, l v1.Layer) layerContent {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	var c layerContent
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return c
		}
		require.NoError(t, err)
		c.names = append(c.names, h.Name)
		assert.Equal(t, 0, h.Uid)
		if h.Typeflag == tar.TypeReg {
			c.binary, err = io.ReadAll(tr)
			require.NoError(t, err)
		}
	}
}

func tarManifest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "manifest.json in %s", path)
		if h.Name == "manifest.json" {
			var buf bytes.Buffer
			_, err := io.Copy(&buf, tr)
			require.NoError(t, err)
			return strings.TrimSpace(buf.String())
		}
	}
}

func indexDigest(t *testing.T, out string) v1.Hash {
	t.Helper()
	lp, err := layout.FromPath(filepath.Join(out, "oci"))
	require.NoError(t, err)
	top, err := lp.ImageIndex()
	require.NoError(t, err)
	m, err := top.IndexManifest()
	require.NoError(t, err)
	return m.Manifests[0].Digest
}
