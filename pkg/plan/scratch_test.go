package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCarvedSlicesNeverOverwriteEachOther(t *testing.T) {
	slab := newSlab[int](4)
	a := carve(&slab, 2)
	b := carve(&slab, 2)
	a = append(a, 1, 2)
	b = append(b, 3, 4)
	a = append(a, 5) // past its capacity: reallocated, b keeps its values
	assert.Equal(t, []int{1, 2, 5}, a)
	assert.Equal(t, []int{3, 4}, b)

	c := carve(&slab, 3) // the slab is used up: a new one is started
	c = append(c, 6, 7, 8)
	assert.Equal(t, []int{3, 4}, b)
	assert.Equal(t, []int{6, 7, 8}, c)
	assert.Nil(t, carve(&slab, 0), "nothing to carve is nil, as an empty append leaves it")
}
