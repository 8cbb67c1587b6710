//go:build !openblas || !cgo

package tensor

import (
	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/gonum"
)

// backend is the BLAS built into this binary: pure Go (gonum) without the
// openblas build tag or without cgo. It is fixed at build time and never
// reassigned; it is the one package-level value the design allows here.
var backend blas.BLAS = gonum.Impl{}

// Backend returns the BLAS implementation built into this binary.
func Backend() blas.BLAS { return backend }

// SetThreads sets how many threads the BLAS backend may use.
//
// In this pure-Go build it does nothing: gonum spreads a large product over
// up to runtime.GOMAXPROCS(0) goroutines, so a program bounds the backend's
// threads with GOMAXPROCS.
func SetThreads(n int) { backend.SetThreads(n) }
