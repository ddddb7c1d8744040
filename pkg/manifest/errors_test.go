package manifest

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseNamesTheLineOfEveryOtherRefusal(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"a YAML error without a line of its own names the document's first line",
			"# a comment\n\na: b\n? [x]\n: y\n", "f:3: invalid YAML: invalid map key: []interface {}{\"x\"}"},
		{"text after a JSON object names its line", "{\"a\": 1}\n x", "f:2: invalid JSON: invalid character 'x' looking for beginning of value"},
		{"a List item without kind names the List's line", "\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {name: a}\n",
			"f:2: object has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.data))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestSplitRefusesWithTheLineInTheMessage(t *testing.T) {
	_, err := Split([]byte("apiVersion: v1\n--- kind: x\n"))
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "line 2: only a comment may follow the document separator \"---\", found \"kind: x\"", err.Error())
}

func TestDecodeReadsAnObjectIntoItsTypeOrNamesWhereItIsWrong(t *testing.T) {
	objs, err := Parse("svc.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: app}\nspec:\n  ports: [{port: 80}]\n"+
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports: x\n"))
	require.NoError(t, err)
	require.Len(t, objs, 2)

	var good corev1.Service
	require.NoError(t, objs[0].Decode(&good))
	assert.Equal(t, corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "app"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, good)

	var bad corev1.Service
	err = objs[1].Decode(&bad)
	assert.Equal(t, "svc.yaml:7: decode Service b: json: cannot unmarshal string into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort", err.Error())
	var me *Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, 7, me.Line)
}

func TestReadRefusesInputItCannotGetOrParse(t *testing.T) {
	dir := writeTree(t, map[string]string{"bad.yaml": "apiVersion: v1\nmetadata: {name: a}\n", "ok.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"})
	tests := []struct {
		name  string
		r     *Reader
		paths []string
		want  string
	}{
		{"- without a standard input", &Reader{}, []string{"-"}, "<stdin>: no standard input"},
		{"a standard input that fails to read", &Reader{Stdin: iotest.ErrReader(errors.New("stdin closed"))}, []string{"-"}, "<stdin>: stdin closed"},
		{"a standard input that does not parse", &Reader{Stdin: strings.NewReader("apiVersion: v1\n")}, []string{"-"}, "<stdin>:1: object has no kind"},
		{"a file that does not parse stops the read", &Reader{}, []string{filepath.Join(dir, "ok.yaml"), filepath.Join(dir, "bad.yaml")},
			filepath.Join(dir, "bad.yaml") + ":1: object has no kind"},
		{"a file that exists but cannot be read", &Reader{ReadFile: func(string) ([]byte, error) { return nil, errors.New("permission denied") }},
			[]string{filepath.Join(dir, "ok.yaml")}, filepath.Join(dir, "ok.yaml") + ": permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.r.Read(tt.paths)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestAMissingPathUnwrapsToNotExist(t *testing.T) {
	_, err := (&Reader{}).Read([]string{filepath.Join(t.TempDir(), "missing.yaml")})
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
