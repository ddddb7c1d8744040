package state

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

func TestDecode(t *testing.T) {
	apiHTTP := claim("app", "api", "http", "TCP", 80, 20000, SourceAuto)
	tests := []struct {
		name string
		in   string
		want Document
	}{
		{name: "an empty value is empty state", in: "", want: Document{}},
		{name: "JSON null is empty state, as the Python controller reads it", in: "null", want: Document{}},
		{name: "an empty object is empty state and needs no migration", in: "{}", want: Document{}},
		{
			name: "the current format is read as written",
			in:   `{"mux":{"name":"mux","namespace":"svc-mux"},"portClaims":[{"channelPort":80,"muxPort":20000,"namespace":"app","port":20000,"portName":"http","protocol":"TCP","service":"api","source":"auto"}],"allocations":[],"schemaVersion":1}`,
			want: Document{Mux: testMux, Claims: []Claim{apiHTTP}},
		},
		{
			name: "portClaims is authoritative over allocations",
			in:   `{"portClaims":[],"allocations":[{"namespace":"app","service":"api","portName":"http","port":20000}]}`,
			want: Document{},
		},
		{
			name: "an allocations-only document is migrated",
			in:   `{"allocations":[{"namespace":"app","service":"api","portName":"http","protocol":"TCP","port":20000,"source":"auto"}]}`,
			want: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 0, 20000, SourceAuto)}, Migrated: true},
		},
		{
			name: "a null portClaims counts as absent, as in Python",
			in:   `{"portClaims":null,"allocations":[{"namespace":"app","service":"api","portName":"http","port":20000}]}`,
			want: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 0, 20000, SourceAuto)}, Migrated: true},
		},
		{
			name: "a document without any claim list still needs migration",
			in:   `{"mux":{"name":"mux","namespace":"svc-mux"},"schemaVersion":1}`,
			want: Document{Mux: testMux, Migrated: true},
		},
		{
			name: "protocol defaults to TCP, source to auto and muxPort to port",
			in:   `{"portClaims":[{"namespace":"app","service":"api","portName":"http","port":20000}]}`,
			want: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 0, 20000, SourceAuto)}},
		},
		{
			name: "null optional fields take their defaults",
			in:   `{"mux":null,"portClaims":[{"namespace":"app","service":"api","portName":"http","protocol":null,"source":null,"muxPort":null,"port":20000,"channelPort":null}]}`,
			want: Document{Claims: []Claim{claim("app", "api", "http", "TCP", 0, 20000, SourceAuto)}},
		},
		{
			name: "muxPort wins over port, which is then not read",
			in:   `{"portClaims":[{"namespace":"app","service":"api","portName":"http","muxPort":20000,"port":"junk","channelPort":80}]}`,
			want: Document{Claims: []Claim{apiHTTP}},
		},
		{
			name: "an integral float is a port, as Python's int() took it",
			in:   `{"portClaims":[{"namespace":"app","service":"api","portName":"http","muxPort":20000.0,"channelPort":8e1}]}`,
			want: Document{Claims: []Claim{apiHTTP}},
		},
		{
			name: "claims are sorted by key and a duplicate key keeps the last",
			in: `{"portClaims":[
				{"namespace":"app","service":"web","portName":"http","protocol":"UDP","muxPort":1,"source":"static"},
				{"namespace":"app","service":"api","portName":"http","muxPort":1,"source":"static"},
				{"namespace":"app-x","service":"api","portName":"http","muxPort":2,"source":"static"},
				{"namespace":"app","service":"api","portName":"http","muxPort":20000,"channelPort":80}]}`,
			want: Document{Claims: []Claim{
				claim("app-x", "api", "http", "TCP", 0, 2, SourceStatic),
				apiHTTP,
				claim("app", "web", "http", "UDP", 0, 1, SourceStatic),
			}},
		},
		{
			name: "unknown fields are ignored and keys are case-sensitive",
			in:   `{"extra":true,"Mux":{"name":"other"},"PortClaims":[5],"portClaims":[{"namespace":"app","service":"api","portName":"http","muxPort":20000,"channelPort":80,"note":"x","NameSpace":1}]}`,
			want: Document{Claims: []Claim{apiHTTP}},
		},
		{
			name: "a mux with only a name is kept as written",
			in:   `{"mux":{"name":"mux"},"portClaims":[]}`,
			want: Document{Mux: api.MuxRef{Name: "mux"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const ok = `"namespace":"app","service":"api","portName":"http"`
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "text that is not JSON is invalid", in: "not-json", wantErr: "invalid JSON: invalid character 'o' in literal null (expecting 'u')"},
		{name: "truncated JSON is invalid", in: `{"portClaims":[`, wantErr: "invalid JSON: unexpected end of JSON input"},
		{name: "trailing data is invalid", in: `{} {}`, wantErr: "invalid JSON: invalid character '{' after top-level value"},
		{name: "whitespace only is invalid JSON", in: " ", wantErr: "invalid JSON: unexpected end of JSON input"},
		{name: "a JSON list is not a document", in: `[]`, wantErr: "not a JSON object"},
		{name: "a JSON string is not a document", in: `"x"`, wantErr: "not a JSON object"},
		{name: "a mux that is not an object is invalid", in: `{"mux":"svc-mux/mux"}`, wantErr: "mux is not an object"},
		{name: "a mux name that is not a string is invalid", in: `{"mux":{"name":1}}`, wantErr: "mux.name is not a string"},
		{name: "a mux namespace that is not a string is invalid", in: `{"mux":{"namespace":[]}}`, wantErr: "mux.namespace is not a string"},
		{name: "portClaims that is not a list is invalid", in: `{"portClaims":{}}`, wantErr: "portClaims is not a list"},
		{name: "allocations that is not a list is invalid", in: `{"allocations":5}`, wantErr: "allocations is not a list"},
		{name: "a claim that is not an object is invalid", in: `{"portClaims":[5]}`, wantErr: "portClaims[0]: not an object"},
		{name: "a null claim is invalid", in: `{"portClaims":[null]}`, wantErr: "portClaims[0]: not an object"},
		{name: "a claim missing namespace is invalid", in: `{"portClaims":[{"service":"api","portName":"http","muxPort":1}]}`, wantErr: "portClaims[0]: missing namespace"},
		{name: "a claim missing service is invalid", in: `{"portClaims":[{"namespace":"app","portName":"http","muxPort":1}]}`, wantErr: "portClaims[0]: missing service"},
		{name: "a claim missing portName is invalid", in: `{"portClaims":[{"namespace":"app","service":"api","muxPort":1}]}`, wantErr: "portClaims[0]: missing portName"},
		{name: "a claim with an empty namespace is invalid", in: `{"portClaims":[{"namespace":"","service":"api","portName":"http","muxPort":1}]}`, wantErr: "portClaims[0]: missing namespace"},
		{name: "a claim with a numeric service is invalid", in: `{"portClaims":[{"namespace":"app","service":7,"portName":"http","muxPort":1}]}`, wantErr: "portClaims[0]: service is not a string"},
		{name: "a protocol that is not a string is invalid", in: `{"portClaims":[{` + ok + `,"protocol":6,"muxPort":1}]}`, wantErr: "portClaims[0]: protocol is not a string"},
		{name: "a source that is not a string is invalid", in: `{"portClaims":[{` + ok + `,"source":true,"muxPort":1}]}`, wantErr: "portClaims[0]: source is not a string"},
		{name: "an unknown source is invalid", in: `{"portClaims":[{` + ok + `,"source":"manual","muxPort":1}]}`, wantErr: `portClaims[0]: source "manual" is not "auto" or "static"`},
		{name: "a claim without muxPort or port is invalid", in: `{"portClaims":[{` + ok + `}]}`, wantErr: "portClaims[0]: missing muxPort"},
		{name: "muxPort 0 is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":0}]}`, wantErr: "portClaims[0]: muxPort 0 is not a port number 1-65535"},
		{name: "muxPort 65536 is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":65536}]}`, wantErr: "portClaims[0]: muxPort 65536 is not a port number 1-65535"},
		{name: "a negative muxPort is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":-1}]}`, wantErr: "portClaims[0]: muxPort -1 is not a port number 1-65535"},
		{name: "a fractional muxPort is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":80.5}]}`, wantErr: "portClaims[0]: muxPort 80.5 is not a port number 1-65535"},
		{name: "a huge muxPort is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":1e999}]}`, wantErr: "portClaims[0]: muxPort 1e999 is not a port number 1-65535"},
		{name: "a muxPort string is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":"80"}]}`, wantErr: `portClaims[0]: muxPort "80" is not a port number 1-65535`},
		{name: "a boolean muxPort is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":true}]}`, wantErr: "portClaims[0]: muxPort true is not a port number 1-65535"},
		{name: "an older port out of range is invalid", in: `{"allocations":[{` + ok + `,"port":70000}]}`, wantErr: "allocations[0]: port 70000 is not a port number 1-65535"},
		{name: "a channelPort out of range is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":1,"channelPort":0}]}`, wantErr: "portClaims[0]: channelPort 0 is not a port number 1-65535"},
		{name: "a channelPort string is invalid", in: `{"portClaims":[{` + ok + `,"muxPort":1,"channelPort":"x"}]}`, wantErr: `portClaims[0]: channelPort "x" is not a port number 1-65535`},
		{name: "the failing claim is named by its index", in: `{"portClaims":[{` + ok + `,"muxPort":1},{"muxPort":2}]}`, wantErr: "portClaims[1]: missing namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			require.EqualError(t, err, tt.wantErr)
			assert.Equal(t, Document{}, got)
		})
	}
}

// A pass compares every claim's protocol with its channel's: decoded as the
// package's constant, two equal protocols compare by address.
func TestDecodedProtocolsAreTheConstants(t *testing.T) {
	doc, err := Decode(`{"portClaims":[{"namespace":"app","service":"api","portName":"dns","protocol":"UDP","port":20000,"source":"auto"}]}`)
	require.NoError(t, err)
	require.Len(t, doc.Claims, 1)
	assert.Same(t, unsafe.StringData(string(corev1.ProtocolUDP)), unsafe.StringData(string(doc.Claims[0].Protocol)))
}
