package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nowakeai/svcmux/pkg/api"
)

// The files in testdata were written by hand from SPEC §4 and the rules of Python's
// json.dumps(indent=2, sort_keys=True) with ensure_ascii, never by running Encode.
// They were then cross-checked by hand with python3: for each file,
// json.dumps(json.loads(f), indent=2, sort_keys=True) == f, and claims.json and
// older-allocations.migrated.json equal what svc-lb-mux's MuxState.to_state builds
// (claims sorted by their "protocol:namespace:service:portName" key). None ends in a
// newline, as the Python controller writes none.

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

// claimsDoc is the content of testdata/claims.json, listed out of order on purpose.
func claimsDoc() Document {
	return Document{Mux: testMux, Claims: []Claim{
		claim("app", "dns", "dns", "UDP", 53, 20000, SourceAuto),
		claim("app", "web", "http", "", 80, 80, SourceStatic),
		claim("app", "api", "grpc", "TCP", 9090, 20001, ""),
		claim("app-x", "api", "http", "TCP", 8080, 8080, SourceStatic),
	}}
}

func TestEncodeGolden(t *testing.T) {
	t.Run("an empty state for svc-mux/mux is written like the Python controller", func(t *testing.T) {
		assert.Equal(t, golden(t, "empty.json"), Document{Mux: testMux}.Encode())
	})
	t.Run("claims are sorted by key, so app-x sorts before app and TCP before UDP, and auto claims repeat in allocations", func(t *testing.T) {
		assert.Equal(t, golden(t, "claims.json"), claimsDoc().Encode())
	})
	t.Run("strings are escaped like Python's ensure_ascii", func(t *testing.T) {
		doc := Document{
			Mux: api.MuxRef{Name: "müx 中 😀", Namespace: `q"b\s/<>&`},
			Claims: []Claim{{
				Namespace: "n\n\r\t\b\f", Service: "é\u2028\uffff", PortName: "c\x01\x1f\x7f\u0080~ ",
				Protocol: "SCTP", ChannelPort: 1, MuxPort: 65535, Source: SourceStatic,
			}},
		}
		assert.Equal(t, golden(t, "escapes.json"), doc.Encode())
	})
	t.Run("an older allocations-only document is migrated to portClaims", func(t *testing.T) {
		doc, err := Decode(golden(t, "older-allocations.json"))
		require.NoError(t, err)
		assert.True(t, doc.Migrated)
		assert.Equal(t, testMux, doc.Mux)
		assert.Equal(t, golden(t, "older-allocations.migrated.json"), doc.Encode())
	})
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, name := range []string{"empty.json", "claims.json", "older-allocations.migrated.json", "escapes.json"} {
		t.Run("the canonical "+name+" decodes and encodes to the same bytes", func(t *testing.T) {
			raw := golden(t, name)
			doc, err := Decode(raw)
			require.NoError(t, err)
			assert.False(t, doc.Migrated)
			assert.Equal(t, raw, doc.Encode())
		})
	}
	t.Run("claims.json decodes to its claims, sorted and defaulted", func(t *testing.T) {
		doc, err := Decode(golden(t, "claims.json"))
		require.NoError(t, err)
		assert.Equal(t, Document{Mux: testMux, Claims: []Claim{
			claim("app-x", "api", "http", "TCP", 8080, 8080, SourceStatic),
			claim("app", "api", "grpc", "TCP", 9090, 20001, SourceAuto),
			claim("app", "web", "http", "TCP", 80, 80, SourceStatic),
			claim("app", "dns", "dns", "UDP", 53, 20000, SourceAuto),
		}}, doc)
		assert.True(t, doc.Equal(claimsDoc()))
	})
	t.Run("escapes.json decodes to the original strings", func(t *testing.T) {
		doc, err := Decode(golden(t, "escapes.json"))
		require.NoError(t, err)
		assert.Equal(t, api.MuxRef{Name: "müx 中 😀", Namespace: `q"b\s/<>&`}, doc.Mux)
		require.Len(t, doc.Claims, 1)
		assert.Equal(t, "n\n\r\t\b\f", doc.Claims[0].Namespace)
		assert.Equal(t, "c\x01\x1f\x7f\u0080~ ", doc.Claims[0].PortName)
		assert.Equal(t, "é\u2028\uffff", doc.Claims[0].Service)
	})
}

func TestEncode(t *testing.T) {
	t.Run("a zero document still names the mux fields", func(t *testing.T) {
		want := "{\n  \"allocations\": [],\n  \"mux\": {\n    \"name\": \"\",\n    \"namespace\": \"\"\n  },\n  \"portClaims\": [],\n  \"schemaVersion\": 1\n}"
		assert.Equal(t, want, Document{}.Encode())
	})
	t.Run("a duplicate key is written once, with its last value", func(t *testing.T) {
		doc := Document{Mux: testMux, Claims: []Claim{
			claim("app", "api", "http", "TCP", 80, 1, SourceStatic),
			claim("app", "api", "http", "TCP", 80, 20000, SourceAuto),
		}}
		want := Document{Mux: testMux, Claims: []Claim{claim("app", "api", "http", "TCP", 80, 20000, SourceAuto)}}
		assert.Equal(t, want.Encode(), doc.Encode())
	})
	t.Run("invalid UTF-8 is written as the replacement character", func(t *testing.T) {
		doc := Document{Mux: api.MuxRef{Name: "a\xffb"}}
		assert.Contains(t, doc.Encode(), `"name": "a\ufffdb"`)
	})
	t.Run("encoding does not reorder the caller's claims", func(t *testing.T) {
		doc := claimsDoc()
		before := append([]Claim(nil), doc.Claims...)
		doc.Encode()
		assert.Equal(t, before, doc.Claims)
	})
}
