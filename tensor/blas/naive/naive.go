// Package naive is the reference BLAS: a plain triple loop that every
// faster backend is tested against.
package naive

import "github.com/kiln-ml/kiln/tensor/blas"

// Impl is the reference implementation of blas.BLAS. It accumulates each
// dot product in float64, so it is more accurate than the fast backends.
type Impl struct{}

// Name implements blas.BLAS.
func (Impl) Name() string { return "naive" }

// SetThreads implements blas.BLAS; the reference is single-threaded.
func (Impl) SetThreads(int) {}

// Sgemm implements blas.BLAS.
func (Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var x, y float32
				if tA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if tB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += float64(x) * float64(y)
			}
			v := float32(float64(alpha) * s)
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}
