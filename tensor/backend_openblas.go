//go:build openblas && cgo

package tensor

import (
	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/openblas"
)

// backend is the BLAS built into this binary: OpenBLAS, with the openblas
// build tag and cgo. It is fixed at build time and never reassigned; it is
// the one package-level value the design allows here.
var backend blas.BLAS = openblas.Impl{}

// Backend returns the BLAS implementation built into this binary.
func Backend() blas.BLAS { return backend }

// SetThreads sets how many threads the BLAS backend may use.
//
// In this build it calls openblas_set_num_threads, which applies to every
// OpenBLAS call in the process; n < 1 means 1.
func SetThreads(n int) { backend.SetThreads(n) }
