// Package chart renders deploy/helm/svcmux with Helm's own Go SDK (the engine `helm
// template` and `helm install` use) and decodes the result, so tests hold the chart to
// what it promises: lint clean, restricted Pod Security, least RBAC, the svc-lb-mux
// values file installing unchanged.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	helmchart "helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// KubeVersion is the cluster version renders assume: the one the test control plane runs.
const KubeVersion = "v1.37.2"

// Dir is deploy/helm/svcmux in this checkout, found from this file so tests run from any
// working directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "helm", "svcmux")
}

// Load reads the chart from Dir.
func Load() (*chartv2.Chart, error) {
	return loader.LoadDir(Dir())
}

// Options say where the release goes and what the cluster serves.
type Options struct {
	Release   string // default "svcmux"
	Namespace string // default "svc-mux"
	// ExtraAPIs are added to the capabilities (e.g. "monitoring.coreos.com/v1/ServiceMonitor").
	ExtraAPIs []string
}

func (o Options) withDefaults() Options {
	if o.Release == "" {
		o.Release = "svcmux"
	}
	if o.Namespace == "" {
		o.Namespace = "svc-mux"
	}
	return o
}

// Capabilities is Helm's default set at KubeVersion, plus extra APIs.
func Capabilities(extra ...string) (*helmchart.Capabilities, error) {
	kv, err := helmchart.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps := helmchart.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = append(append(helmchart.VersionSet{}, caps.APIVersions...), extra...)
	return caps, nil
}

// Rendered is a chart's output: the objects by file, and NOTES.txt.
type Rendered struct {
	Objects []*unstructured.Unstructured // sorted by kind, then name
	Notes   string
}

// Find returns the object of that kind and name, or nil.
func (r Rendered) Find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// OfKind returns every object of that kind.
func (r Rendered) OfKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.Objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// Kinds lists "Kind/name" of every object, sorted.
func (r Rendered) Kinds() []string {
	out := make([]string, 0, len(r.Objects))
	for _, o := range r.Objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// Render validates values against values.schema.json and renders every template, as
// `helm install --dry-run` would (without the server's admission).
func Render(values map[string]any, opts Options) (Rendered, error) {
	ch, err := Load()
	if err != nil {
		return Rendered{}, err
	}
	return RenderChart(ch, values, opts)
}

// RenderChart is Render for a chart already loaded.
func RenderChart(ch *chartv2.Chart, values map[string]any, opts Options) (Rendered, error) {
	opts = opts.withDefaults()
	caps, err := Capabilities(opts.ExtraAPIs...)
	if err != nil {
		return Rendered{}, err
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, values,
		helmchart.ReleaseOptions{Name: opts.Release, Namespace: opts.Namespace, IsInstall: true, Revision: 1}, caps, false)
	if err != nil {
		return Rendered{}, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return Rendered{}, err
	}
	var out Rendered
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := files[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			out.Notes = body
			continue
		case !strings.HasSuffix(name, ".yaml"):
			continue
		}
		objs, err := Decode(body)
		if err != nil {
			return Rendered{}, fmt.Errorf("%s: %w", name, err)
		}
		out.Objects = append(out.Objects, objs...)
	}
	sort.SliceStable(out.Objects, func(i, j int) bool {
		a, b := out.Objects[i], out.Objects[j]
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		return a.GetName() < b.GetName()
	})
	return out, nil
}

// Decode splits a multi-document manifest into objects, skipping empty documents.
func Decode(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("a document without apiVersion or kind: %v", m)
		}
		out = append(out, u)
	}
}

// ReadValues reads a values file as Helm does.
func ReadValues(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return loader.LoadValues(f)
}
