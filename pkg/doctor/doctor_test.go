package doctor

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite the generated catalog in "+DocsPage)

func TestCatalogCodesAreStableUniqueAndInTheirRange(t *testing.T) {
	ranges := map[string]string{
		CheckAgent: "1", CheckLease: "1", CheckVersion: "1", CheckRBAC: "1",
		CheckMux: "2", CheckDrift: "2",
		CheckChannel: "3", CheckChannelFields: "3",
		CheckState: "4", CheckGitOps: "5", CheckProvider: "6", CheckNodePorts: "6",
		CheckFinalizers: "7", CheckLegacyEndpoint: "7", CheckKopf: "7",
	}
	code := regexp.MustCompile(`^SVCMUX[1-7][0-9]{2}$`)
	seen := map[string]bool{}
	prev := ""
	for _, e := range Catalog() {
		assert.Regexp(t, code, e.Code)
		assert.False(t, seen[e.Code], "%s is listed once", e.Code)
		seen[e.Code] = true
		assert.Less(t, prev, e.Code, "the catalog is in code order")
		prev = e.Code
		assert.Equal(t, ranges[e.Check], e.Code[6:7], "%s of check %q is in its hundred", e.Code, e.Check)
		assert.GreaterOrEqual(t, e.Severity.Rank(), 0, "%s has a severity", e.Code)
		assert.NotEmpty(t, e.Title)
		assert.NotEmpty(t, e.Message)
		assert.True(t, strings.HasPrefix(e.Fix, "kubectl ") || strings.HasPrefix(e.Fix, "helm "), "%s's fix is a command: %s", e.Code, e.Fix)
		assert.Equal(t, DocsPage+"#"+strings.ToLower(e.Code), e.Docs)
	}
}

// Every code a check adds must be in the catalog (the reporter would otherwise
// report an unknown code); read the checks' sources for them.
func TestEveryCodeAChecksUsesIsInTheCatalog(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	used := regexp.MustCompile(`"(SVCMUX[0-9]{3})"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "catalog.go" {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			_, ok := Lookup(m[1])
			assert.True(t, ok, "%s uses %s, which is not in the catalog", f, m[1])
			n++
		}
	}
	assert.Greater(t, n, 30)
}

func TestDocsPageShowsTheCatalog(t *testing.T) {
	path := filepath.Join("..", "..", DocsPage)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	want, err := ReplaceGenerated(string(b), CatalogMarkdown())
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		return
	}
	assert.Equal(t, want, string(b), "%s is out of date: go test ./pkg/doctor -run TestDocsPage -update", DocsPage)
}

func TestAFailedReadSkipsTheChecksThatNeedIt(t *testing.T) {
	in := baseInput(planned(testMux("mux", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "b"} }), nil))
	in.Agents = []appsv1.Deployment{healthyAgent("v0.1.0")}
	in.Lease = lease(time.Second, 15)
	in.Failed = []ReadFailure{
		{ResourceConfigMaps, "could not list configmaps: forbidden"},
		{ResourceRBAC, "could not list clusterroles: forbidden"},
	}
	r := Run(in)
	assert.Equal(t, []Skipped{
		{CheckRBAC, "could not list clusterroles: forbidden"},
		{CheckState, "could not list configmaps: forbidden"},
	}, r.Skipped)
	assert.Equal(t, []string{"SVCMUX201 Service svc-mux/mux"}, codes(r), "the mux is still judged")

	in.Failed = []ReadFailure{{ResourceServices, "could not list services: forbidden"}}
	r = Run(in)
	var checks []string
	for _, s := range r.Skipped {
		checks = append(checks, s.Check)
	}
	assert.Equal(t, []string{CheckGitOps, CheckNodePorts, CheckRBAC, CheckChannelFields, CheckChannel, CheckDrift,
		CheckLegacyEndpoint, CheckFinalizers, CheckKopf, CheckMux, CheckProvider, CheckState}, checks,
		"every check on Services is skipped (sorted by name); RBAC has no chart-labelled role here")
}

func TestFindingsAreSortedByCodeThenObjectAndCounted(t *testing.T) {
	fin := func(s *corev1.Service) { s.Finalizers = []string{testKeys.Finalizer} }
	in := baseInput(planned(testMux("b", fin, annotate(testKeys.MaxPorts, "x")), nil), planned(testMux("a", fin), nil))
	r := Run(in)
	assert.Equal(t, []string{
		"SVCMUX101 cluster",
		"SVCMUX204 Service svc-mux/b",
		"SVCMUX205 Service svc-mux/a", // never settled: its annotations are still to be written
		"SVCMUX403 Service svc-mux/a",
		"SVCMUX701 Service svc-mux/a",
		"SVCMUX701 Service svc-mux/b",
	}, codes(r))
	assert.Equal(t, SeverityError, r.Worst())
	assert.Equal(t, 2, r.AtOrAbove(SeverityError))
	assert.Equal(t, 5, r.AtOrAbove(SeverityWarning))
	assert.Equal(t, Severity(""), Report{}.Worst())
}

func TestACleanClusterHasNoFinding(t *testing.T) {
	in := baseInput(settled(t, testMux("mux"), testChannel("api", "mux", []string{"http:8080"})))
	in.Agents = []appsv1.Deployment{healthyAgent("v0.1.0")}
	in.Lease = lease(time.Second, 15)
	r := Run(in)
	assert.Equal(t, []Finding{}, r.Findings)
	assert.Equal(t, []Skipped{{CheckRBAC, "no ClusterRole labelled app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux (RBAC not installed by the chart)"}}, r.Skipped)
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"warning": SeverityWarning, " ERROR ": SeverityError, "info": SeverityInfo} {
		got, ok := ParseSeverity(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got)
	}
	_, ok := ParseSeverity("fatal")
	assert.False(t, ok)
}
