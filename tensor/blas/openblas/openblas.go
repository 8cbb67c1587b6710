//go:build openblas && cgo

// Package openblas is Kiln's BLAS backend over OpenBLAS's cblas_sgemm,
// called through cgo directly on the Go slices' memory (no copies). It is
// built with the build tag openblas.
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
*/
import "C"

import (
	"unsafe"

	"github.com/kiln-ml/kiln/tensor/blas"
)

// Impl implements blas.BLAS with OpenBLAS.
type Impl struct{}

// Name implements blas.BLAS.
func (Impl) Name() string { return "openblas" }

// SetThreads implements blas.BLAS through openblas_set_num_threads.
func (Impl) SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	C.openblas_set_num_threads(C.int(n))
}

func tr(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

// Sgemm implements blas.BLAS.
func (Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for r := 0; r < m; r++ {
			row := c[r*ldc : r*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	// Bounds: touch the last element each operand uses, so that a short
	// slice panics in Go instead of letting C read past it.
	ra, ca := m, k
	if tA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if tB {
		rb, cb = n, k
	}
	_ = a[(ra-1)*lda+ca-1]
	_ = b[(rb-1)*ldb+cb-1]
	_ = c[(m-1)*ldc+n-1]
	C.cblas_sgemm(C.CblasRowMajor, tr(tA), tr(tB), C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
