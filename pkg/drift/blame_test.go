package drift

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func TestBlame(t *testing.T) {
	ports := path("spec", "ports")
	summary := path("metadata", "annotations", "svc-mux.nowake.ai/summary")
	accepted := path("status", "conditions", fieldpath.KeyByFields("type", "svc-mux.nowake.ai/Accepted"))
	const element = `{"f:spec":{"f:ports":{"k:{\"port\":101,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{}}}}}`
	for _, tc := range []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		path    fieldpath.Path
		want    string // manager, "" for none
		wantSub string
	}{
		{"the writer of a list element is more specific than a later owner of the list alone", []metav1.ManagedFieldsEntry{
			entry("argocd-controller", update, "", at(1), element),
			entry("svcmux", update, "", at(5), `{"f:spec":{"f:ports":{".":{}}}}`),
		}, ports, "argocd-controller", ""},
		{"on equal specificity the latest write wins", []metav1.ManagedFieldsEntry{
			entry("svcmux", update, "", at(1), element),
			entry("argocd-controller", apply, "", at(2), element),
		}, ports, "argocd-controller", ""},
		{"on equal specificity and time between two other writers the earlier entry wins", []metav1.ManagedFieldsEntry{
			entry("kubectl-edit", update, "", at(1), element),
			entry("argocd-controller", apply, "", at(1), element),
		}, ports, "kubectl-edit", ""},
		{"within the same second another writer beats the agent", []metav1.ManagedFieldsEntry{
			entry("svcmux", update, "status", at(1), statusFields),
			entry("kubectl-edit", update, "status", at(1), `{"f:status":{"f:conditions":{"k:{\"type\":\"svc-mux.nowake.ai/Accepted\"}":{"f:message":{}}}}}`),
		}, accepted, "kubectl-edit", "status"},
		{"an entry with no time loses a tie to one with a time", []metav1.ManagedFieldsEntry{
			{Manager: "old", Operation: update, FieldsV1: fields(element)},
			entry("svcmux", update, "", at(1), element),
		}, ports, "svcmux", ""},
		{"an owned annotation key is found", []metav1.ManagedFieldsEntry{
			entry("kubectl-create", update, "", at(0), `{"f:metadata":{"f:annotations":{".":{},"f:svc-mux.nowake.ai/multiplexer":{}}}}`),
			entry("kopf", update, "", at(1), annotationFields("svc-mux.nowake.ai/summary")),
		}, summary, "kopf", ""},
		{"owning the annotations map alone is not writing one of its keys", []metav1.ManagedFieldsEntry{
			entry("kubectl-create", update, "", at(0), `{"f:metadata":{"f:annotations":{".":{},"f:svc-mux.nowake.ai/multiplexer":{}}}}`),
		}, summary, "", ""},
		{"a condition written through the status subresource is reported with it", []metav1.ManagedFieldsEntry{
			entry("svcmux", update, "", at(1), annotationFields("svc-mux.nowake.ai/ports")),
			entry("svcmux", update, "status", at(1), statusFields),
		}, accepted, "svcmux", "status"},
		{"an entry without fieldsV1 or with unparsable fieldsV1 is skipped", []metav1.ManagedFieldsEntry{
			{Manager: "empty", Operation: update},
			entry("broken", update, "", at(9), `{"f:spec":`),
			entry("svcmux", update, "", at(1), element),
		}, ports, "svcmux", ""},
		{"no managedFields at all is no writer", nil, ports, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newOwnership(tc.entries).blame(tc.path)
			assert.Equal(t, tc.want, w.Manager)
			assert.Equal(t, tc.wantSub, w.Subresource)
			if tc.want == "" {
				assert.Equal(t, WriterUnknown, w.Kind)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for manager, want := range map[string]string{
		"svcmux":                        WriterAgent,
		"kr8s":                          WriterPreviousController,
		"kopf":                          WriterPreviousController,
		"argocd-controller":             WriterGitOps,
		"argocd-application-controller": WriterGitOps,
		"kustomize-controller":          WriterGitOps,
		"helm-controller":               WriterGitOps,
		"flux-client-side-apply":        WriterGitOps,
		"helm":                          WriterGitOps,
		"kubectl":                       WriterKubectl,
		"kubectl-client-side-apply":     WriterKubectl,
		"kubectl-edit":                  WriterKubectl,
		"kubectl-patch":                 WriterKubectl,
		"kube-controller-manager":       WriterOther,
		"svcmux-repair":                 WriterKubectl,
		"svcmux-old":                    WriterOther,
		"":                              WriterUnknown,
	} {
		t.Run(manager+" is "+want, func(t *testing.T) { assert.Equal(t, want, Classify(manager)) })
	}
}
