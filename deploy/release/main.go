// Command release packs a release (`make release`): one archive of kubectl-svcmux per
// platform (tar.gz, zip for Windows) with LICENSE, README.md and the completion script
// kubectl_complete-svcmux (.bat for Windows), the Helm chart packaged
// with the Helm SDK, checksums.txt, and the krew manifest rendered from its template with
// every archive's uri and sha256.
//
// The binaries are built by the Makefile (one place for the ldflags); this program packs:
//
//	go run ./deploy/release -version v1.2.3 -out dist/release \
//	  -binary linux/amd64=dist/bin/linux-amd64/kubectl-svcmux …
//
// Everything is reproducible: entries are sorted, owned by root (uid/gid 0, no names),
// dated SOURCE_DATE_EPOCH (default 1980-01-01, the earliest a zip can say), and gzip
// streams carry no name or time, so the same inputs give the same sha256 sums.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/nowakeai/svcmux/deploy/platform"
)

// Plugin is the binary's name; krew calls the plugin "svcmux".
const Plugin = "kubectl-svcmux"

// Completion is the script kubectl (1.26+) runs from PATH to complete `kubectl svcmux`.
const Completion = "kubectl_complete-svcmux"

// zipEpoch is 1980-01-01, the earliest time a zip entry can carry.
const zipEpoch = 315532800

type options struct {
	version, out, uriBase, license, readme, chart, krewTemplate, completion string
	mtime                                                                   time.Time
	binaries                                                                platform.Binaries
}

func main() {
	o := options{binaries: platform.Binaries{}}
	flag.StringVar(&o.version, "version", "", "release version; not a v-semver (e.g. a git describe) becomes v0.0.0-<it>")
	flag.StringVar(&o.out, "out", "dist/release", "output directory")
	flag.StringVar(&o.uriBase, "uri-base", "https://github.com/nowakeai/svcmux/releases/download/{{.Version}}",
		"where the archives are downloaded from (a template: {{.Version}})")
	flag.StringVar(&o.license, "license", "LICENSE", "LICENSE file put in every archive")
	flag.StringVar(&o.readme, "readme", "README.md", "README put in every archive")
	flag.StringVar(&o.chart, "chart", "deploy/helm/svcmux", "the Helm chart directory")
	flag.StringVar(&o.krewTemplate, "krew-template", "krew/svcmux.yaml.tmpl", "the krew manifest template")
	flag.StringVar(&o.completion, "completion", "krew/"+Completion,
		"kubectl's completion script for the plugin put in every archive (with .bat for Windows)")
	flag.Var(o.binaries, "binary", "os/arch=path of kubectl-svcmux for that platform (repeat)")
	flag.Parse()
	epoch, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err == nil {
		o.mtime = epoch
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(zipEpoch, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	if n < zipEpoch {
		n = zipEpoch
	}
	return time.Unix(n, 0).UTC(), nil
}

var semverRe = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Version is the release's version as krew wants it: v-semver. A development build's
// `git describe` (a commit, maybe -dirty) becomes a pre-release of v0.0.0.
func Version(v string) string {
	if semverRe.MatchString(v) {
		return v
	}
	pre := strings.Trim(regexp.MustCompile(`[^0-9A-Za-z-]+`).ReplaceAllString(v, "-"), "-")
	if pre == "" {
		pre = "dev"
	}
	return "v0.0.0-" + pre
}

// Archive is one platform's archive, as the krew template sees it.
type Archive struct {
	OS, Arch, File, URI, SHA256, Bin string
}

func run(o options) error {
	if len(o.binaries) == 0 {
		return errors.New("no -binary given: build cmd/kubectl-svcmux first (make release does)")
	}
	version := Version(o.version)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	uriBase, err := expand(o.uriBase, map[string]string{"Version": version})
	if err != nil {
		return fmt.Errorf("-uri-base: %w", err)
	}
	license, err := os.ReadFile(o.license)
	if err != nil {
		return err
	}
	readme, err := os.ReadFile(o.readme)
	if err != nil {
		return err
	}
	completion, err := os.ReadFile(o.completion)
	if err != nil {
		return err
	}
	completionBat, err := os.ReadFile(o.completion + ".bat")
	if err != nil {
		return err
	}
	platforms := make([]string, 0, len(o.binaries))
	for p := range o.binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)

	sums := map[string]string{}
	var archives []Archive
	for _, p := range platforms {
		osName, arch, _ := strings.Cut(p, "/")
		bin, err := os.ReadFile(o.binaries[p])
		if err != nil {
			return fmt.Errorf("%s: %w (is cmd/kubectl-svcmux built for it?)", p, err)
		}
		a := Archive{OS: osName, Arch: arch, Bin: Plugin}
		if osName == "windows" {
			a.Bin += ".exe"
		}
		complete := entry{Completion, completion, 0o755}
		if osName == "windows" {
			complete = entry{Completion + ".bat", completionBat, 0o755}
		}
		entries := []entry{{"LICENSE", license, 0o644}, {"README.md", readme, 0o644}, {a.Bin, bin, 0o755}, complete}
		var data []byte
		if osName == "windows" {
			a.File = fmt.Sprintf("%s_%s_%s_%s.zip", Plugin, version, osName, arch)
			data, err = zipArchive(entries, o.mtime)
		} else {
			a.File = fmt.Sprintf("%s_%s_%s_%s.tar.gz", Plugin, version, osName, arch)
			data, err = tarGz(entries, o.mtime)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", a.File, err)
		}
		if err := os.WriteFile(filepath.Join(o.out, a.File), data, 0o644); err != nil {
			return err
		}
		a.SHA256 = sha(data)
		a.URI = strings.TrimSuffix(uriBase, "/") + "/" + a.File
		sums[a.File] = a.SHA256
		archives = append(archives, a)
	}

	chartFile, chartSum, err := packageChart(o.chart, o.out, version, o.mtime)
	if err != nil {
		return fmt.Errorf("package the chart: %w", err)
	}
	sums[chartFile] = chartSum

	manifest, err := krewManifest(o.krewTemplate, version, archives)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.out, "krew"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "krew", "svcmux.yaml"), manifest, 0o644); err != nil {
		return err
	}

	files := make([]string, 0, len(sums))
	for f := range sums {
		files = append(files, f)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "%s  %s\n", sums[f], f) // sha256sum's format: `sha256sum -c checksums.txt`
	}
	if err := os.WriteFile(filepath.Join(o.out, "checksums.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	fmt.Printf("%s  (krew manifest)\n", filepath.Join(o.out, "krew", "svcmux.yaml"))
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func expand(tmpl string, data any) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, data)
	return b.String(), err
}

// packageChart saves the chart as <name>-<version>.tgz with the release's version (semver
// without the v) and fixed file times (Helm would otherwise stamp the files' mtimes).
func packageChart(dir, out, version string, mtime time.Time) (file, sum string, err error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", "", err
	}
	ch.Metadata.Version = strings.TrimPrefix(version, "v")
	ch.Metadata.AppVersion = strings.TrimPrefix(version, "v")
	if err := ch.Validate(); err != nil {
		return "", "", err
	}
	ch.StampModTimes(mtime)
	path, err := chartutil.Save(ch, out)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	return filepath.Base(path), sha(data), nil
}

func krewManifest(tmplPath, version string, archives []Archive) ([]byte, error) {
	raw, err := os.ReadFile(tmplPath)
	if err != nil {
		return nil, err
	}
	t, err := template.New(filepath.Base(tmplPath)).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tmplPath, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]any{"Version": version, "Archives": archives}); err != nil {
		return nil, fmt.Errorf("%s: %w", tmplPath, err)
	}
	return b.Bytes(), nil
}
