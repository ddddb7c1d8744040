package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/manifest"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

func TestCheckRefusesAFileObjectThatDoesNotDecodeAtItsLine(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"a Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: x}\n",
			"f:1: decode Namespace team: json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string"},
		{"a ConfigMap", "\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: state}\ndata: x\n",
			"f:2: decode ConfigMap state: json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string"},
		{"a Service", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: x}\n",
			"f:1: decode Service web: json: cannot unmarshal string into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := manifest.Parse("f", []byte(tt.data))
			require.NoError(t, err)
			_, err = sortFiles(objs, "default", api.NewKeys(""), DefaultMuxNamespace)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestAStateConfigMapInTheFilesReplacesTheLiveOneOnlyWhenTheAgentWouldSeeIt(t *testing.T) {
	live := fxState("svc-mux", "mux", `{"live":true}`)
	other := fxState("svc-mux", "other", `{"other":true}`)
	labelled := fxState("svc-mux", "mux", `{"file":true}`)
	unlabelled := labelled.DeepCopy()
	unlabelled.Labels = nil
	tests := []struct {
		name string
		file *corev1.ConfigMap
		want []corev1.ConfigMap
	}{
		{"a labelled one replaces it", labelled, []corev1.ConfigMap{*labelled, *other}},
		{"an unlabelled one hides it from the agent", unlabelled, []corev1.ConfigMap{*other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &checkFiles{ConfigMaps: []fileConfigMap{{CM: tt.file}}}
			out := overlay(snapshot.Lists{ConfigMaps: []corev1.ConfigMap{*live, *other}}, f, api.NewKeys(""))
			assert.Equal(t, tt.want, out.ConfigMaps)
		})
	}
}

func TestApplyingAFileKeepsWhatTheAgentWroteThatTheFileDoesNotSet(t *testing.T) {
	keys := api.NewKeys("")
	const hostname = "external-dns.alpha.kubernetes.io/hostname"
	liveMux := fxMux("svc-mux", "mux", map[string]string{"aggregated-external-dns": hostname, "channels": `["app/web"]`},
		fxTCP("placeholder", 101))
	liveMux.Annotations[hostname] = "web.example"
	liveWeb := fxChannel("app", "web", "mux", map[string]string{"ports": "http:80->8080"}, fxTCP("http", 80))
	fileMux := fxMux("svc-mux", "mux", nil)
	fileWeb := fxChannel("app", "web", "mux", nil, fxTCP("http", 80))
	fileWeb.Annotations = nil
	f := &checkFiles{Services: []fileService{{Svc: fileMux}, {Svc: fileWeb}}}
	out := overlay(snapshot.Lists{Services: []corev1.Service{*liveMux, *liveWeb}}, f, keys)
	require.Len(t, out.Services, 2)
	assert.Equal(t, map[string]string{keys.Ports: "http:80->8080"}, out.Services[0].Annotations,
		"a channel file without annotations gets the live ports annotation")
	assert.Equal(t, map[string]string{keys.Multiplexer: "true", keys.AggregatedExternalDNS: hostname, keys.Channels: `["app/web"]`,
		hostname: "web.example"}, out.Services[1].Annotations, "the mux keeps the external-dns keys the agent aggregated")
	assert.Equal(t, liveMux.Spec.Ports, out.Services[1].Spec.Ports)
	assert.Nil(t, fileWeb.Annotations, "the file's object is not changed")
}
