package state

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoNodePorts is the document for two remembered ports, written out by hand in
// the allocations.json layout (sorted keys, two-space indent, no trailing newline).
const twoNodePorts = `{
  "nodePorts": [
    {
      "name": "1a2b3c4",
      "nodePort": 31234,
      "port": 20000,
      "protocol": "TCP"
    },
    {
      "name": "9f8e7d6",
      "nodePort": 30053,
      "port": 53,
      "protocol": "UDP"
    }
  ],
  "schemaVersion": 1
}`

func TestEncodeNodePortsWritesSortedKeysAndEntriesSortedByName(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   NodePorts
		want string
	}{
		{
			name: "entries given out of order come out sorted by name, TCP filled in",
			in: NodePorts{
				{Name: "9f8e7d6", Port: 53, Protocol: "UDP", NodePort: 30053},
				{Name: "1a2b3c4", Port: 20000, NodePort: 31234},
			},
			want: twoNodePorts,
		},
		{
			name: "no entries is an empty list",
			want: "{\n  \"nodePorts\": [],\n  \"schemaVersion\": 1\n}",
		},
		{
			name: "an unknown port is left out",
			in:   NodePorts{{Name: "x", Protocol: "SCTP", NodePort: 30000}},
			want: "{\n  \"nodePorts\": [\n    {\n      \"name\": \"x\",\n      \"nodePort\": 30000,\n      \"protocol\": \"SCTP\"\n    }\n  ],\n  \"schemaVersion\": 1\n}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, EncodeNodePorts(tc.in))
		})
	}
}

func TestEncodeNodePortsIsWhatJSONIndentWritesForTheSameContent(t *testing.T) {
	// encoding/json sorts map keys and indents like Python for plain ASCII content,
	// so it is an independent check of the layout.
	var v any
	require.NoError(t, json.Unmarshal([]byte(twoNodePorts), &v))
	want, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	got, err := DecodeNodePorts(twoNodePorts)
	require.NoError(t, err)
	assert.Equal(t, string(want), EncodeNodePorts(got))
}

func TestDecodeNodePorts(t *testing.T) {
	two := NodePorts{
		{Name: "1a2b3c4", Port: 20000, Protocol: "TCP", NodePort: 31234},
		{Name: "9f8e7d6", Port: 53, Protocol: "UDP", NodePort: 30053},
	}
	for _, tc := range []struct {
		name string
		raw  string
		want NodePorts
		err  string
	}{
		{name: "the encoded document reads back", raw: twoNodePorts, want: two},
		{name: "a missing key is no memory", raw: "", want: nil},
		{name: "JSON null is no memory", raw: "null", want: nil},
		{name: "a document without nodePorts is no memory", raw: `{"schemaVersion": 1}`, want: nil},
		{
			name: "compact JSON in another order, unknown fields and a repeated name (the last wins) are read",
			raw: `{"schemaVersion":1,"nodePorts":[{"protocol":"UDP","nodePort":1,"name":"9f8e7d6","note":"x"},` +
				`{"nodePort":31234,"port":20000,"name":"1a2b3c4"},{"name":"9f8e7d6","port":53,"protocol":"UDP","nodePort":30053}]}`,
			want: two,
		},
		{name: "invalid JSON is an error", raw: `{"nodePorts": [`, err: "invalid JSON: unexpected end of JSON input"},
		{name: "a JSON list is not a document", raw: `[]`, err: "not a JSON object"},
		{name: "nodePorts must be a list", raw: `{"nodePorts": {}}`, err: "nodePorts is not a list"},
		{name: "an entry must be an object", raw: `{"nodePorts": [3]}`, err: "nodePorts[0]: not an object"},
		{name: "an entry needs a name", raw: `{"nodePorts": [{"nodePort": 30000}]}`, err: "nodePorts[0]: missing name"},
		{name: "an entry needs a nodePort", raw: `{"nodePorts": [{"name": "a"}]}`, err: "nodePorts[0]: missing nodePort"},
		{
			name: "a nodePort out of range is an error",
			raw:  `{"nodePorts": [{"name": "a", "nodePort": 30000}, {"name": "b", "nodePort": 70000}]}`,
			err:  "nodePorts[1]: nodePort 70000 is not a port number 1-65535",
		},
		{name: "a string nodePort is an error", raw: `{"nodePorts": [{"name": "a", "nodePort": "30000"}]}`,
			err: `nodePorts[0]: nodePort "30000" is not a port number 1-65535`},
		{name: "a name must be a string", raw: `{"nodePorts": [{"name": 1, "nodePort": 30000}]}`, err: "nodePorts[0]: name is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeNodePorts(tc.raw)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNodePortsGetFindsAnEntryByName(t *testing.T) {
	m := NodePorts{{Name: "a", NodePort: 30001}, {Name: "c", NodePort: 30003}}
	got, ok := m.Get("c")
	assert.True(t, ok)
	assert.Equal(t, NodePort{Name: "c", NodePort: 30003}, got)
	_, ok = m.Get("b")
	assert.False(t, ok)
}
