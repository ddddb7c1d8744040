// Package release proves `make release` (deploy/release): the krew manifest obeys krew's
// manifest rules, each uri/sha256 pair names a built archive, every archive holds the
// binary, LICENSE and README.md, the chart is packaged, and the same inputs give the same
// bytes.
package release

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Manifest is the part of krew's Plugin type (sigs.k8s.io/krew/pkg/index) the rules read;
// krew itself is not a dependency.
type Manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats"`
		Platforms        []Platform `json:"platforms"`
	} `json:"spec"`
}

// Platform is one entry of spec.platforms.
type Platform struct {
	Selector *struct {
		MatchLabels      map[string]string `json:"matchLabels"`
		MatchExpressions []any             `json:"matchExpressions"`
	} `json:"selector"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files"`
}

// ParseManifest reads a manifest strictly: an unknown field is an error, as krew's index
// CI would have it.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	err := yaml.UnmarshalStrict(b, &m)
	return m, err
}

var (
	// From krew's developer guide (plugin-manifest, naming) and its validation package.
	safeName = regexp.MustCompile(`^[\w-]+$`)
	sha256Re = regexp.MustCompile(`^[a-f0-9]{64}$`)
	semverRe = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// Validate lists every rule the manifest at path breaks (none: nil).
func Validate(path string, m Manifest) []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" {
		add("apiVersion %q: want krew.googlecontainertools.github.com/v1alpha2", m.APIVersion)
	}
	if m.Kind != "Plugin" {
		add("kind %q: want Plugin", m.Kind)
	}
	file := strings.TrimSuffix(filepath.Base(path), ".yaml")
	if !safeName.MatchString(m.Metadata.Name) {
		add("metadata.name %q must match %s", m.Metadata.Name, safeName)
	}
	if m.Metadata.Name != file {
		add("metadata.name %q is not the file name %q", m.Metadata.Name, file)
	}
	if !semverRe.MatchString(m.Spec.Version) {
		add("spec.version %q is not a semantic version prefixed with v", m.Spec.Version)
	}
	switch {
	case m.Spec.ShortDescription == "":
		add("spec.shortDescription is empty")
	case strings.ContainsAny(m.Spec.ShortDescription, "\r\n"):
		add("spec.shortDescription has a line break")
	}
	if len(m.Spec.Platforms) == 0 {
		add("spec.platforms is empty")
	}
	for i, p := range m.Spec.Platforms {
		at := fmt.Sprintf("spec.platforms[%d]", i)
		if p.URI == "" {
			add("%s.uri is empty", at)
		}
		if !sha256Re.MatchString(p.SHA256) {
			add("%s.sha256 %q is not 64 lowercase hex digits", at, p.SHA256)
		}
		if p.Bin == "" {
			add("%s.bin is empty", at)
		}
		for j, f := range p.Files {
			if f.From == "" || f.To == "" {
				add("%s.files[%d] needs from and to", at, j)
			}
		}
		switch {
		case p.Selector == nil:
			add("%s.selector is missing", at)
		case len(p.Selector.MatchExpressions) > 0:
			add("%s.selector uses matchExpressions: use matchLabels os and arch only", at)
		case len(p.Selector.MatchLabels) == 0:
			add("%s.selector.matchLabels is empty", at)
		default:
			for k := range p.Selector.MatchLabels {
				if k != "os" && k != "arch" {
					add("%s.selector.matchLabels key %q: only os and arch", at, k)
				}
			}
		}
	}
	for i := range m.Spec.Platforms {
		for j := i + 1; j < len(m.Spec.Platforms); j++ {
			if overlap(m.Spec.Platforms[i], m.Spec.Platforms[j]) {
				add("spec.platforms[%d] and [%d] both match %s", i, j, labels(m.Spec.Platforms[i]))
			}
		}
	}
	return errs
}

// overlap: two matchLabels selectors match a common os/arch unless some key both name
// has different values (a key one leaves out matches every value).
func overlap(a, b Platform) bool {
	if a.Selector == nil || b.Selector == nil {
		return false
	}
	for k, va := range a.Selector.MatchLabels {
		if vb, ok := b.Selector.MatchLabels[k]; ok && va != vb {
			return false
		}
	}
	return true
}

func labels(p Platform) string {
	if p.Selector == nil {
		return "nothing"
	}
	return fmt.Sprintf("os=%s arch=%s", or(p.Selector.MatchLabels["os"]), or(p.Selector.MatchLabels["arch"]))
}

func or(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
