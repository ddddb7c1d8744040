package world

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// QuietE waits until the namespaces of earlier tests ("e2e-…", other than this
// World's) are gone. The agent watches every namespace, so a test that counts the
// agent's writes must not start while another test's objects are still being torn
// down (their detach and cleanup writes land in the same counter).
func (w *World) QuietE() error {
	return w.Poll(0, func() (bool, string, error) {
		list, err := w.Client.CoreV1().Namespaces().List(w.ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		var others []string
		for _, n := range list.Items {
			if strings.HasPrefix(n.Name, "e2e-") && n.Name != w.Namespace {
				others = append(others, n.Name)
			}
		}
		return len(others) == 0, fmt.Sprintf("namespaces still terminating: %v", others), nil
	})
}

// Quiet is QuietE for a test; a teardown slower than w.Timeout is logged, not a
// failure (the test's own assertions then say whether it mattered).
func (w *World) Quiet() {
	if err := w.QuietE(); err != nil {
		w.tb().Logf("waiting for other tests' namespaces: %v", err)
	}
}
