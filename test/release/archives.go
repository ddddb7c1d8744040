package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File is one entry of an archive.
type File struct {
	Name string
	Mode os.FileMode
	Data []byte
}

// ReadArchive lists a .tar.gz or .zip's files, in archive order.
func ReadArchive(file string) ([]File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(file, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		var out []File
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, File{Name: f.Name, Mode: f.Mode(), Data: b})
		}
		return out, nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		return nil, fmt.Errorf("%s: the gzip header carries a name %q or time %v", file, gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var out []File
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			return nil, fmt.Errorf("%s: %s is owned by %d:%d (%s:%s), not root", file, h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: h.Name, Mode: os.FileMode(h.Mode).Perm(), Data: b})
	}
}

// Sha256 of a file, lowercase hex.
func Sha256(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// CheckRelease checks a release directory against its manifest: each platform's uri ends
// in an archive of dir whose sha256 is the one written, under uriBase; the archive holds
// bin (executable), LICENSE (equal to license), README.md and kubectl's completion script
// (kubectl_complete-svcmux, .bat on Windows: executable, calling the plugin's __complete);
// checksums.txt lists every archive and the chart with the same sums; and the platforms
// are exactly want.
func CheckRelease(dir, uriBase string, license []byte, want []string) []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	manifestPath := filepath.Join(dir, "krew", "svcmux.yaml")
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return []string{err.Error()}
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return []string{"parse " + manifestPath + ": " + err.Error()}
	}
	errs = append(errs, Validate(manifestPath, m)...)
	sums, err := readChecksums(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		return append(errs, err.Error())
	}
	var got []string
	listed := map[string]bool{}
	for i, p := range m.Spec.Platforms {
		at := fmt.Sprintf("spec.platforms[%d]", i)
		if p.Selector != nil {
			got = append(got, p.Selector.MatchLabels["os"]+"/"+p.Selector.MatchLabels["arch"])
		}
		name := path.Base(p.URI)
		if p.URI != strings.TrimSuffix(uriBase, "/")+"/"+name {
			add("%s.uri %q is not under %s", at, p.URI, uriBase)
		}
		file := filepath.Join(dir, name)
		sum, err := Sha256(file)
		if err != nil {
			add("%s.uri names no built archive: %v", at, err)
			continue
		}
		listed[name] = true
		if sum != p.SHA256 {
			add("%s.sha256 %s, but %s has %s", at, p.SHA256, name, sum)
		}
		if sums[name] != sum {
			add("checksums.txt says %q for %s, which has %s", sums[name], name, sum)
		}
		files, err := ReadArchive(file)
		if err != nil {
			add("%s: %v", name, err)
			continue
		}
		byName := map[string]File{}
		var names []string
		for _, f := range files {
			byName[f.Name] = f
			names = append(names, f.Name)
		}
		if !sort.StringsAreSorted(names) {
			add("%s: entries not sorted: %v", name, names)
		}
		if f, ok := byName["LICENSE"]; !ok {
			add("%s has no LICENSE", name)
		} else if !bytes.Equal(f.Data, license) {
			add("%s: LICENSE is not the repository's", name)
		}
		if _, ok := byName["README.md"]; !ok {
			add("%s has no README.md", name)
		}
		complete := "kubectl_complete-svcmux"
		if p.Selector != nil && p.Selector.MatchLabels["os"] == "windows" {
			complete += ".bat"
		}
		if f, ok := byName[complete]; !ok {
			add("%s has no %s", name, complete)
		} else if f.Mode&0o111 == 0 || !bytes.Contains(f.Data, []byte("kubectl-svcmux")) || !bytes.Contains(f.Data, []byte(" __complete ")) {
			add("%s: %s is not an executable script calling kubectl-svcmux __complete (%v)", name, complete, f.Mode)
		}
		if f, ok := byName[p.Bin]; !ok {
			add("%s has no %s (the manifest's bin)", name, p.Bin)
		} else if f.Mode&0o111 == 0 {
			add("%s: %s is not executable (%v)", name, p.Bin, f.Mode)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		add("platforms %v, want %v", got, want)
	}
	for name := range sums {
		if !listed[name] && !strings.HasSuffix(name, ".tgz") {
			add("checksums.txt lists %s, which the manifest does not", name)
		}
	}
	return errs
}

func readChecksums(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			return nil, fmt.Errorf("checksums.txt: line %q is not `<sha256>  <file>`", line)
		}
		out[name] = sum
	}
	return out, nil
}
