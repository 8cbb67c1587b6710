package tensor

import (
	"fmt"
	"math"
)

// SumAll returns the sum of every value of t, accumulated in float64.
func SumAll(t *Tensor) float32 {
	var s float64
	for _, v := range t.Data {
		s += float64(v)
	}
	return float32(s)
}

// splitAxis returns the sizes before, along and after axis.
func splitAxis(shape []int, axis int, op string) (outer, n, inner int) {
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		panic(fmt.Sprintf("tensor.%s: axis out of range for shape %v", op, shape))
	}
	outer, inner = 1, 1
	for i := 0; i < axis; i++ {
		outer *= shape[i]
	}
	for i := axis + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return outer, shape[axis], inner
}

func reducedShape(shape []int, axis int, keepDim bool) []int {
	if axis < 0 {
		axis += len(shape)
	}
	out := make([]int, 0, len(shape))
	for i, d := range shape {
		if i == axis {
			if keepDim {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

// Sum returns the sum of t along axis (negative counts from the end). With
// keepDim the reduced axis stays as size 1.
func Sum(t *Tensor, axis int, keepDim bool) *Tensor {
	outer, n, inner := splitAxis(t.Shape, axis, "Sum")
	out := New(reducedShape(t.Shape, axis, keepDim)...)
	for o := 0; o < outer; o++ {
		dst := out.Data[o*inner : (o+1)*inner]
		for i := 0; i < n; i++ {
			src := t.Data[(o*n+i)*inner : (o*n+i+1)*inner]
			for j, v := range src {
				dst[j] += v
			}
		}
	}
	return out
}

// Mean returns the mean of t along axis.
func Mean(t *Tensor, axis int, keepDim bool) *Tensor {
	s := Sum(t, axis, keepDim)
	_, n, _ := splitAxis(t.Shape, axis, "Mean")
	inv := 1 / float32(n)
	for i := range s.Data {
		s.Data[i] *= inv
	}
	return s
}

// Max returns the maximum of t along axis.
func Max(t *Tensor, axis int, keepDim bool) *Tensor {
	outer, n, inner := splitAxis(t.Shape, axis, "Max")
	out := New(reducedShape(t.Shape, axis, keepDim)...)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			m := float32(math.Inf(-1))
			for i := 0; i < n; i++ {
				if v := t.Data[(o*n+i)*inner+j]; v > m || v != v {
					m = v
				}
			}
			out.Data[o*inner+j] = m
		}
	}
	return out
}

// ArgMaxRows returns, for a 2-D tensor, the column index of each row's
// largest value (the first one on ties).
func ArgMaxRows(t *Tensor) []int {
	if len(t.Shape) != 2 {
		panic(fmt.Sprintf("tensor.ArgMaxRows: shape %v, want 2-D", t.Shape))
	}
	rows, cols := t.Shape[0], t.Shape[1]
	out := make([]int, rows)
	for r := 0; r < rows; r++ {
		row := t.Data[r*cols : (r+1)*cols]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[r] = best
	}
	return out
}
