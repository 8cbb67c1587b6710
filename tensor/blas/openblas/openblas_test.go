//go:build openblas && cgo

package openblas_test

import (
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/tensor/blas/openblas"
	"github.com/kiln-ml/kiln/tensor/blas/testblas"
)

func TestSgemm(t *testing.T) { testblas.TestSgemm(t, openblas.Impl{}) }

// TestSetThreads checks that SetThreads reaches OpenBLAS, with n < 1
// meaning 1.
func TestSetThreads(t *testing.T) {
	impl := openblas.Impl{}
	for _, tc := range []struct{ set, want int }{{2, 2}, {0, 1}, {-4, 1}, {1, 1}} {
		impl.SetThreads(tc.set)
		if got := impl.Threads(); got != tc.want {
			t.Errorf("after SetThreads(%d): OpenBLAS uses %d threads, want %d", tc.set, got, tc.want)
		}
	}
}

func TestInfo(t *testing.T) {
	impl := openblas.Impl{}
	if !strings.HasPrefix(impl.Config(), "OpenBLAS") || impl.CoreName() == "" {
		t.Errorf("Config() = %q, CoreName() = %q; want an OpenBLAS config and a core name", impl.Config(), impl.CoreName())
	}
	t.Logf("%s; core %s", impl.Config(), impl.CoreName())
}

func BenchmarkSgemm64(b *testing.B)   { testblas.BenchmarkSgemm(b, openblas.Impl{}, 64) }
func BenchmarkSgemm256(b *testing.B)  { testblas.BenchmarkSgemm(b, openblas.Impl{}, 256) }
func BenchmarkSgemm1024(b *testing.B) { testblas.BenchmarkSgemm(b, openblas.Impl{}, 1024) }
