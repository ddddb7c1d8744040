package state

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The planner hands Encode claims that are already sorted and defaulted; Encode
// then skips normalising them. These tests pin that the shortcut changes no byte.

func TestCompareKeysOrdersLikeTheJoinedKeyStrings(t *testing.T) {
	claims := []Claim{
		claim("app", "api", "http", "TCP", 0, 0, ""),
		claim("app-x", "api", "http", "TCP", 0, 0, ""), // '-' sorts before ':'
		claim("app", "api-x", "http", "TCP", 0, 0, ""),
		claim("app", "api", "http2", "TCP", 0, 0, ""),
		claim("app", "api", "", "TCP", 0, 0, ""),
		claim("", "", "", "UDP", 0, 0, ""),
		claim("app", "api", "http", "", 0, 0, ""), // the empty protocol counts as TCP
		claim("a:pp", "api", "http", "TCP", 0, 0, ""),
		claim("a", "pp:api", "http", "TCP", 0, 0, ""),
	}
	sign := func(n int) int { return max(-1, min(1, n)) }
	for i := range claims {
		for j := range claims {
			a, b := claims[i], claims[j]
			t.Run(fmt.Sprintf("%s vs %s", a.Key(), b.Key()), func(t *testing.T) {
				assert.Equal(t, strings.Compare(a.Key(), b.Key()), sign(compareKeys(&a, &b)))
			})
		}
	}
}

func TestEncodeTakesTheShortcutOnlyForNormalisedClaims(t *testing.T) {
	sorted := []Claim{
		claim("app-x", "api", "http", "TCP", 8080, 8080, SourceStatic),
		claim("app", "api", "grpc", "TCP", 9090, 20001, SourceAuto),
		claim("app", "web", "http", "TCP", 80, 80, SourceStatic),
		claim("app", "dns", "dns", "UDP", 53, 20000, SourceAuto),
	}
	tests := []struct {
		name       string
		claims     []Claim
		normalized bool
	}{
		{"sorted claims with every default set are normalised", sorted, true},
		{"no claims are normalised", nil, true},
		{"claims out of order are not", []Claim{sorted[1], sorted[0]}, false},
		{"a key twice is not", []Claim{sorted[0], sorted[0]}, false},
		{"an empty protocol is not", []Claim{claim("app", "web", "http", "", 80, 80, SourceStatic)}, false},
		{"an empty source is not", []Claim{claim("app", "web", "http", "TCP", 80, 80, "")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.normalized, isNormalized(tt.claims))
			doc := Document{Mux: testMux, Claims: tt.claims}
			assert.Equal(t, slowEncode(doc), doc.Encode())
		})
	}
	t.Run("the claims.json document encodes the same through either path", func(t *testing.T) {
		assert.Equal(t, golden(t, "claims.json"), Document{Mux: testMux, Claims: sorted}.Encode())
	})
}

// slowEncode encodes what normalizeClaims makes of the claims: Encode's output must
// not depend on whether its input was normalised already.
func slowEncode(d Document) string {
	d.Claims = normalizeClaims(d.Claims)
	return d.Encode()
}
