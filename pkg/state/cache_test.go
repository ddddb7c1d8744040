package state

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCache(t *testing.T) {
	raw := `{"portClaims":[{"namespace":"app","service":"api","portName":"http","protocol":"TCP","muxPort":20000,"port":20000,"source":"auto"}]}`
	t.Run("the same document decodes once and gives the same claims", func(t *testing.T) {
		c := NewCache()
		a, err := c.Decode("ns/cm", raw)
		require.NoError(t, err)
		b, err := c.Decode("ns/cm", raw)
		require.NoError(t, err)
		require.Len(t, a.Claims, 1)
		assert.Same(t, &a.Claims[0], &b.Claims[0], "the second call reuses the first decode")
	})
	t.Run("a changed document is decoded again", func(t *testing.T) {
		c := NewCache()
		_, err := c.Decode("ns/cm", raw)
		require.NoError(t, err)
		doc, err := c.Decode("ns/cm", "")
		require.NoError(t, err)
		assert.Empty(t, doc.Claims)
	})
	t.Run("an invalid document keeps its error and a forgotten key decodes anew", func(t *testing.T) {
		c := NewCache()
		_, err := c.Decode("ns/cm", "{bad")
		require.Error(t, err)
		_, err = c.Decode("ns/cm", "{bad")
		require.Error(t, err)
		c.Forget("ns/cm")
		doc, err := c.Decode("ns/cm", raw)
		require.NoError(t, err)
		assert.Len(t, doc.Claims, 1)
	})
}
