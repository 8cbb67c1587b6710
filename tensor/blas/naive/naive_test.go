package naive_test

import (
	"testing"

	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/naive"
	"github.com/kiln-ml/kiln/tensor/blas/testblas"
)

// TestSgemmLiterals pins the reference to products worked out by hand, so
// that the shared suite does not only compare naive with itself.
func TestSgemmLiterals(t *testing.T) {
	// A = [1 2 3; 4 5 6] (2×3), B = [7 8; 9 10; 11 12] (3×2):
	// A·B = [58 64; 139 154].
	a := []float32{1, 2, 3, 4, 5, 6}
	aT := []float32{1, 4, 2, 5, 3, 6} // Aᵀ stored (3×2)
	b := []float32{7, 8, 9, 10, 11, 12}
	bT := []float32{7, 9, 11, 8, 10, 12} // Bᵀ stored (2×3)
	ab := []float32{58, 64, 139, 154}
	for _, tc := range []struct {
		name     string
		tA, tB   blas.Transpose
		a        []float32
		lda      int
		b        []float32
		ldb      int
		alpha    float32
		beta     float32
		c, wantC []float32
		ldc      int
	}{
		{"NN", blas.NoTrans, blas.NoTrans, a, 3, b, 2, 1, 0, []float32{nan(), nan(), nan(), nan()}, ab, 2},
		{"TN", blas.Trans, blas.NoTrans, aT, 2, b, 2, 1, 0, make([]float32, 4), ab, 2},
		{"NT", blas.NoTrans, blas.Trans, a, 3, bT, 3, 1, 0, make([]float32, 4), ab, 2},
		{"TT", blas.Trans, blas.Trans, aT, 2, bT, 3, 1, 0, make([]float32, 4), ab, 2},
		{"alpha beta", blas.NoTrans, blas.NoTrans, a, 3, b, 2, 2, -1, []float32{1, 2, 3, 4}, []float32{115, 126, 275, 304}, 2},
		{"padded C", blas.NoTrans, blas.NoTrans, a, 3, b, 2, 1, 1, []float32{1, 1, -9, 1, 1, -9}, []float32{59, 65, -9, 140, 155, -9}, 3},
		{"padded A", blas.NoTrans, blas.NoTrans, []float32{1, 2, 3, nan(), 4, 5, 6}, 4, b, 2, 1, 0, make([]float32, 4), ab, 2},
		{"k=0", blas.NoTrans, blas.NoTrans, nil, 0, nil, 2, 1, 3, []float32{1, 2, 3, 4}, []float32{3, 6, 9, 12}, 2},
	} {
		c := append([]float32{}, tc.c...)
		m, n, k := 2, 2, 3
		if tc.name == "k=0" {
			k = 0
		}
		naive.Impl{}.Sgemm(tc.tA, tc.tB, m, n, k, tc.alpha, tc.a, tc.lda, tc.b, tc.ldb, tc.beta, c, tc.ldc)
		for i := range c {
			if c[i] != tc.wantC[i] {
				t.Errorf("%s: C = %v, want %v", tc.name, c, tc.wantC)
				break
			}
		}
	}
}

func nan() float32 {
	var zero float32
	return zero / zero
}

func TestSgemm(t *testing.T) { testblas.TestSgemm(t, naive.Impl{}) }

func BenchmarkSgemm64(b *testing.B)   { testblas.BenchmarkSgemm(b, naive.Impl{}, 64) }
func BenchmarkSgemm256(b *testing.B)  { testblas.BenchmarkSgemm(b, naive.Impl{}, 256) }
func BenchmarkSgemm1024(b *testing.B) { testblas.BenchmarkSgemm(b, naive.Impl{}, 1024) }
