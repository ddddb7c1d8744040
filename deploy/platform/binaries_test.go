package platform

import "testing"

func TestBinariesTakeOneOSArchPathEach(t *testing.T) {
	b := Binaries{}
	for _, v := range []string{"linux/amd64=bin/a", "darwin/arm64=bin/b"} {
		if err := b.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if b["linux/amd64"] != "bin/a" || b["darwin/arm64"] != "bin/b" || len(b) != 2 {
		t.Errorf("got %v", b)
	}
	for _, bad := range []string{"linux=bin/a", "linux/amd64", "linux/amd64=", "a/b/c=x"} {
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) is refused", bad)
		}
	}
}
