// Package manifest reads Kubernetes manifests the way kubectl's -f does — files,
// directories (with -R, recursively), "-" for stdin; multi-document YAML or JSON;
// List kinds expanded — and remembers, for every object, the file and line it came
// from, so a pre-flight check can point at the line to fix.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Stdin is the file name "-" reads, as objects read from it show it.
const Stdin = "<stdin>"

// Extensions are the file names a directory contributes (any name given explicitly is read).
var Extensions = []string{".yaml", ".yml", ".json"}

// Object is one object of a manifest, where it was found, and its JSON.
type Object struct {
	File       string
	Line       int
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// JSON is the object itself (YAML converted as kubectl converts it).
	JSON []byte
}

// Where is "file:line".
func (o Object) Where() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// Decode unmarshals the object into v (a typed API object).
func (o Object) Decode(v any) error {
	if err := json.Unmarshal(o.JSON, v); err != nil {
		return &Error{File: o.File, Line: o.Line, Err: fmt.Errorf("decode %s %s: %w", o.Kind, o.Name, err)}
	}
	return nil
}

// Error is input that could not be read, at file:line (line 0: the whole file).
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Reader reads -f arguments.
type Reader struct {
	// Recursive descends into subdirectories (kubectl's -R).
	Recursive bool
	// Stdin is what "-" reads.
	Stdin io.Reader
	// ReadFile reads one file (os.ReadFile when nil; tests replace it).
	ReadFile func(string) ([]byte, error)
}

// Read returns every object of every path in order: paths as given, files of a
// directory in lexical order. A path that matches no manifest is an error, as is
// input that yields no object at all.
func (r *Reader) Read(paths []string) ([]Object, error) {
	var out []Object
	stdinRead := false
	for _, p := range paths {
		if p == "-" {
			if stdinRead {
				return nil, &Error{File: Stdin, Err: errors.New("\"-\" given twice: standard input can be read once")}
			}
			stdinRead = true
			objs, err := r.readStdin()
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		files, err := r.expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := r.readFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	if len(out) == 0 {
		return nil, &Error{File: strings.Join(paths, ", "), Err: errors.New("no objects found")}
	}
	return out, nil
}

func (r *Reader) readStdin() ([]Object, error) {
	if r.Stdin == nil {
		return nil, &Error{File: Stdin, Err: errors.New("no standard input")}
	}
	data, err := io.ReadAll(r.Stdin)
	if err != nil {
		return nil, &Error{File: Stdin, Err: err}
	}
	return Parse(Stdin, data)
}

func (r *Reader) readFile(name string) ([]Object, error) {
	read := r.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(name)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	return Parse(name, data)
}

// expand turns a path into the files it names: itself, or a directory's manifests.
func (r *Reader) expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, &Error{File: p, Err: errors.Unwrap(err)}
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && !r.Recursive {
				return fs.SkipDir
			}
			return nil
		}
		if hasManifestExt(path) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, &Error{File: p, Err: err}
	}
	if len(files) == 0 {
		hint := ""
		if !r.Recursive {
			hint = " (use -R to read subdirectories)"
		}
		return nil, &Error{File: p, Err: fmt.Errorf("no %s files in the directory%s", strings.Join(Extensions, ", "), hint)}
	}
	return files, nil
}

func hasManifestExt(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}

// Parse reads the objects of one file's content; file names them.
func Parse(file string, data []byte) ([]Object, error) {
	docs, err := Split(data)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{File: file, Line: se.Line, Err: errors.New(se.Msg)}
		}
		return nil, &Error{File: file, Err: err}
	}
	var out []Object
	for _, d := range docs {
		js := d.Data
		if !d.JSON {
			js, err = yaml.YAMLToJSON(d.Data)
			if err != nil {
				return nil, &Error{File: file, Line: yamlErrorLine(err, d), Err: fmt.Errorf("invalid YAML: %s", stripLine(err))}
			}
		}
		objs, err := objects(file, d.Line, js)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// head is what every object must have, plus a List's items.
type head struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// objects reads one document: an object, or a List whose items are objects (they
// share the List's line).
func objects(file string, line int, js []byte) ([]Object, error) {
	if t := strings.TrimSpace(string(js)); t == "null" || t == "" {
		return nil, nil // a document that is only "~" or a comment-less empty value
	}
	var h head
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, &Error{File: file, Line: line, Err: fmt.Errorf("not a Kubernetes object: %v", err)}
	}
	if h.Kind == "" {
		return nil, &Error{File: file, Line: line, Err: errors.New("object has no kind")}
	}
	if h.APIVersion == "" {
		return nil, &Error{File: file, Line: line, Err: fmt.Errorf("%s has no apiVersion", h.Kind)}
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		var out []Object
		for _, it := range h.Items {
			objs, err := objects(file, line, it)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	return []Object{{File: file, Line: line, APIVersion: h.APIVersion, Kind: h.Kind,
		Namespace: h.Metadata.Namespace, Name: h.Metadata.Name, JSON: js}}, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlErrorLine maps the document-relative line of a YAML error to the file's.
func yamlErrorLine(err error, d Document) int {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return d.Line
	}
	n, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return d.Line
	}
	// The parser reports an unexpected end one line past the document's last.
	last := d.Offset + bytes.Count(bytes.TrimRight(d.Data, "\r\n"), []byte("\n"))
	return min(max(d.Offset+n-1, d.Line), last)
}

// stripLine drops the converter's prefix and relative line, which Error replaces.
func stripLine(err error) string {
	s := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	s = strings.TrimPrefix(s, "yaml: ")
	return yamlLine.ReplaceAllString(s, "")
}
