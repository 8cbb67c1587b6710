//go:build openblas && cgo

// Package openblas is Kiln's BLAS backend over OpenBLAS's cblas_sgemm,
// called through cgo directly on the Go slices' memory (no copies). It is
// built with the build tag openblas and links -lopenblas (Debian's
// libopenblas-dev).
package openblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"unsafe"

	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/internal/gemm"
)

// Impl implements blas.BLAS with OpenBLAS. The zero value is ready to use
// and safe for concurrent calls.
type Impl struct{}

// Name implements blas.BLAS; it returns "openblas".
func (Impl) Name() string { return "openblas" }

// SetThreads implements blas.BLAS through openblas_set_num_threads, which
// sets the thread count of the whole process's OpenBLAS (n < 1 means 1).
// OpenBLAS caps it at the number of threads it was built for (64 in
// Debian's build).
func (Impl) SetThreads(n int) {
	C.openblas_set_num_threads(C.int(max(n, 1)))
}

// Threads returns the number of threads OpenBLAS currently uses.
func (Impl) Threads() int { return int(C.openblas_get_num_threads()) }

// CoreName returns the name of the CPU kernel set OpenBLAS chose at load
// time (for example "Haswell"); the environment variable OPENBLAS_CORETYPE
// overrides its choice.
func (Impl) CoreName() string { return C.GoString(C.openblas_get_corename()) }

// Config returns OpenBLAS's build configuration string.
func (Impl) Config() string { return C.GoString(C.openblas_get_config()) }

// Sgemm implements blas.BLAS. Arguments that do not fit together (a
// negative size, a stride shorter than a row, a slice too short) panic in
// Go before OpenBLAS is called.
func (Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm.Check("openblas", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		// Done in Go: no operand is read, and A and B may be empty slices
		// whose first element does not exist.
		gemm.ScaleC(m, n, beta, c, ldc)
		return
	}
	// Now m, n, k >= 1 and Check has verified that each slice holds its
	// matrix, so &x[0] exists and C reads and writes only inside the slices.
	// The strides are at least the stored row lengths (>= 1), as CBLAS
	// requires. The slices hold no Go pointers, so passing them is allowed;
	// cgo keeps them alive and in place for the call.
	C.cblas_sgemm(C.CblasRowMajor, tr(tA), tr(tB), C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func tr(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}
