package world

import "testing"

// The vectors were computed outside Go, by hand:
//
//	printf 'app/api/http' | sha256sum | cut -c1-7
//
// so the helper is checked against the contract's definition, not against
// itself or the product's code.
func TestPortNameIsTheFirstSevenHexOfSHA256OfNamespaceServicePort(t *testing.T) {
	for _, tt := range []struct {
		namespace, service, port, want string
	}{
		{"app", "api", "http", "bcaefde"},
		{"default", "web", "https", "1469857"},
		{"e2e-ns", "dns", "dns-udp", "9f4a362"},
		{"team-a", "a-very-long-service-name", "metrics", "9139bfb"},
	} {
		if got := PortName(tt.namespace, tt.service, tt.port); got != tt.want {
			t.Errorf("PortName(%q, %q, %q) = %q, want %q", tt.namespace, tt.service, tt.port, got, tt.want)
		}
	}
}
