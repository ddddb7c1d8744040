// Package platform holds what the image and release builders share: the
// repeatable -binary os/arch=path flag naming one prebuilt binary per platform.
package platform

import (
	"fmt"
	"strings"
)

// Binaries maps "os/arch" to the path of that platform's binary; as a flag.Value
// each -binary os/arch=path adds one.
type Binaries map[string]string

func (b Binaries) String() string { return fmt.Sprint(map[string]string(b)) }

// Set adds one "os/arch=path".
func (b Binaries) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	if !ok || strings.Count(platform, "/") != 1 || path == "" {
		return fmt.Errorf("want os/arch=path, got %q", v)
	}
	b[platform] = path
	return nil
}
