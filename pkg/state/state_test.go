package state

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

var testMux = api.MuxRef{Namespace: "svc-mux", Name: "mux"}

func TestConfigMapName(t *testing.T) {
	tests := []struct {
		name          string
		mux, override string
		want          string
	}{
		{name: "the annotation overrides the default", mux: "mux", override: "shared-state", want: "shared-state"},
		{name: "the default is the mux name with -port-allocations", mux: "mux", want: "mux-port-allocations"},
		{
			name: "a default of exactly 63 characters is kept",
			mux:  strings.Repeat("a", 46),
			want: strings.Repeat("a", 46) + "-port-allocations",
		},
		{
			// Hashes computed by hand with python3 hashlib.sha256(name).hexdigest()[:8].
			name: "a default over 63 characters becomes the mux name and a hash",
			mux:  strings.Repeat("a", 47),
			want: strings.Repeat("a", 47) + "-11eaed93",
		},
		{
			name: "a long mux name is cut to 54 characters before the hash",
			mux:  strings.Repeat("m", 80),
			want: strings.Repeat("m", 54) + "-76bf4d20",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConfigMapName(tt.mux, tt.override)
			assert.Equal(t, tt.want, got)
			if tt.override == "" {
				assert.LessOrEqual(t, len(got), 63)
			}
		})
	}
}

func TestValidateOwner(t *testing.T) {
	tests := []struct {
		name       string
		annotation string
		doc        Document
		wantErr    string
	}{
		{name: "a ConfigMap without annotation or mux belongs to anyone", doc: Document{}},
		{name: "the annotation and the document naming the mux pass", annotation: "svc-mux/mux", doc: Document{Mux: testMux}},
		{
			name:       "an annotation naming another mux is refused",
			annotation: "other/x",
			doc:        Document{Mux: testMux},
			wantErr:    "mux state ConfigMap svc-mux/mux-port-allocations is owned by mux other/x; expected svc-mux/mux. Use one state ConfigMap per mux.",
		},
		{
			name:    "a document naming another mux is refused",
			doc:     Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "other"}},
			wantErr: "mux state ConfigMap svc-mux/mux-port-allocations contains state for mux svc-mux/other; expected svc-mux/mux. Use one state ConfigMap per mux.",
		},
		{
			name:    "a document naming only a mux name is compared whole",
			doc:     Document{Mux: api.MuxRef{Name: "mux"}},
			wantErr: "mux state ConfigMap svc-mux/mux-port-allocations contains state for mux /mux; expected svc-mux/mux. Use one state ConfigMap per mux.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateOwner("svc-mux", "mux-port-allocations", tt.annotation, tt.doc, testMux)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestClaimKey(t *testing.T) {
	t.Run("the key is protocol, namespace, service and port name", func(t *testing.T) {
		c := Claim{Namespace: "app", Service: "api", PortName: "http", Protocol: corev1.ProtocolUDP}
		assert.Equal(t, "UDP:app:api:http", c.Key())
	})
	t.Run("an empty protocol keys as TCP", func(t *testing.T) {
		assert.Equal(t, "TCP:app:api:http", Claim{Namespace: "app", Service: "api", PortName: "http"}.Key())
	})
}

func claim(ns, svc, port string, proto corev1.Protocol, channel, mux int32, source string) Claim {
	return Claim{Namespace: ns, Service: svc, PortName: port, Protocol: proto, ChannelPort: channel, MuxPort: mux, Source: source}
}

func TestDocumentEqual(t *testing.T) {
	a := claim("app", "api", "http", "TCP", 80, 20000, SourceAuto)
	b := claim("app", "web", "http", "TCP", 80, 80, SourceStatic)
	tests := []struct {
		name string
		x, y Document
		want bool
	}{
		{name: "empty documents are equal", want: true},
		{name: "claim order does not matter", x: Document{Mux: testMux, Claims: []Claim{a, b}}, y: Document{Mux: testMux, Claims: []Claim{b, a}}, want: true},
		{name: "Migrated is ignored", x: Document{Mux: testMux, Migrated: true}, y: Document{Mux: testMux}, want: true},
		{
			name: "defaults compare equal to their values",
			x:    Document{Claims: []Claim{claim("app", "api", "http", "", 80, 20000, "")}},
			y:    Document{Claims: []Claim{a}},
			want: true,
		},
		{
			name: "a duplicate by key counts as its last occurrence",
			x:    Document{Claims: []Claim{claim("app", "api", "http", "TCP", 80, 1, SourceAuto), a}},
			y:    Document{Claims: []Claim{a}},
			want: true,
		},
		{name: "a different mux differs", x: Document{Mux: testMux}, y: Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "other"}}},
		{name: "a missing claim differs", x: Document{Claims: []Claim{a, b}}, y: Document{Claims: []Claim{a}}},
		{name: "a moved port differs", x: Document{Claims: []Claim{a}}, y: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 80, 20001, SourceAuto)}}},
		{name: "a changed source differs", x: Document{Claims: []Claim{a}}, y: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 80, 20000, SourceStatic)}}},
		{name: "a changed channel port differs", x: Document{Claims: []Claim{a}}, y: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 81, 20000, SourceAuto)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.x.Equal(tt.y))
			assert.Equal(t, tt.want, tt.y.Equal(tt.x))
		})
	}
	t.Run("comparing does not reorder the caller's claims", func(t *testing.T) {
		claims := []Claim{b, a}
		Document{Claims: claims}.Equal(Document{Claims: []Claim{a, b}})
		assert.Equal(t, []Claim{b, a}, claims)
	})
}
