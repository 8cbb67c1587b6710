package gonum_test

import (
	"testing"

	"github.com/kiln-ml/kiln/tensor/blas/gonum"
	"github.com/kiln-ml/kiln/tensor/blas/testblas"
)

func TestSgemm(t *testing.T) { testblas.TestSgemm(t, gonum.Impl{}) }

func BenchmarkSgemm64(b *testing.B)   { testblas.BenchmarkSgemm(b, gonum.Impl{}, 64) }
func BenchmarkSgemm256(b *testing.B)  { testblas.BenchmarkSgemm(b, gonum.Impl{}, 256) }
func BenchmarkSgemm1024(b *testing.B) { testblas.BenchmarkSgemm(b, gonum.Impl{}, 1024) }
