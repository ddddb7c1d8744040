package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// The README and docs describe only what exists: every `kubectl svcmux <cmd>` they
// name is a command of the plugin, and every `make <target>` the README names is a
// target of the Makefile.
func TestDocsNameOnlyCommandsAndTargetsThatExist(t *testing.T) {
	root := filepath.Join("..", "..")
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := filepath.Glob(filepath.Join(root, "docs", "plugin", "*.md"))
	pages = append(append(pages, sub...), filepath.Join(root, "README.md"))

	cmd := NewRootCmd(genericiooptions.NewTestIOStreamsDiscard(), &Globals{})
	commands := map[string]bool{}
	for _, c := range cmd.Commands() {
		commands[c.Name()] = true
	}
	plugin := regexp.MustCompile("kubectl svcmux ([a-z][a-z-]*)")
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range plugin.FindAllStringSubmatch(string(b), -1) {
			if !commands[m[1]] {
				t.Errorf("%s names `kubectl svcmux %s`, which the plugin does not have", page, m[1])
			}
		}
	}

	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("make ([a-z][a-z0-9-]*)").FindAllStringSubmatch(string(readme), -1) {
		if !regexp.MustCompile("(?m)^" + regexp.QuoteMeta(m[1]) + ":").Match(makefile) {
			t.Errorf("README.md names `make %s`, which the Makefile lacks", m[1])
		}
	}
	if !strings.Contains(string(readme), "make demo") || !strings.Contains(string(readme), "make test") {
		t.Error("README.md shows the two commands, make demo and make test")
	}
}
