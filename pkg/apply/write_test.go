package apply

import (
	"strings"
	"testing"

	"github.com/nowakeai/svcmux/pkg/api"

	"github.com/stretchr/testify/assert"
)

func TestAWriteDescribesItselfOnOneLine(t *testing.T) {
	tests := []struct {
		name   string
		w      Write
		prefix string
		fields []string
	}{
		{"a status patch names its subresource and fields",
			Write{Verb: VerbPatch, Resource: "services", Namespace: "app", Name: "api", Subresource: "status",
				Fields: []string{"status.conditions"}},
			"patch services app/api status", []string{"status.conditions"}},
		{"a delete without fields is just verb, resource and name",
			Write{Verb: VerbDelete, Resource: "endpointslices", Namespace: "svc-mux", Name: "mux-1"},
			"delete endpointslices svc-mux/mux-1", nil},
		{"a mux patch lists every field it changes",
			Write{Verb: VerbPatch, Resource: "services", Namespace: "svc-mux", Name: "mux",
				Fields: []string{"spec.ports", "metadata.annotations[svc-mux.nowake.ai/summary]"}},
			"patch services svc-mux/mux", []string{"spec.ports", "metadata.annotations[svc-mux.nowake.ai/summary]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.w.String()
			assert.True(t, strings.HasPrefix(s, tt.prefix), "%q starts with %q", s, tt.prefix)
			assert.NotContains(t, s, "\n")
			for _, f := range tt.fields {
				assert.Contains(t, s, f)
			}
			if tt.fields == nil {
				assert.Equal(t, tt.prefix, s)
			}
		})
	}
}

func TestAPatchThatCannotBeEncodedIsAProgrammingErrorThatPanics(t *testing.T) {
	assert.PanicsWithValue(t, "apply: marshal patch: json: unsupported type: chan int", func() { mustJSON(make(chan int)) })
}

func TestEventStageNamesTheStageANormalEventReports(t *testing.T) {
	for reason, want := range map[string]Stage{
		api.ReasonMuxPortsChanged:       StageMux,
		api.ReasonMuxAnnotationsUpdated: StageMux,
		api.ReasonMuxEndpointsCreated:   StageCleanup,
		api.ReasonMuxEndpointsChanged:   StageCleanup,
		api.ReasonMuxPortConflict:       0,
	} {
		assert.Equal(t, want, EventStage(reason), reason)
	}
}
