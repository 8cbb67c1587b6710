//go:build !openblas || !cgo

package tensor

import (
	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/gonum"
)

// backend is the BLAS built into this binary: pure Go (gonum) without the
// openblas build tag. It is fixed at build time and never reassigned.
var backend blas.BLAS = gonum.Impl{}

// Backend returns the BLAS implementation built into this binary.
func Backend() blas.BLAS { return backend }

// SetThreads sets how many threads the BLAS backend may use.
func SetThreads(n int) { backend.SetThreads(n) }
