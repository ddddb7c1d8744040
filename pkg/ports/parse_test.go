package ports

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExternalPorts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]Mapping
		wantErr string
	}{
		{name: "an empty value maps nothing", in: "", want: map[string]Mapping{}},
		{name: "only separators and blanks map nothing", in: " , ,, ", want: map[string]Mapping{}},
		{name: "an explicit port is kept", in: "http:30080", want: map[string]Mapping{"http": {Port: 30080}}},
		{
			name: "auto is case-insensitive",
			in:   "a:auto,b:AUTO,c:Auto",
			want: map[string]Mapping{"a": {Auto: true}, "b": {Auto: true}, "c": {Auto: true}},
		},
		{
			name: "items, names and values are trimmed and empty items skipped",
			in:   "  http : 30080 ,, grpc:  auto  ,",
			want: map[string]Mapping{"http": {Port: 30080}, "grpc": {Auto: true}},
		},
		{
			name: "a name listed twice takes the last value",
			in:   "http:30080,http:auto,grpc:auto,grpc:9090",
			want: map[string]Mapping{"http": {Auto: true}, "grpc": {Port: 9090}},
		},
		{name: "the bounds 1 and 65535 are valid ports", in: "a:1,b:65535", want: map[string]Mapping{"a": {Port: 1}, "b": {Port: 65535}}},
		{name: "leading zeros are decimal digits", in: "a:0080", want: map[string]Mapping{"a": {Port: 80}}},
		{
			name:    "an item without a colon is malformed",
			in:      "http",
			wantErr: `invalid item "http": expected name:port (1-65535) or name:auto`,
		},
		{
			name:    "an item without a name is malformed",
			in:      " : 80",
			wantErr: `invalid item ": 80": expected name:port (1-65535) or name:auto`,
		},
		{name: "port 0 is out of range", in: "grpc:0", wantErr: `invalid item "grpc:0": expected name:port (1-65535) or name:auto`},
		{name: "port 65536 is out of range", in: "a:65536", wantErr: `invalid item "a:65536": expected name:port (1-65535) or name:auto`},
		{name: "a huge number is out of range", in: "a:99999999999999999999", wantErr: `invalid item "a:99999999999999999999": expected name:port (1-65535) or name:auto`},
		{name: "a signed number is not decimal digits", in: "a:+80", wantErr: `invalid item "a:+80": expected name:port (1-65535) or name:auto`},
		{name: "a negative number is not decimal digits", in: "a:-80", wantErr: `invalid item "a:-80": expected name:port (1-65535) or name:auto`},
		{name: "a word other than auto is malformed", in: "a:automatic", wantErr: `invalid item "a:automatic": expected name:port (1-65535) or name:auto`},
		{name: "an empty value is malformed", in: "a:", wantErr: `invalid item "a:": expected name:port (1-65535) or name:auto`},
		{name: "the split is at the first colon", in: "a:80:90", wantErr: `invalid item "a:80:90": expected name:port (1-65535) or name:auto`},
		{name: "non-ASCII digits are not decimal digits", in: "a:٨٠", wantErr: `invalid item "a:٨٠": expected name:port (1-65535) or name:auto`},
		{
			name:    "every malformed item is named in one error",
			in:      "http, ok:80, grpc:0, x:auto",
			wantErr: `invalid items "http", "grpc:0": expected name:port (1-65535) or name:auto`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExternalPorts(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParsePortsAnnotation(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]int32
	}{
		{name: "an empty value maps nothing", in: "", want: map[string]int32{}},
		{
			name: "the agent's own format is read back",
			in:   "http:8080->20000, grpc:9090->20001",
			want: map[string]int32{"http": 20000, "grpc": 20001},
		},
		{name: "whitespace around parts is tolerated", in: " http : 8080 -> 20000 ,", want: map[string]int32{"http": 20000}},
		{name: "an item without a colon is skipped", in: "http8080->20000, grpc:9090->20001", want: map[string]int32{"grpc": 20001}},
		{name: "an item without an arrow is skipped", in: "http:8080, grpc:9090->20001", want: map[string]int32{"grpc": 20001}},
		{name: "an item with an empty name is skipped", in: ":8080->20000", want: map[string]int32{}},
		{name: "a mux port that is not a number leaves no entry", in: "http:8080->pending", want: map[string]int32{}},
		{name: "a mux port out of range leaves no entry", in: "a:1->0, b:1->65536, c:1->65535", want: map[string]int32{"c": 65535}},
		{name: "a later item for the same name replaces an earlier one", in: "http:1->20000, http:1->20005", want: map[string]int32{"http": 20005}},
		{name: "a later invalid item for the same name removes the entry, as in Python", in: "http:1->20000, http:1->bad", want: map[string]int32{}},
		{name: "the channel port part is not validated", in: "http:pending->20000", want: map[string]int32{"http": 20000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ParsePortsAnnotation(tt.in))
		})
	}
}

func TestFormatPortsAnnotation(t *testing.T) {
	t.Run("no mappings format as the empty string", func(t *testing.T) {
		assert.Equal(t, "", FormatPortsAnnotation(nil))
	})
	t.Run("mappings are joined by comma and space in the given order", func(t *testing.T) {
		got := FormatPortsAnnotation([]PortMapping{
			{Name: "http", ChannelPort: 8080, MuxPort: 20000},
			{Name: "grpc", ChannelPort: 9090, MuxPort: 20001},
		})
		assert.Equal(t, "http:8080->20000, grpc:9090->20001", got)
	})
	t.Run("formatting then parsing gives the mux ports back", func(t *testing.T) {
		in := []PortMapping{{Name: "b", ChannelPort: 1, MuxPort: 2}, {Name: "a", ChannelPort: 3, MuxPort: 4}}
		assert.Equal(t, map[string]int32{"b": 2, "a": 4}, ParsePortsAnnotation(FormatPortsAnnotation(in)))
	})
}

func TestMuxPortName(t *testing.T) {
	// Expected values are sha256(...).hexdigest()[:7] computed by hand with python3's hashlib.
	tests := []struct {
		name                         string
		namespace, service, portName string
		want                         string
	}{
		{name: "app/api/http hashes like the Python port_hash", namespace: "app", service: "api", portName: "http", want: "bcaefde"},
		{name: "default/web/grpc hashes like the Python port_hash", namespace: "default", service: "web", portName: "grpc", want: "4c61a59"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MuxPortName(tt.namespace, tt.service, tt.portName)
			assert.Equal(t, tt.want, got)
			assert.Len(t, got, 7)
		})
	}
	t.Run("renaming the port is a new identity", func(t *testing.T) {
		assert.NotEqual(t, MuxPortName("app", "api", "http"), MuxPortName("app", "api", "web"))
	})
}

func TestParseExternalPortListIsParseExternalPortsInOrder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ExternalPort
	}{
		{name: "an empty value lists nothing", in: "", want: nil},
		{name: "names keep the order they are first listed in", in: "web:80, grpc:auto",
			want: []ExternalPort{{"web", Mapping{Port: 80}}, {"grpc", Mapping{Auto: true}}}},
		{name: "a name listed twice keeps its first place and takes its last value", in: "web:80,grpc:auto,web:AUTO",
			want: []ExternalPort{{"web", Mapping{Auto: true}}, {"grpc", Mapping{Auto: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExternalPortList(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			asMap, err := ParseExternalPorts(tt.in)
			require.NoError(t, err)
			assert.Len(t, asMap, len(got))
			for _, e := range got {
				assert.Equal(t, e.Mapping, asMap[e.Name])
			}
		})
	}
	t.Run("a bad item fails both the same way", func(t *testing.T) {
		_, listErr := ParseExternalPortList("web:0, :80")
		_, mapErr := ParseExternalPorts("web:0, :80")
		require.Error(t, listErr)
		assert.Equal(t, mapErr, listErr)
		assert.EqualError(t, listErr, `invalid items "web:0", ":80": expected name:port (1-65535) or name:auto`)
	})
}

func TestMuxPortNameOfALongIdentityHashesTheWholeOfIt(t *testing.T) {
	// Longer than the stack buffer the hash input is assembled in.
	ns, svc := strings.Repeat("n", 63), strings.Repeat("s", 253)
	sum := sha256.Sum256([]byte(ns + "/" + svc + "/http"))
	assert.Equal(t, hex.EncodeToString(sum[:])[:7], MuxPortName(ns, svc, "http"))
}

func TestPortsAnnotationPortReadsAsParsePortsAnnotation(t *testing.T) {
	values := []string{
		"", "http:8080->20000", "http:8080->20000, grpc:9090->20001", " http : 1 -> 2 ,grpc:3->4",
		"http:8080->20000,http:8080->20005", "http:8080->20000,http:8080->nope", "http:8080->nope,http:8080->20000",
		"http:8080", "http->20000", ":1->2", "http:1->2->3", "http:a:b->70000", "web:1->0001",
	}
	for _, v := range values {
		want := ParsePortsAnnotation(v)
		for _, name := range []string{"http", "grpc", "web", ""} {
			t.Run(fmt.Sprintf("%q/%s", v, name), func(t *testing.T) {
				port, ok := PortsAnnotationPort(v, name)
				wantPort, wantOK := want[name]
				assert.Equal(t, wantOK, ok)
				assert.Equal(t, wantPort, port)
			})
		}
	}
}
