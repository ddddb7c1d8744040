// Command image builds the agent's OCI image without a container engine (`make image`):
// an empty base, one layer holding the static agent binary, user 65532:65532, the agent as
// entrypoint, org.opencontainers.image.* labels; one image per platform gathered in an
// index. It writes an OCI layout (for crane, skopeo, oras: `crane push --index`) and one
// `docker load`-able tarball per platform.
//
// The binaries are built by the Makefile (one place for the ldflags); this program only
// packs them:
//
//	go run ./deploy/image -version v1.2.3 -revision abc1234 -out dist/image \
//	  -binary linux/amd64=dist/bin/linux-amd64/svcmux-agent \
//	  -binary linux/arm64=dist/bin/linux-arm64/svcmux-agent
//
// Everything is reproducible: file times and the image's creation time are
// SOURCE_DATE_EPOCH (default 0), owners are root, gzip carries no timestamp.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nowakeai/svcmux/deploy/platform"
)

// BinaryPath is where the agent lives in the image, and the entrypoint.
const BinaryPath = "/usr/local/bin/svcmux-agent"

// User is the distroless "nonroot" user the chart's securityContext runs as.
const User = "65532:65532"

type options struct {
	out, repository, version, revision, source string
	created                                    time.Time
	binaries                                   platform.Binaries
}

func main() {
	o := options{binaries: platform.Binaries{}}
	flag.StringVar(&o.out, "out", "dist/image", "output directory (oci/ and svcmux-agent-<arch>.tar are written inside)")
	flag.StringVar(&o.repository, "repository", "ghcr.io/nowakeai/svcmux-agent", "image name the tarballs are tagged with")
	flag.StringVar(&o.version, "version", "dev", "org.opencontainers.image.version and the tag")
	flag.StringVar(&o.revision, "revision", "none", "org.opencontainers.image.revision")
	flag.StringVar(&o.source, "source", "https://github.com/nowakeai/svcmux", "org.opencontainers.image.source")
	flag.Var(o.binaries, "binary", "os/arch=path of the static agent binary for that platform (repeat)")
	flag.Parse()
	var err error
	if o.created, err = sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH")); err == nil {
		err = build(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// tag is the version as an image tag: a tag allows [A-Za-z0-9_.-] only.
func tag(version string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || r == '-' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return r
		}
		return '-'
	}, version)
}

func build(o options) error {
	if len(o.binaries) == 0 {
		return errors.New("no -binary given")
	}
	platforms := make([]string, 0, len(o.binaries))
	for p := range o.binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms) // index order does not depend on flag order
	if err := os.RemoveAll(filepath.Join(o.out, "oci")); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		osName, arch, _ := strings.Cut(p, "/")
		img, err := image(o, osName, arch, o.binaries[p])
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}}})
		ref, err := name.NewTag(o.repository + ":" + tag(o.version) + "-" + arch)
		if err != nil {
			return err
		}
		tarPath := filepath.Join(o.out, "svcmux-agent-"+arch+".tar")
		if err := tarball.WriteToFile(tarPath, ref, img); err != nil {
			return fmt.Errorf("write %s: %w", tarPath, err)
		}
		fmt.Printf("%s  %s (%s)\n", tarPath, ref, p)
	}
	lp, err := layout.Write(filepath.Join(o.out, "oci"), empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag(o.version),
	})); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s  %s@%s (%s)\n", filepath.Join(o.out, "oci"), o.repository, d, strings.Join(platforms, ", "))
	return nil
}

// image is the empty base plus one layer with the binary.
func image(o options, osName, arch, binary string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	layerTar, err := layerTar(bin, o.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "svcmux deploy/image: " + BinaryPath, Comment: "static agent binary"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osName, arch
	cf.Created = v1.Time{Time: o.created}
	cf.Author = "Nowake AI"
	cf.Config.User = User
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "svcmux-agent",
		"org.opencontainers.image.description": "svcmux agent: many LoadBalancer Services share one mux Service",
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.url":         o.source,
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "Nowake AI",
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
	}
	return mutate.ConfigFile(img, cf)
}

// layerTar holds the directories down to the binary and the binary itself, owned by root
// and read-only for the user (the binary needs no write access, and the chart mounts the
// root filesystem read-only anyway).
func layerTar(bin []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755,
		Size: int64(len(bin)), ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
