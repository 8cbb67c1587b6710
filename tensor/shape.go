package tensor

import "fmt"

// Transpose returns a new tensor with t's dimensions permuted: output
// dimension i is input dimension perm[i]. With no perm it reverses the
// dimensions (a matrix transpose for 2-D tensors).
func Transpose(t *Tensor, perm ...int) *Tensor {
	nd := len(t.Shape)
	if len(perm) == 0 {
		perm = make([]int, nd)
		for i := range perm {
			perm[i] = nd - 1 - i
		}
	}
	if len(perm) != nd {
		panic(fmt.Sprintf("tensor.Transpose: permutation %v for shape %v", perm, t.Shape))
	}
	seen := make([]bool, nd)
	shape := make([]int, nd)
	for i, p := range perm {
		if p < 0 || p >= nd || seen[p] {
			panic(fmt.Sprintf("tensor.Transpose: %v is not a permutation of %d dimensions", perm, nd))
		}
		seen[p] = true
		shape[i] = t.Shape[p]
	}
	out := New(shape...)
	if nd == 2 && perm[0] == 1 {
		transpose2D(out.Data, t.Data, t.Shape[0], t.Shape[1])
		return out
	}
	// Input strides, reordered to the output's dimension order.
	in := make([]int, nd)
	s := 1
	for i := nd - 1; i >= 0; i-- {
		in[i] = s
		s *= t.Shape[i]
	}
	st := make([]int, nd)
	for i, p := range perm {
		st[i] = in[p]
	}
	idx := make([]int, nd)
	src := 0
	for i := range out.Data {
		out.Data[i] = t.Data[src]
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			src += st[d]
			if idx[d] < shape[d] {
				break
			}
			src -= st[d] * shape[d]
			idx[d] = 0
		}
	}
	return out
}

// transpose2D writes the transpose of the r×c matrix src into dst (c×r),
// in cache-sized tiles.
func transpose2D(dst, src []float32, r, c int) {
	const tile = 32
	for i0 := 0; i0 < r; i0 += tile {
		i1 := min(i0+tile, r)
		for j0 := 0; j0 < c; j0 += tile {
			j1 := min(j0+tile, c)
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					dst[j*r+i] = src[i*c+j]
				}
			}
		}
	}
}

// Concat joins tensors along axis; all other dimensions must agree.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor.Concat: no tensors")
	}
	first := ts[0].Shape
	if axis < 0 {
		axis += len(first)
	}
	shape := cloneInts(first)
	shape[axis] = 0
	for _, t := range ts {
		if len(t.Shape) != len(first) {
			panic(fmt.Sprintf("tensor.Concat: shapes %v and %v", first, t.Shape))
		}
		for d := range first {
			if d != axis && t.Shape[d] != first[d] {
				panic(fmt.Sprintf("tensor.Concat: shapes %v and %v differ outside axis %d", first, t.Shape, axis))
			}
		}
		shape[axis] += t.Shape[axis]
	}
	out := New(shape...)
	outer, _, inner := splitAxis(shape, axis, "Concat")
	off := 0
	for o := 0; o < outer; o++ {
		for _, t := range ts {
			n := t.Shape[axis] * inner
			copy(out.Data[off:off+n], t.Data[o*n:(o+1)*n])
			off += n
		}
	}
	return out
}

// Slice returns a copy of t restricted to [start, end) along axis.
func Slice(t *Tensor, axis, start, end int) *Tensor {
	outer, n, inner := splitAxis(t.Shape, axis, "Slice")
	if start < 0 || end > n || start > end {
		panic(fmt.Sprintf("tensor.Slice: [%d,%d) out of range for dimension of size %d in %v", start, end, n, t.Shape))
	}
	if axis < 0 {
		axis += len(t.Shape)
	}
	shape := cloneInts(t.Shape)
	shape[axis] = end - start
	out := New(shape...)
	w := (end - start) * inner
	for o := 0; o < outer; o++ {
		copy(out.Data[o*w:(o+1)*w], t.Data[(o*n+start)*inner:(o*n+end)*inner])
	}
	return out
}
