package api

import (
	"fmt"
	"regexp"
	"strings"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// MuxRef names a mux Service.
type MuxRef struct {
	Namespace string
	Name      string
}

// String is "namespace/name", the form used in annotations and messages.
func (r MuxRef) String() string { return r.Namespace + "/" + r.Name }

// IsChannelClass reports whether a loadBalancerClass belongs to svcmux under keys' prefix.
func (k Keys) IsChannelClass(class string) bool {
	return strings.HasPrefix(class, k.ClassPrefix())
}

// ParseClass resolves "<prefix>/<mux>[.<namespace>]" to the mux it names; without a
// namespace part the mux lives in defaultNamespace. The error says what form is expected.
func (k Keys) ParseClass(class, defaultNamespace string) (MuxRef, error) {
	expected := k.ClassPrefix() + "<mux-name>[.<mux-namespace>]"
	if !k.IsChannelClass(class) {
		return MuxRef{}, fmt.Errorf("loadBalancerClass %q does not start with %q; expected %s", class, k.ClassPrefix(), expected)
	}
	parts := strings.Split(strings.TrimPrefix(class, k.ClassPrefix()), ".")
	ref := MuxRef{Name: parts[0], Namespace: defaultNamespace}
	switch len(parts) {
	case 1:
	case 2:
		ref.Namespace = parts[1]
	default:
		return MuxRef{}, fmt.Errorf("loadBalancerClass %q has %d dot-separated parts; expected %s", class, len(parts), expected)
	}
	if !IsDNSLabel(ref.Name) {
		return MuxRef{}, fmt.Errorf("loadBalancerClass %q: mux name %q is not a DNS label; expected %s", class, ref.Name, expected)
	}
	if !IsDNSLabel(ref.Namespace) {
		return MuxRef{}, fmt.Errorf("loadBalancerClass %q: mux namespace %q is not a DNS label; expected %s", class, ref.Namespace, expected)
	}
	return ref, nil
}

// IsDNSLabel is RFC 1123 label syntax, at most 63 characters.
func IsDNSLabel(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }
