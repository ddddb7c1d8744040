package benchreport

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestReportsNameTheRunTheSameWayFromAnyPackage(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// This package sits in test/benchreport: the module root is two up.
	want := filepath.Join(filepath.Dir(filepath.Dir(wd)), "test", "bench", "results",
		time.Now().UTC().Format("2006-01-02")+"-"+Commit()+"-latency.md")
	got, err := ResultsPath("-latency.md")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("ResultsPath = %s, want %s", got, want)
	}
	for _, c := range []struct {
		name, got string
		want      *regexp.Regexp
	}{
		{"the tree is the short commit, marked when it has changes", Tree(), regexp.MustCompile(`^[0-9a-f]{7,}( \+ uncommitted changes)?$`)},
		{"the machine names its cores, GOMAXPROCS and kernel", Machine(), regexp.MustCompile(`^.+, \d+ cores \(GOMAXPROCS \d+\), Linux .+$`)},
		{"the load is three averages", LoadAvg(), regexp.MustCompile(`^\d+\.\d+ \d+\.\d+ \d+\.\d+$`)},
		{"the control plane is named for its cache directory", ControlPlane("/repo/test/.cache/k8s-v1.37.2-etcd-v3.6.16/bin"), regexp.MustCompile(`^k8s-v1\.37\.2-etcd-v3\.6\.16$`)},
	} {
		if !c.want.MatchString(c.got) {
			t.Errorf("%s: got %q, want %s", c.name, c.got, c.want)
		}
	}
}
