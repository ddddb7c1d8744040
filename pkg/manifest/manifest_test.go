package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// where lists objects as "file:line Kind ns/name".
func where(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Where()+" "+o.Kind+" "+o.Namespace+"/"+o.Name)
	}
	return out
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

const twoServices = `# leading comment
apiVersion: v1
kind: Service
metadata:
  name: a
---
# a comment before the second

apiVersion: v1
kind: Service
metadata:
  name: b
  namespace: team
--- # separator with a comment
---
`

func TestParse(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"each YAML document starts at its first content line", twoServices,
			[]string{"f:2 Service /a", "f:9 Service team/b"}},
		{"a JSON object is one document at its opening brace", "\n\n  {\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}\n",
			[]string{"f:3 ConfigMap /c"}},
		{"concatenated JSON objects are read one by one", "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"}}\n{\n \"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"b\"}}",
			[]string{"f:1 Service /a", "f:2 Service /b"}},
		{"a List is expanded and its items share its line", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n",
			[]string{"f:1 Service /a", "f:1 Deployment /d"}},
		{"a JSON List is expanded too", `{"apiVersion":"v1","kind":"ServiceList","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"}}]}`,
			[]string{"f:1 Service /a"}},
		{"documents of only comments and blanks are dropped", "# nothing\n---\n\n---\n# still nothing\n", nil},
		{"a document of only null is dropped", "~\n", nil},
		{"CRLF line endings count lines alike", "apiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: b\r\n",
			[]string{"f:1 Service /a", "f:6 Service /b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Parse("f", []byte(tt.data))
			require.NoError(t, err)
			assert.Equal(t, tt.want, where(objs))
		})
	}
}

func TestParseRefusesBadInputWithFileAndLine(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"YAML that does not parse names the file's line, not the document's",
			"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n   bad: indent\n",
			"f:9: invalid YAML: mapping values are not allowed in this context"},
		{"JSON that does not parse names its line", "{\"apiVersion\": \"v1\",\n\"kind\": \"Service\",\n\"metadata\": {\"name\": \"a\",}}\n",
			"f:3: invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"a document without kind", "apiVersion: v1\nmetadata: {name: a}\n", "f:1: object has no kind"},
		{"a document without apiVersion", "\n\nkind: Service\n", "f:3: Service has no apiVersion"},
		{"a document that is a list, not an object", "- a\n- b\n", "f:1: not a Kubernetes object: json: cannot unmarshal array into Go value of type manifest.head"},
		{"text after the document separator", "apiVersion: v1\nkind: Service\n--- kind: x\n", "f:3: only a comment may follow the document separator \"---\", found \"kind: x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tt.data))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestReadFilesDirectoriesAndStdin(t *testing.T) {
	svc := func(name string) string {
		return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n"
	}
	dir := writeTree(t, map[string]string{
		"b.yaml":          svc("b"),
		"a.yml":           svc("a"),
		"c.json":          `{"apiVersion":"v1","kind":"Service","metadata":{"name":"c"}}`,
		"notes.txt":       "not a manifest",
		"sub/d.yaml":      svc("d"),
		"sub/deep/e.yaml": svc("e"),
	})
	rel := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name      string
		paths     []string
		recursive bool
		stdin     string
		want      []string
	}{
		{"a directory gives its manifests in name order, not subdirectories", []string{dir}, false, "",
			[]string{rel("a.yml") + ":1 Service /a", rel("b.yaml") + ":1 Service /b", rel("c.json") + ":1 Service /c"}},
		{"-R descends into subdirectories", []string{rel("sub")}, true, "",
			[]string{rel("sub/d.yaml") + ":1 Service /d", rel("sub/deep/e.yaml") + ":1 Service /e"}},
		{"a file given by name is read whatever its extension", []string{rel("sub/d.yaml")}, false, "",
			[]string{rel("sub/d.yaml") + ":1 Service /d"}},
		{"- reads standard input, in argument order", []string{"-", rel("a.yml")}, false, "\n" + svc("s"),
			[]string{"<stdin>:2 Service /s", rel("a.yml") + ":1 Service /a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{Recursive: tt.recursive, Stdin: strings.NewReader(tt.stdin)}
			objs, err := r.Read(tt.paths)
			require.NoError(t, err)
			assert.Equal(t, tt.want, where(objs))
		})
	}
}

func TestReadRefusesWhatItCannotRead(t *testing.T) {
	dir := writeTree(t, map[string]string{"sub/a.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "empty.yaml": "# nothing\n"})
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"a path that does not exist", []string{filepath.Join(dir, "missing.yaml")}, filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{"a directory whose only manifest holds no object", []string{dir}, dir + ": no objects found"},
		{"stdin twice", []string{"-", "-"}, "<stdin>: \"-\" given twice: standard input can be read once"},
		{"files with no object at all", []string{filepath.Join(dir, "empty.yaml")}, filepath.Join(dir, "empty.yaml") + ": no objects found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Reader{Stdin: strings.NewReader("")}).Read(tt.paths)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestADirectoryWithoutManifestsSaysSoAndSuggestsR(t *testing.T) {
	dir := writeTree(t, map[string]string{"sub/a.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"})
	_, err := (&Reader{}).Read([]string{dir})
	require.Error(t, err)
	assert.Equal(t, dir+": no .yaml, .yml, .json files in the directory (use -R to read subdirectories)", err.Error())
}
